"""Practice over days: every graded answer reschedules its question for its user with FSRS (the `fsrs` library), and
"today's practice" is what is due, weakest concepts first, then questions not yet practised.

The grade maps to FSRS's rating by named thresholds. Interview preparation runs over days, so there are no
minute-long learning steps (they would make a question due again within the same sitting) and no fuzzing (the same
history always gives the same plan).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Literal

from fsrs import Card, Rating, Scheduler
from pydantic import BaseModel

from interviewer.store import SessionDB
from interviewer.store.grades import Grades
from interviewer.store.schedule import Schedule
from interviewer.store.schedule import StoredCard
from interviewer.session import LEVELS
from interviewer.bank.bank import Question

AGAIN_BELOW = 1.5  # a score under this: not known (FSRS "again": due again tomorrow)
HARD_BELOW = 2.5   # partly known
EASY_FROM = 4.0    # a strong answer; between HARD_BELOW and this is "good"
DEFAULT_PLAN_SIZE = 5
RECENT_PER_CONCEPT = 5  # a concept's strength is the mean of its latest scores, so progress shows
NEW_PER_CONCEPT = 2     # new questions on one concept before the next concept of the same standing gets a turn

SCHEDULER = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)


def rating_for(score: float) -> Rating:
    if score < AGAIN_BELOW:
        return Rating.Again
    if score < HARD_BELOW:
        return Rating.Hard
    return Rating.Good if score < EASY_FROM else Rating.Easy


def review(db: Schedule, user: str, question_id: str, score: float, when: datetime | None = None,
           session_id: str | None = None) -> StoredCard:
    """Reschedule one question for one user after a grade (of `session_id`'s: nothing is written once it is gone)."""
    when = when or datetime.now(timezone.utc)
    stored = db.cards(user).get(question_id)
    card = Card.from_json(stored.card) if stored else Card()
    card, _ = SCHEDULER.review_card(card, rating_for(score), review_datetime=when)
    out = StoredCard(question_id=question_id, card=card.to_json(), due=card.due, last_score=round(score, 2),
                     reviews=(stored.reviews if stored else 0) + 1, updated_at=when)
    db.save_card(user, out, session_id)
    return out


class PlanItem(BaseModel):
    question_id: str
    kind: Literal["due", "new"]
    concept: str  # the concept that put it in the plan
    reason: str   # shown with the question ("why this question")
    due: datetime | None = None
    last_score: float | None = None


class Plan(BaseModel):
    user: str
    at: datetime
    items: list[PlanItem]
    due_total: int  # due now, including those beyond the plan's size
    concept_strength: dict[str, float]  # mean of the latest scores per concept, weakest first

    @property
    def question_ids(self) -> list[str]:
        return [i.question_id for i in self.items]


def concept_strength(db: Grades, user: str) -> dict[str, float]:
    latest: dict[str, list[float]] = defaultdict(list)
    for _, concepts, score in reversed(db.score_history(user)):  # newest first
        for c in concepts:
            if len(latest[c]) < RECENT_PER_CONCEPT:
                latest[c].append(score)
    strength = {c: round(sum(v) / len(v), 2) for c, v in latest.items()}
    return dict(sorted(strength.items(), key=lambda kv: kv[1]))


def due_items(db: SessionDB, user: str, questions: list[Question], now: datetime | None = None,
              strength: dict[str, float] | None = None) -> list[PlanItem]:
    """Every question due for review now: weakest concept first, then the most overdue."""
    now = now or datetime.now(timezone.utc)
    bank = {q.id: q for q in questions}
    strength = concept_strength(db, user) if strength is None else strength

    def weakest(q: Question) -> tuple[float, str]:
        known = [(strength[c], c) for c in q.concepts if c in strength]
        return min(known) if known else (float("inf"), q.concepts[0])

    due = sorted(((weakest(bank[c.question_id]), c) for c in db.cards(user).values()
                  if c.question_id in bank and c.due <= now), key=lambda wc: (wc[0], wc[1].due))
    return [PlanItem(question_id=c.question_id, kind="due", concept=concept, due=c.due, last_score=c.last_score,
                     reason=f"due for review on {concept} (last score {c.last_score:.1f}/5)")
            for (_, concept), c in due]


def todays_plan(db: SessionDB, user: str, questions: list[Question], n: int = DEFAULT_PLAN_SIZE,
                now: datetime | None = None, topics: list[str] | None = None) -> Plan:
    """Due questions (weakest concept first, then the most overdue), then new ones: the target job's topics first
    (given, or else those of the user's latest interview tailored to a job), then the weakest concepts, then concepts
    not yet practised; easier tiers first."""
    now = now or datetime.now(timezone.utc)
    strength = concept_strength(db, user)
    due = due_items(db, user, questions, now, strength)
    items = due[:n]
    practised = set(db.cards(user))
    wanted = list(topics if topics is not None else db.job_topics(user))
    order = {c: i for i, c in enumerate(wanted + [c for c in strength if c not in wanted])}
    lowest = min(strength.values(), default=None)

    def new_rank(q: Question) -> tuple:
        ranks = [order[c] for c in q.concepts if c in order]
        return (min(ranks) if ranks else len(order), LEVELS.get(q.tier, 0), q.id)

    def lead(q: Question) -> str:  # the concept that ranked it, so its reason says why it is here
        return min((c for c in q.concepts if c in order), key=order.get, default=q.concepts[0])

    # Target topics, then practised concepts, then the rest; within each, NEW_PER_CONCEPT per concept in turn, so a
    # job's second topic is not crowded out by its first.
    turns: Counter[str] = Counter()
    fresh = []
    for q in sorted((q for q in questions if q.id not in practised), key=new_rank):
        concept = lead(q)
        group = 0 if concept in wanted else 1 if concept in strength else 2
        fresh.append(((group, turns[concept] // NEW_PER_CONCEPT, new_rank(q)), concept, q))
        turns[concept] += 1
    for _, concept, q in sorted(fresh, key=lambda f: f[0])[:max(0, n - len(items))]:
        if concept in wanted:
            why = "a topic of your target job"
        elif concept in strength:
            why = (f"your weakest area ({strength[concept]:.1f}/5)" if strength[concept] == lowest else
                   f"where your recent answers average {strength[concept]:.1f}/5")
        else:
            why = "not practised yet"
        items.append(PlanItem(question_id=q.id, kind="new", concept=concept, reason=f"new on {concept}, {why}"))
    return Plan(user=user, at=now, items=items, due_total=len(due), concept_strength=strength)
