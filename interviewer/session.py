"""The pydantic shapes of a mock interview: its set-up, the transcript and one record per question asked (with its
grade and an instructor's review). Below the store, which keeps them, and the interview, which makes them."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator

from interviewer.bank.bank import CONCEPTS
from interviewer.grading.grade import Grade
from interviewer.voice.delivery import Delivery

Track = Literal["fresher", "intermediate", "advanced", "engineering", "scenario", "mixed"]
TRACKS: tuple[str, ...] = get_args(Track)
Mode = Literal["interview", "practice"]
MODES: tuple[str, ...] = get_args(Mode)
Phase = Literal["new", "awaiting_answer", "awaiting_followup", "finished"]
Role = Literal["interviewer", "candidate"]

# Difficulty levels for the adaptive mixed track. Engineering and scenario questions are senior-level practice,
# so they share the top level with the advanced tier rather than forming levels of their own.
LEVELS: dict[str, int] = {"fresher": 0, "intermediate": 1, "advanced": 2, "engineering": 2, "scenario": 2}
MAX_LEVEL = 2


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class SessionConfig(BaseModel):
    track: Track = "mixed"
    n_questions: int = Field(default=5, ge=1, le=30)
    concepts: list[str] = Field(default_factory=list, description="focus concepts; empty means any")
    mode: Mode = "interview"
    user: str = Field(default="local", min_length=1, max_length=64)
    planned: list[str] = Field(default_factory=list, description="question ids to ask in this order (a practice plan); "
                               "empty means drawn by track and focus")
    plan_reasons: dict[str, str] = Field(default_factory=dict, description="why each planned question was chosen")
    job_topics: list[str] = Field(default_factory=list, description="the bank concepts of the job this interview was "
                                  "tailored to: today's practice offers new questions on them first")

    @field_validator("concepts", "job_topics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CONCEPTS]
        if unknown:
            raise ValueError(f"unknown concept(s) {unknown}; known: {', '.join(CONCEPTS)}")
        return list(dict.fromkeys(value))

    def describe(self) -> str:
        if self.planned:
            return f"{self.n_questions} questions from your practice plan"
        track = "mixed difficulty" if self.track == "mixed" else f"{self.track}-level"
        focus = f", focusing on {', '.join(self.concepts)}" if self.concepts else ""
        return f"{self.n_questions} {track} questions{focus}"


def planned_fields(reasons: dict[str, str], job_topics: list[str] | None = None) -> dict:
    """The SessionConfig fields of a planned interview: question id -> why it was chosen, in the order to ask; for
    an interview tailored to a job, the job's topics."""
    return {"planned": list(reasons), "plan_reasons": dict(reasons), "n_questions": max(1, len(reasons)),
            "job_topics": list(job_topics or [])}


MAX_SCORE = 5.0
SCORE_STEP = 0.5  # an instructor grades in half points, the grader's scale
NOTE_CHARS = 1000  # a note is a sentence or two for the candidate, not an essay

class Review(BaseModel):
    """An instructor's grade of one answer."""

    score: float = Field(ge=0.0, le=MAX_SCORE, description="0-5, in half points")
    note: str = Field(default="", max_length=NOTE_CHARS, description="why, for the candidate")
    by: str = Field(min_length=1, description="the instructor's account name")
    at: datetime

    @field_validator("score")
    @classmethod
    def _half_points(cls, value: float) -> float:
        if abs(value / SCORE_STEP - round(value / SCORE_STEP)) > 1e-9:
            raise ValueError(f"a grade is given in steps of {SCORE_STEP:g}, not {value:g}")
        return value

    @field_validator("note")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())

    def line(self) -> str:
        """How the candidate reads it: "Instructor's grade: 3/5 (by NAME, DATE): note" (plain text: escape it to
        draw it as Markdown)."""
        return f"Instructor's grade: {self.score:g}/5 (by {self.by}, {self.at:%Y-%m-%d})" + (
            f": {self.note}" if self.note else "")


class Turn(BaseModel):
    """One line of the transcript. `kind` says what it was: question, answer, followup, hint, feedback..."""

    seq: int = 0
    role: Role
    kind: str
    text: str
    question_index: int | None = None
    at: datetime = Field(default_factory=now)


class QuestionRecord(BaseModel):
    """Everything about one question of a session. The grade is stored apart so a background worker can write it."""

    index: int
    question_id: str
    tier: str
    concepts: list[str]
    question: str
    answers: list[str] = Field(default_factory=list, description="the first answer, then follow-up answers")
    followups: list[str] = Field(default_factory=list, description="the follow-up questions asked")
    probed: list[str] = Field(default_factory=list, description="key points a follow-up or hint already targeted")
    hints: list[str] = Field(default_factory=list)
    off_question: list[str] = Field(default_factory=list, description="answers that were off the question: "
                                    "redirected, kept here and not graded")
    delivery: list[Delivery] = Field(default_factory=list, description="how each spoken answer was delivered")
    skipped: bool = False
    closed: bool = False
    decision_score: float | None = Field(default=None, description="the quick score that steered follow-ups")
    grade: Grade | None = None
    grade_error: str | None = None
    review: Review | None = Field(default=None, exclude=True, description="an instructor's grade of this answer "
                                  "(kept in its own column, written by `store.reviews.Reviews.review`)")

    @property
    def hint_used(self) -> bool:
        return bool(self.hints)

    def combined_answer(self) -> str:
        """Follow-up answers are graded together with the original answer."""
        return "\n\n".join(a for a in self.answers if a.strip())

    @property
    def graded(self) -> bool:
        return self.grade is not None


class Session(BaseModel):
    id: str = Field(default_factory=new_id)
    config: SessionConfig = Field(default_factory=SessionConfig)
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)
    phase: Phase = "new"
    level: int = Field(default=1, ge=0, le=MAX_LEVEL, description="current difficulty level (mixed track)")
    backend: str = ""
    questions: list[QuestionRecord] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)

    @property
    def user(self) -> str:
        return self.config.user

    @property
    def current(self) -> QuestionRecord | None:
        if self.questions and not self.questions[-1].closed:
            return self.questions[-1]
        return None

    @property
    def finished(self) -> bool:
        return self.phase == "finished"

    def asked_ids(self) -> set[str]:
        return {q.question_id for q in self.questions}
