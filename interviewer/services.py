"""The one place that wires the parts: the LLM the settings ask for, the grader with the graded answers it reads
against, and a session's plan and set-up. The app, the terminal and the evals build these here, so a grader is the
same whichever of them made it (before, six product modules and six scripts each built one their own way).
"""

from __future__ import annotations

from collections.abc import Mapping

from interviewer.bank.bank import Question
from interviewer.grading.anchor_book import AnchorBook
from interviewer.grading.cache import JsonlCache
from interviewer.grading.grader import Grader, authored_anchors
from interviewer.llm.base import LLM
from interviewer.llm.registry import make_llm
from interviewer.planning.plan import SessionPlan, plan_session
from interviewer.session import SessionConfig
from interviewer.settings import Settings
from interviewer.store import SessionDB

# The LLM the settings (or a backend named) ask for; the embedded one starts its server (or reuses it).
__all__ = ["anchor_book", "build_grader", "make_llm", "plan_session", "planned", "session_config", "SessionPlan"]


def anchor_book(settings: Settings, db: SessionDB | None = None, store=None) -> AnchorBook:
    """What a grader reads an answer against: the bank's authored anchors and, with a sessions database, the graded
    answers people added there (instructors' reviews, labelled files)."""
    return AnchorBook(authored_anchors(settings), people=db.reviews if db is not None else None, store=store)


def build_grader(settings: Settings, llm: LLM | None, *, store=None, db: SessionDB | None = None,
                 judge_cache: JsonlCache | None = None) -> Grader:
    """The grader: `store` grounds grades with related material (and holds the anchors' vectors); `db` adds people's
    graded answers to the bank's; `judge_cache` replays model judgements from disk (the evals' committed caches)."""
    return Grader(llm, store, settings, judge_cache=judge_cache, anchors=anchor_book(settings, db, store))


def session_config(plan: SessionPlan, *, track: str, n_questions: int, mode: str, concepts: list[str],
                   user: str) -> SessionConfig:
    """A new session's set-up: the form's choices, with the plan's questions where it has them (pydantic's
    ValidationError for a choice it refuses)."""
    return SessionConfig(**{"track": track, "n_questions": n_questions, "mode": mode, "concepts": concepts,
                            "user": user, **plan.fields})


def planned(questions: list[Question], reasons: Mapping[str, str]) -> SessionPlan:
    """A plan of the given questions (a report's "Practise these", the terminal's --question)."""
    return plan_session(questions, asked=dict(reasons))
