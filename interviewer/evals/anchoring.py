"""The unseen-answers protocol: each answer read against graded answers to its question, never against itself.

Where the anchors come from (`AnchorPlan.source`):
- `loo`: the other graded answers of the same question in the rows themselves (Mohler, the SemEval training split,
  a user's file): leave-one-out, so nothing of the row's own grade is seen;
- `train`: the graded answers of another file for the same question ids (`eval --anchors train.jsonl`), as a user
  with last year's graded answers would;
- `authored`: the bank's authored anchors (our DL set).

Every row is graded by the product's own path (`Grader.score_item(..., anchors=...)`), once with all of its pool and
once with n anchors drawn at random from it (seeded, per answer) for each n in the sweep, beside the zero-anchor
grade. Judgements replay from the judge cache, so a sweep costs embeddings, not model calls. The neighbour-only
baseline is the similarity-weighted mean grade of the 5 nearest anchors, with no grader at all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from interviewer.evals.datasets import Row
from interviewer.grading.anchored import nearest
from interviewer.grading.screen import screen
from interviewer.bank.anchors import Anchor

ANCHOR_COUNTS: tuple[int, ...] = (1, 2, 4, 8)  # beside 0 (the zero-anchor grade) and all
NEIGHBOURS_K = 5  # the neighbour-only baseline: similarity-weighted mean of the 5 nearest anchors' grades
MAX_ANSWER_CHARS = 4000  # what the screen keeps of an answer (the grader's default)

Pools = Callable[[int], list[Anchor]]


class AnchorPlan(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: Literal["loo", "train", "authored"]
    train: list[Row] = Field(default_factory=list, description="the anchors' rows, for source 'train'")
    counts: tuple[int, ...] = ANCHOR_COUNTS


def as_anchor(row: Row) -> Anchor:
    return Anchor(question_id=row.question_id, text=row.answer, score=round(row.score5, 4), level="graded",
                  source="file")


def pools_for(plan: AnchorPlan, rows: Sequence[Row], authored: Callable[[str], list[Anchor]]) -> Pools:
    """Row i's anchors: never row i itself."""
    if plan.source == "authored":
        return lambda i: authored(rows[i].question_id)
    if plan.source == "train":
        by_q: dict[str, list[Anchor]] = defaultdict(list)
        for r in plan.train:
            if r.answer.strip():
                by_q[r.question_id].append(as_anchor(r))
        return lambda i: by_q.get(rows[i].question_id, [])
    anchors = {i: as_anchor(r) for i, r in enumerate(rows) if r.answer.strip()}  # an empty answer says nothing
    members: dict[str, list[int]] = defaultdict(list)
    for i in anchors:
        members[rows[i].question_id].append(i)
    return lambda i: [anchors[j] for j in members[rows[i].question_id] if j != i]


def draw(pools: Pools, n: int, seed: int = 0) -> Pools:
    """n anchors per answer, drawn at random (seeded per answer) from its pool."""
    def pool(i: int) -> list[Anchor]:
        full = pools(i)
        if len(full) <= n:
            return full
        pick = np.random.default_rng([seed, i]).choice(len(full), size=n, replace=False)
        return [full[j] for j in sorted(pick)]
    return pool


def neighbours_only(rows: Sequence[Row], pools: Pools, embed: Callable[[list[str]], np.ndarray],
                    k: int = NEIGHBOURS_K) -> np.ndarray:
    """Similarity-weighted mean grade of the k anchors nearest each (screened) answer: the anchors alone."""
    answers = embed([screen(r.answer, MAX_ANSWER_CHARS).text or " " for r in rows])
    texts = sorted({a.text for i in range(len(rows)) for a in pools(i)})
    vector = dict(zip(texts, embed(texts))) if texts else {}
    out = np.full(len(rows), math.nan)
    for i in range(len(rows)):
        anchors = pools(i)
        if anchors:
            order, sims = nearest(answers[i], np.array([vector[a.text] for a in anchors]), k)
            w = np.maximum(sims, 1e-6)
            out[i] = float((w * np.array([anchors[j].score for j in order])).sum() / w.sum())
    return out
