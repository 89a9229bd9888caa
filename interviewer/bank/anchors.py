"""Anchors: graded answers to a bank question, the material the grade is read against.

A 1.5B judge reading one answer against one reference has a ceiling; graded answers to the *same* question move the
grade a lot (nearest graded neighbours alone reach Mohler r 0.65). So every bank question carries graded answers at
the rubric's levels, written as candidates say them: the reference (5, taken from the bank, not written twice), a
complete but plain answer (4), a terse one that gets the core right (3), a partial one (2), a vague on-topic one and a
fluent padded one with no correct content (0-1), and at least two common misconceptions (0-1), each with the wrong
claim in one sentence and its correction. People's grades join them later (an instructor's review, a labelled file):
those live in the sessions database, not here.

Files: `interviewer/resources/knowledge/anchors/*.yaml`, a mapping from question id to its list of anchors.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from interviewer.bank.bank import Bank, BankError, Question

Level = Literal["reference", "complete", "terse", "partial", "vague", "padded", "misconception", "graded"]
Source = Literal["reference", "authored", "instructor", "file"]

# The score each authored level must carry (inclusive), from the rubric: 4 most key points, 3 the core or about half,
# 2 a few correct ideas with large gaps, 0-1 barely relevant, filler, or a confident wrong claim.
LEVEL_SCORES: dict[str, tuple[float, float]] = {
    "reference": (5.0, 5.0),
    "complete": (3.5, 4.5),
    "terse": (2.5, 3.5),
    "partial": (1.5, 2.5),
    "vague": (0.0, 1.0),
    "padded": (0.0, 1.0),
    "misconception": (0.0, 1.0),
    "graded": (0.0, 5.0),
}
# What every bank question must have among its authored anchors (the reference comes from the bank).
REQUIRED_LEVELS: dict[str, int] = {"complete": 1, "terse": 1, "partial": 1, "vague": 1, "misconception": 2}
MIN_ANCHORS = 7  # the reference included


class Anchor(BaseModel):
    """One graded answer to one question."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question_id: str
    text: str = Field(min_length=1)
    score: float = Field(ge=0.0, le=5.0, description="0-5, on the rubric's scale")
    level: Level = "graded"
    rationale: str = Field(default="", description="one line: which key points it makes or misses, and why")
    claim: str | None = Field(default=None, description="a misconception's wrong claim, in one sentence")
    correction: str | None = Field(default=None, description="a misconception's correction, in one sentence")
    source: Source = "authored"
    author: str | None = Field(default=None, description="who graded it (an instructor's name, a file's path)")
    created: str | None = Field(default=None, description="when it was graded (ISO 8601), for people's grades")

    @field_validator("text", "rationale")
    @classmethod
    def _strip(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _level_fits(self) -> "Anchor":
        low, high = LEVEL_SCORES[self.level]
        if not low <= self.score <= high:
            raise ValueError(f"a {self.level} anchor scores {low:g}-{high:g}, not {self.score:g}")
        if self.level == "misconception" and not (self.claim and self.correction):
            raise ValueError("a misconception anchor needs its claim and its correction, one sentence each")
        return self

    @property
    def key(self) -> str:
        """Stable identity: the question, the text and the score (a regrade of the same text is a new anchor)."""
        raw = f"{self.question_id}\x1f{self.text}\x1f{self.score:g}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def text_id(self) -> str:
        """The answer's identity whatever grade it got: what its vector and the grader's own score are kept by."""
        return hashlib.sha256(f"{self.question_id}\x1f{self.text}".encode()).hexdigest()[:16]


class _AuthoredAnchor(BaseModel):
    """An entry as written in a YAML file (the question id is the mapping's key)."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["complete", "terse", "partial", "vague", "padded", "misconception"]
    score: float
    text: str
    rationale: str = Field(min_length=5)
    claim: str | None = None
    correction: str | None = None


def reference_anchor(question: Question) -> Anchor:
    return Anchor(question_id=question.id, text=question.reference_answer, score=5.0, level="reference",
                  rationale="the bank's reference answer: every key point, with reasoning", source="reference")


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise BankError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("anchors"), dict):
        raise BankError(f"{path}: expected a mapping 'anchors' from question id to a list of graded answers")
    return data["anchors"]


def load_anchors(directory: Path, bank: Bank) -> dict[str, list[Anchor]]:
    """Every question's anchors: its reference, then the authored ones under directory/anchors/*.yaml. A question id
    the bank does not have, a level whose score is off the rubric, a misconception without its correction: an error
    naming the file, the question and the entry."""
    by_id = bank.by_id()
    out: dict[str, list[Anchor]] = {q.id: [reference_anchor(q)] for q in bank.questions}
    seen: dict[str, Path] = {}
    for path in sorted(Path(directory).glob("anchors/*.yaml")):
        for qid, entries in _read(path).items():
            if qid not in by_id:
                raise BankError(f"{path}: question id {qid!r} is not in the bank")
            if qid in seen:
                raise BankError(f"{path}: anchors for {qid!r} are already given in {seen[qid]}")
            seen[qid] = path
            if not isinstance(entries, list):
                raise BankError(f"{path}: {qid}: expected a list of graded answers")
            for i, entry in enumerate(entries, start=1):
                try:
                    raw = _AuthoredAnchor.model_validate(entry)
                    out[qid].append(Anchor(question_id=qid, source="authored", **raw.model_dump()))
                except ValidationError as e:
                    detail = "; ".join(f"{'.'.join(map(str, x['loc'])) or '(entry)'}: {x['msg']}" for x in e.errors())
                    raise BankError(f"{path}: {qid}: anchor #{i}: {detail}") from None
    return out


def missing_levels(anchors: list[Anchor]) -> list[str]:
    """What a question's authored anchors lack against the rule (empty when complete)."""
    have = Counter(a.level for a in anchors)
    out = [f"{need - have[level]} more {level}" for level, need in REQUIRED_LEVELS.items() if have[level] < need]
    if len(anchors) < MIN_ANCHORS:
        out.append(f"{MIN_ANCHORS - len(anchors)} more anchors (at least {MIN_ANCHORS}, the reference included)")
    return out


def content_hash(anchors: list[Anchor]) -> str:
    h = hashlib.sha256()
    for a in anchors:
        h.update(a.model_dump_json().encode())
    return h.hexdigest()[:16]
