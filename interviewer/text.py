"""Text helpers shared by the grader, the screen, the interview's leak check, the eval probes and the toy model."""

from __future__ import annotations

import re
from functools import lru_cache

# A sentence ends at . ! ? followed by space, at a CJK full stop (no space follows those), or at a line break. Callers
# that want finer pieces name more ends: ";" gives clauses (a quote for a key point can be one clause of a long
# sentence), ";:" the pieces that chunks are packed from.
SENTENCE_ENDS = ".!?"
CLAUSE_ENDS = ";"
_CJK_ENDS = "。！？；"


def word_cut(text: str, max_chars: int) -> str:
    """The start of `text` up to `max_chars`, ending before the last space in it (no word cut in half)."""
    return text[:max_chars].rsplit(" ", 1)[0]


@lru_cache(maxsize=8)
def _pattern(also_at: str) -> re.Pattern:
    return re.compile(rf"(?<=[{re.escape(SENTENCE_ENDS + also_at)}])\s+|(?<=[{_CJK_ENDS}])\s*|\n+")


def sentences(text: str, *, also_at: str = "") -> list[str]:
    """The non-empty sentences of `text`, stripped, in order; `also_at` adds characters that end a piece."""
    return [s.strip() for s in _pattern(also_at).split(text or "") if s and s.strip()]


STOP_WORDS = frozenset("the a an of to in and or is are be for on with by as that this it its from at which can into "
                       "than then their they them how what why when does do you your about more each also not but"
                       .split())


def content_words(text: str) -> list[str]:
    """The words that carry meaning (longer than two letters, not stop words), lower-cased, in order."""
    return [w for w in re.findall(r"[a-z0-9]+", (text or "").lower()) if len(w) > 2 and w not in STOP_WORDS]


# What Markdown (and Streamlit's flavour of it) reads as markup in running text: links and images, inline HTML and
# autolinks, emphasis, code, headings, tables, strike-through, maths. A backslash before any ASCII punctuation is
# CommonMark's escape, so the text shows as typed.
_MARKUP = re.compile(r"([\\`*_\[\]<>!#|~$])")


def escape_markdown(text: str) -> str:
    """Someone's own words drawn as Markdown but shown as typed: `![](http://host/p.png)` stays text, so opening a
    report never makes the reader's browser fetch an address the writer chose. Line breaks are kept."""
    return _MARKUP.sub(r"\\\1", text or "").replace("\n", "  \n")


def without_images(text: str) -> str:
    """Markdown whose images are shown as text: for lines that are ours but may quote the candidate (a follow-up, a
    grader's feedback), whose other formatting is wanted."""
    return (text or "").replace("![", "!\\[")
