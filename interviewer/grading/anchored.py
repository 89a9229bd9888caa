"""The anchored score: an answer read against graded answers to the same question.

The judge on the 1.5B model ranks answers better than it places them on the scale: the same grader is ~1.3 points
low on Mohler's lenient graders and compresses our own scale (a confident misconception 1.7, a precise answer 1.5 to
3). Graded answers to the same question (anchors) carry the scale. For an answer with the grader's own score g:

    anchored = sum_i w_i * (s_i + slope * (g - g_i))

over the `k` anchors nearest the answer (MiniLM cosine), where s_i is anchor i's human score, g_i the grader's score
of the anchor itself, and w_i = softmax(cosine_i / temperature). With few anchors that reading is noisy (one
neighbour's grade stands for the whole question), so it is blended with the grader's own score as if that were
`prior` more anchors: (prior * g + n * anchored) / (prior + n) for the n anchors read. An anchor that says the same
thing as the answer (cosine at least `same`) is direct evidence: its grade decides alone, adjusted by the grader's
difference, so an instructor's grade carries to the next answer that says the same. Each neighbour says "an answer like this one was
graded s_i"; the grader says how much better or worse this answer is than that neighbour, shrunk by `slope`. So the
anchors set the level where the grader's scale is off for this question (a per-question calibration, local to the
kind of answer), and the grader still orders answers the anchors cannot tell apart. It is monotone: a higher grader
score or a higher-graded neighbour never lowers the result. A near-identical anchor (cosine ~1) takes nearly all of
the weight at a small temperature, so an instructor's grade carries to the next answer that says the same thing.
A question without anchors keeps the grader's score.

The parameters live in the calibration file and are chosen on the DL calib split and the SemEval-2013 training split
(development, other domains), never on Mohler (experiments/anchor_levers.py, docs/design/grader.md).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from interviewer.grading.score import MAX_SCORE, AnchoredParams
from interviewer.bank.anchors import Anchor

__all__ = ["AnchoredParams", "AnchoredResult", "Neighbour", "anchored_score", "nearest"]


class Neighbour(BaseModel):
    anchor: Anchor
    similarity: float
    weight: float
    grader_score: float


class AnchoredResult(BaseModel):
    score: float
    neighbours: list[Neighbour] = Field(description="the neighbours read, nearest first")


def nearest(answer_vector: np.ndarray, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the k anchors nearest the answer, nearest first, and their cosines."""
    sims = vectors @ answer_vector
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


def anchored_score(grader_score: float, anchors: list[Anchor], similarities: np.ndarray,
                   anchor_grader_scores: list[float], params: AnchoredParams) -> AnchoredResult | None:
    """The anchored score of one answer from its nearest anchors, nearest first (None without any)."""
    if not anchors:
        return None
    sims = np.asarray(similarities, dtype=float)
    says = [a.score + params.slope * (grader_score - g) for a, g in zip(anchors, anchor_grader_scores)]
    if sims[0] >= params.same:  # nearest first: a graded answer that says the same thing decides alone
        weights = np.eye(len(sims))[0]
        total = says[0]
    else:
        weights = np.exp((sims - sims.max()) / params.temperature)
        weights /= weights.sum()
        n = len(anchors)
        total = (params.prior * grader_score + n * float(weights @ np.array(says))) / (params.prior + n)
    neighbours = [Neighbour(anchor=a, similarity=round(float(s), 4), weight=round(float(w), 4), grader_score=g)
                  for a, s, w, g in zip(anchors, sims, weights, anchor_grader_scores)]
    return AnchoredResult(score=float(np.clip(total, 0.0, MAX_SCORE)), neighbours=neighbours)
