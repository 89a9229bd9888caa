"""Screening before grading: empty, gibberish, over-long and grader-instructing answers. No model calls."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pydantic import BaseModel, Field

# Sentences that address the grader rather than the question. Removed before grading so they can gain nothing.
_INJECTION = re.compile(
    r"(ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,60}\b(instruction|rubric|rule|prompt|previous|above|grading|"
    r"criteria|guideline|system)"
    r"|\b(give|award|assign|grade|score|rate|mark)\b[^.!?\n]{0,40}\b(5|five|full marks?|maximum|max|perfect|100\s*%|"
    r"top (score|marks?)|highest)\b"
    r"|\b(you are|act as|pretend (to be|you are)|you're now|you are now)\b[^.!?\n]{0,40}\b(grader|examiner|assistant|ai|"
    r"model|judge|dan|jailbroken)\b"
    r"|\b(system|developer)\s*(prompt|message|override|note)\b|<\|?/?(system|im_start|im_end|assistant)\|?>"
    r"|\bas an ai\b|\bthis answer (is|deserves|should (get|receive))\b[^.!?\n]{0,40}\b(correct|perfect|5|full|excellent)"
    r"|\b(grader|examiner|evaluator|judge)\s*[:,]"
    r"|\"?(key_points|correctness|depth|clarity)\"?\s*:\s*(\[|\"?\d)",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


class Screened(BaseModel):
    text: str
    flags: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def is_void(self) -> bool:
        return bool({"empty", "gibberish"} & set(self.flags))


def normalise(text: str) -> str:
    """NFKC (full-width letters, ligatures), drop control/format characters (zero-width, bidi), keep newlines and tabs."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


@lru_cache(maxsize=1)
def _vocab() -> frozenset[str]:
    from interviewer.embeddings import get_embedder

    return frozenset(get_embedder()._tok.get_vocab())


def _wordlike(word: str, vocab: frozenset[str]) -> bool:
    """In the WordPiece vocabulary, or made of a real-looking stem plus few pieces ("drop"+"##out")."""
    if word in vocab or len(word) <= 2:
        return word in vocab
    for cut in range(len(word) - 1, 2, -1):
        if word[:cut] in vocab:
            rest = word[cut:]
            return len(rest) <= 2 or f"##{rest}" in vocab or rest in vocab or _wordlike(rest, vocab)
    return False


def looks_like_gibberish(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words:
        return not re.search(r"\d", text)  # punctuation only
    if len(" ".join(words)) > 400:
        return False  # long texts are judged by the grader, not by this heuristic
    vocab = _vocab()
    known = sum(1 for w in words if _wordlike(w, vocab))
    return known / len(words) < 0.5


def strip_injections(text: str) -> tuple[str, int]:
    kept, removed = [], 0
    for sentence in _SENTENCES.split(text):
        if _INJECTION.search(sentence):
            removed += 1
        else:
            kept.append(sentence)
    return " ".join(s for s in kept if s.strip()), removed


def screen(answer: str | None, max_chars: int = 4000) -> Screened:
    text = normalise(answer or "")
    flags, notes = [], []
    if not text:
        return Screened(text="", flags=["empty"], notes=["The answer was empty: nothing to grade."])
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0]
        flags.append("truncated")
        notes.append(f"The answer was longer than {max_chars} characters; only the first {len(text)} were graded.")
    text, removed = strip_injections(text)
    if removed:
        flags.append("injection")
        notes.append(f"{removed} sentence(s) addressed the grader instead of the question; they were ignored.")
    if not text.strip():
        flags.append("empty")
        notes.append("Nothing but instructions to the grader: nothing to grade.")
    elif looks_like_gibberish(text):
        flags.append("gibberish")
        notes.append("The answer does not read as language: nothing to grade.")
    return Screened(text=text, flags=flags, notes=notes)
