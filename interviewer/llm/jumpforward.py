"""Jump-forward planning: which text a GBNF grammar forces next. Pure string work, importable without llama_cpp.

`forced_plan` reads the root rule's leading fixed shape once per grammar; `forced_text` says, given what has been
generated, what the grammar leaves only one way to write next. `interviewer.llm.llamaserve` hands that text to the
model as a draft, read in one batch.
"""

from __future__ import annotations

import json
import re

_GBNF_PART = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\][?*+]?|[^\s"\[]+')
MAX_DRAFT = 16


def forced_plan(grammar: str) -> list[str | None]:
    """The root rule's leading plain sequence: literals (str) and one character of a class (None). It ends at the
    first rule name, group, alternative or repeated class, where the way on is no longer a fixed shape."""
    m = re.search(r"^root\s*::=(.*)$", grammar, re.M)
    plan: list[str | None] = []
    for part in _GBNF_PART.findall(m.group(1)) if m else []:
        if part.startswith('"'):
            try:
                plan.append(json.loads(part))  # our literals are JSON strings; anything else ends the plan
            except ValueError:
                break
        elif part.startswith("[") and part.endswith("]"):
            plan.append(None)
        else:
            break
    return plan


def forced_text(plan: list[str | None], text: str) -> str | None:
    """What the grammar forces after `text`: "" where the model chooses next, None once past the plan or off it.

    A draft stops before a literal that opens a new line, so that what precedes it (the judge's closing brace) reaches
    the client without waiting for the batch after it.
    """
    i = 0
    for k, part in enumerate(plan):
        if part is None:
            if i >= len(text):
                return ""
            i += 1
            continue
        rest = text[i:]
        if len(rest) >= len(part):
            if not rest.startswith(part):
                return None
            i += len(part)
            continue
        if not part.startswith(rest):
            return None
        out = part[len(rest):]
        for nxt in plan[k + 1:]:
            if nxt is None or nxt.startswith("\n"):
                break
            out += nxt
        return out
    return None


def grammar_pattern(grammar: str) -> re.Pattern | None:
    """A regular expression for a grammar whose root is a plain sequence of literals and character classes (the judge's
    grammar is one); None for anything richer (rule names, groups, alternatives), where no pattern is claimed."""
    m = re.search(r"^root\s*::=(.*)$", grammar, re.M)
    if not m:
        return None
    pieces = []
    for part in _GBNF_PART.findall(m.group(1)):
        if part.startswith('"'):
            try:
                pieces.append(re.escape(json.loads(part)))
            except ValueError:
                return None
        elif part.startswith("["):
            pieces.append(part)  # a GBNF class, with its repetition, reads the same as a regex class
        else:
            return None
    return re.compile("".join(pieces), re.S)
