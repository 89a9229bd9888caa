"""Which questions a new session asks, in one place for the app and the terminal: the questions named (a report's
"Practise these", --question), today's practice (due reviews, then new questions), a job description's (and CV's)
questions, or a topic's; with none of these, the session draws by track and focus.

The plan is the SessionConfig fields it sets (`planned_fields`) and what the candidate is told about it. A plan that
finds nothing raises `PlanError`, whose callers say what to do instead in their own words (clear the field in the app,
a flag in the terminal).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from interviewer.bank.bank import Question
from interviewer.planning.practice import todays_plan
from interviewer.planning.tailor import TailoredPlan, tailor
from interviewer.planning.topic import topic_questions
from interviewer.session import planned_fields


class PlanError(ValueError):
    """Nothing to plan from what was asked: the reason, for the candidate."""


class NoJobMatch(PlanError):
    """Nothing in the bank matches the job description."""

    def __init__(self, phrases: int) -> None:
        super().__init__(f"nothing in the question bank matches the job description ({phrases} phrases searched)")
        self.phrases = phrases


class SessionPlan(BaseModel):
    fields: dict = Field(default_factory=dict, description="SessionConfig fields; empty: drawn by track and focus")
    notes: list[str] = Field(default_factory=list, description="what the candidate is told about the plan")
    tailored: TailoredPlan | None = Field(default=None, description="a job description's match, when it chose")

    @property
    def question_ids(self) -> list[str]:
        return list(self.fields.get("planned", []))


def plan_session(questions: list[Question], *, n: int = 5, asked: dict[str, str] | None = None, today: bool = False,
                 db=None, user: str = "local", job: str = "", cv: str = "", topic: str = "", store=None,
                 llm=None) -> SessionPlan:
    """The first of: `asked` (question id -> why), `today` (the user's practice plan from `db`), `job` (with `cv`,
    matched in `store`, the model naming the job's topics), `topic` (searched in `store`). A job description chooses
    over a topic (the note says so)."""
    if asked:
        known = {q.id for q in questions}
        if unknown := [i for i in asked if i not in known]:
            raise PlanError(f"no question {unknown[0]!r} in the bank")
        return SessionPlan(fields=planned_fields(asked))
    if today:
        plan = todays_plan(db, user, questions, n=n)
        return SessionPlan(fields=planned_fields({i.question_id: i.reason for i in plan.items}))
    if job:
        notes = [f"The job description chooses the questions; the topic “{topic}” is not used."] if topic else []
        tailored = tailor(store, questions, job, cv=cv, llm=llm, n=n)
        if not tailored.items:
            raise NoJobMatch(tailored.phrases)
        if tailored.concepts:
            notes.append("The job stresses: " + ", ".join(tailored.concepts))
        return SessionPlan(fields=planned_fields({m.question_id: m.reason for m in tailored.items},
                                                 job_topics=tailored.topics), notes=notes, tailored=tailored)
    if topic:
        if not (found := topic_questions(store, topic, n)):
            raise PlanError(f"No question in the bank is about “{topic}”")
        return SessionPlan(fields=planned_fields(found))
    return SessionPlan()
