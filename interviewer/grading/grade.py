"""The pydantic shapes of a grade. The overall score is computed in code, never taken from the model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["covered", "partly", "missing", "contradicted"]


class KeyPointResult(BaseModel):
    point: str
    status: Status
    quote: str | None = Field(default=None, description="the answer's words that support the verdict (verbatim)")
    similarity: float = Field(description="embedding similarity of the best answer sentence to the point")
    probabilities: dict[str, float] = Field(default_factory=dict,
                                            description="the judge's probability of each status for this point")


class CriterionScore(BaseModel):
    name: str
    score: float = Field(ge=0, le=5, description="expected level 0-5 under the judge's probabilities")
    justification: str


class AnchorMatch(BaseModel):
    """One of the graded answers the score was read against. A person's graded answer is never shown to another
    candidate: only its level and score are kept, not its text."""

    level: str
    score: float = Field(description="the anchor's own grade, 0-5")
    source: str = Field(description="reference, authored, instructor or file")
    similarity: float
    weight: float = Field(description="its share of the anchored score")
    claim: str | None = Field(default=None, description="a misconception's wrong claim")
    correction: str | None = Field(default=None, description="a misconception's correction")

    @classmethod
    def of(cls, neighbour) -> "AnchorMatch":
        a = neighbour.anchor
        return cls(level=a.level, score=a.score, source=a.source, similarity=neighbour.similarity,
                   weight=neighbour.weight, claim=a.claim, correction=a.correction)


class Grade(BaseModel):
    question_id: str
    score: float = Field(ge=0, le=5, description="overall 0-5, computed in code from the parts")
    criteria: list[CriterionScore] = Field(default_factory=list)
    key_points: list[KeyPointResult] = Field(default_factory=list)
    strengths: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    model_answer: str = ""
    feedback: str = ""
    references: list[str] = Field(default_factory=list, description="ids of the store chunks used as grounding")
    evidence_only: bool = Field(default=False, description="the LLM was unavailable: embedding evidence only")
    judgement: str = Field(default="", description="logprobs (probabilities read), argmax (the reply's letters), "
                                                   "or empty where no model judged")
    calibration: str = Field(default="default", description="the score scale in use")
    language: str = Field(default="en", description="en, or other: graded without English embeddings")
    flags: list[str] = Field(default_factory=list, description="empty, gibberish, off-topic, injection, truncated...")
    notes: list[str] = Field(default_factory=list, description="messages to show the candidate")
    hint_cap: float | None = Field(default=None, description="a hint was used: the score is capped at this")
    anchors: list[AnchorMatch] = Field(default_factory=list,
                                       description="the nearest graded answers the score was read against")
    features: dict[str, float] = Field(default_factory=dict)
    backend: str = ""
    model: str = ""
    latency_s: dict[str, float] = Field(default_factory=dict)

    def points(self, status: str) -> list[str]:
        return [k.point for k in self.key_points if k.status == status]
