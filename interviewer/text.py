"""Text helpers shared by the grader, the screen, the interview's leak check, the eval probes and the toy model."""

from __future__ import annotations

import re

# A sentence ends at . ! ? followed by space, at a CJK full stop (no space follows those), or at a line break; with
# `semicolons`, also at ; (finer pieces: a quote for a key point can then be one clause of a long sentence).
_END = r"(?<=[.!?])\s+|(?<=[。！？；])\s*|\n+"
_SENTENCE_END = re.compile(_END)
_CLAUSE_END = re.compile(r"(?<=;)\s+|" + _END)


def sentences(text: str, *, semicolons: bool = False) -> list[str]:
    """The non-empty sentences of `text`, stripped, in order."""
    pattern = _CLAUSE_END if semicolons else _SENTENCE_END
    return [s.strip() for s in pattern.split(text or "") if s and s.strip()]


STOP_WORDS = frozenset("the a an of to in and or is are be for on with by as that this it its from at which can into "
                       "than then their they them how what why when does do you your about more each also not but"
                       .split())


def content_words(text: str) -> list[str]:
    """The words that carry meaning (longer than two letters, not stop words), lower-cased, in order."""
    return [w for w in re.findall(r"[a-z0-9]+", (text or "").lower()) if len(w) > 2 and w not in STOP_WORDS]
