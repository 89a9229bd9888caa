"""The pydantic shapes of a grade. The overall score is computed in code, never taken from the model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

Status = Literal["covered", "partly", "missing"]


class KeyPointResult(BaseModel):
    point: str
    status: Status
    quote: str | None = Field(default=None, description="the answer's words that support the verdict")
    similarity: float = Field(description="embedding similarity of the best answer sentence to the point")


class CriterionScore(BaseModel):
    name: str
    score: float = Field(ge=0, le=5)
    justification: str


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
    flags: list[str] = Field(default_factory=list, description="empty, gibberish, off-topic, injection, truncated...")
    notes: list[str] = Field(default_factory=list, description="messages to show the candidate")
    hint_cap: float | None = Field(default=None, description="a hint was used: the score is capped at this")
    features: dict[str, float] = Field(default_factory=dict)
    backend: str = ""
    model: str = ""
    latency_s: dict[str, float] = Field(default_factory=dict)
    # The judge conversation (prompt + its reply) when the model judged just now: feedback continues it, so
    # llama.cpp reuses the KV cache of the whole judge prompt instead of reading a new prompt from scratch.
    _judge_turn: list[dict] | None = PrivateAttr(default=None)
    # One-pass feedback (compact judge on llama.cpp): the judge reply goes on into the prose, so the rest of that
    # stream is the feedback, already being written while the score is shown.
    _feedback_stream: Any = PrivateAttr(default=None)

    @property
    def covered(self) -> list[str]:
        return [k.point for k in self.key_points if k.status == "covered"]

    @property
    def missing(self) -> list[str]:
        return [k.point for k in self.key_points if k.status == "missing"]
