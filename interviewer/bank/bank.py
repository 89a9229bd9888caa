"""The question bank: pydantic models and a loader that names the file, entry and field on error."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Tier = Literal["fresher", "intermediate", "advanced", "engineering", "scenario"]
TIERS: tuple[str, ...] = ("fresher", "intermediate", "advanced", "engineering", "scenario")
Source = Literal["guide", "project", "user"]

# The guide's 10-concept table, in its order; extra concepts cover the rest of the bank.
CORE_CONCEPTS: tuple[str, ...] = (
    "neural-network-basics",
    "activation-functions",
    "loss-functions",
    "optimization",
    "regularization",
    "cnns",
    "rnns",
    "transformers-attention",
    "hyperparameter-tuning",
    "model-evaluation",
)
EXTRA_CONCEPTS: tuple[str, ...] = (
    "autoencoders",
    "transfer-learning",
    "deployment-mlops",
    "fairness-ethics",
    "data-preprocessing",
    "generative-models",
    "frameworks",
    "computer-vision",
    "nlp",
    "training-at-scale",
)
CONCEPTS: tuple[str, ...] = CORE_CONCEPTS + EXTRA_CONCEPTS

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class BankError(ValueError):
    """A bank file that cannot be used; the message names file, entry and field."""


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    tier: Tier
    concepts: list[str] = Field(min_length=1)
    question: str = Field(min_length=10)
    reference_answer: str = Field(min_length=20)
    key_points: list[str] = Field(min_length=3, max_length=6)
    source: Source
    attribution: str | None = None

    @field_validator("concepts")
    @classmethod
    def _known_concepts(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CONCEPTS]
        if unknown:
            raise ValueError(f"unknown concept(s) {unknown}; known: {', '.join(CONCEPTS)}")
        if len(set(value)) != len(value):
            raise ValueError("concepts repeat")
        return value

    @field_validator("key_points")
    @classmethod
    def _non_empty_points(cls, value: list[str]) -> list[str]:
        if any(len(p.strip()) < 8 for p in value):
            raise ValueError("every key point must be a checkable statement (>= 8 characters)")
        return [p.strip() for p in value]

    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class ReferenceDoc(BaseModel):
    """A reference document that is not a question: the concept table, FAQ entries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    title: str
    text: str = Field(min_length=20)
    concepts: list[str] = Field(default_factory=list)
    source: Source = "guide"

    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class Bank(BaseModel):
    questions: list[Question]
    references: list[ReferenceDoc] = Field(default_factory=list)

    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}

    def get(self, qid: str) -> Question:
        try:
            return self.by_id()[qid]
        except KeyError:
            raise KeyError(f"no question with id {qid!r} in the bank") from None

    def stats(self) -> dict:
        return {
            "questions": len(self.questions),
            "references": len(self.references),
            "by_tier": dict(Counter(q.tier for q in self.questions)),
            "by_concept": dict(Counter(c for q in self.questions for c in q.concepts)),
            "by_source": dict(Counter(q.source for q in self.questions)),
        }


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"]) or "(entry)"
        parts.append(f"field '{field}': {e['msg']}")
    return "; ".join(parts)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise BankError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise BankError(f"{path}: expected a mapping with a 'questions' or 'references' list at top level")
    return data


def _entries(path: Path, data: dict, key: str, model: type[BaseModel]) -> list:
    raw = data.get(key) or []
    if not isinstance(raw, list):
        raise BankError(f"{path}: '{key}' must be a list")
    out = []
    for i, entry in enumerate(raw, start=1):
        label = entry.get("id", "?") if isinstance(entry, dict) else "?"
        try:
            out.append(model.model_validate(entry))
        except ValidationError as e:
            raise BankError(f"{path}: entry #{i} (id {label!r}): {_describe(e)}") from None
    return out


def load_bank(directory: Path) -> Bank:
    """Load every *.yaml under directory/questions and directory/reference."""
    directory = Path(directory)
    questions: list[Question] = []
    references: list[ReferenceDoc] = []
    files = sorted(directory.glob("questions/*.yaml")) + sorted(directory.glob("reference/*.yaml"))
    if not files:
        raise BankError(f"{directory}: no question files found under questions/*.yaml")
    seen: dict[str, Path] = {}
    for path in files:
        data = _read_yaml(path)
        for item in _entries(path, data, "questions", Question) + _entries(path, data, "references", ReferenceDoc):
            if item.id in seen:
                raise BankError(f"{path}: entry id {item.id!r} duplicates one in {seen[item.id]}")
            seen[item.id] = path
            (questions if isinstance(item, Question) else references).append(item)
    return Bank(questions=questions, references=references)
