"""Embedding evidence: how close the answer, and each of its sentences, come to the reference and each key point.

MiniLM similarity is the secondary signal of the score (the model's judgement is the first) and it picks the quote
shown for each key point: the answer sentence nearest to it, cut from the answer verbatim. English only: for an answer
in another language the score does without it.

The score reads similarity as a gain over the question (`emb_gain`): how much closer the answer's nearest sentence
comes to each key point than the bare question does. Any answer on the right topic comes close to the key points (a
misconception, filler, the question said back), so raw similarity gave every on-topic answer a floor; the gain gives
a restated question nothing. On the DL calib split (question-grouped CV) it lifted the full formula from r 0.755 /
RMSE 0.994 to 0.774 / 0.960 (`experiments/score_forms.py`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, Field

from interviewer.bank.embeddings import get_embedder
from interviewer.text import CLAUSE_ENDS, sentences

KP_SIM_FLOOR = 0.30  # a key point whose best answer sentence is below this has no supporting quote
COVERED_SIM = 0.5     # a key point this close to an answer sentence counts towards emb_kp_cov
MAX_SENTENCE_WORDS = 40  # longer run-on sentences are windowed so a quote can be found inside a paragraph
WINDOW, STRIDE = 25, 20
MAX_PIECES = 60
QUESTIONS_KEPT = 512  # questions whose vectors stay in memory (the bank and a user CSV's; ~10 KB each)


OFF_TOPIC_SIM = 0.12  # answer-vs-(question+reference) cosine below which, with no key point near, it is off-topic


class Evidence(BaseModel):
    features: dict[str, float]
    kp_sims: list[float]
    quotes: list[str | None]
    vector: list[float] = Field(default_factory=list, exclude=True, repr=False,
                                description="the whole answer's unit vector (the anchors' neighbours are read by it)")

    @property
    def off_topic(self) -> bool:
        return self.features["emb_qr"] < OFF_TOPIC_SIM and max(self.kp_sims, default=0.0) < KP_SIM_FLOOR


def answer_pieces(text: str) -> list[str]:
    """Sentences, and windows of long ones; every piece is a verbatim substring of `text`."""
    out: list[str] = []
    for s in sentences(text, also_at=CLAUSE_ENDS) or [text]:
        spans = [m.span() for m in re.finditer(r"\S+", s)]
        if len(spans) <= MAX_SENTENCE_WORDS:
            out.append(s)
            continue
        for i in range(0, len(spans), STRIDE):
            window = spans[i:i + WINDOW]
            out.append(s[window[0][0]:window[-1][1]])
    return [p for p in out if len(p) > 2][:MAX_PIECES] or [text]


@lru_cache(maxsize=QUESTIONS_KEPT)
def question_vectors(question: str, reference: str, key_points: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Every answer to one question shares these: embed them once (reference, question + reference, key points), and
    how close the bare question comes to each key point."""
    vecs = get_embedder().embed([reference, f"{question} {reference}", question, *key_points])
    kp_vecs = vecs[3:]
    return vecs[0], vecs[1], kp_vecs, kp_vecs @ vecs[2]


def gather(question: str, reference: str, key_points: list[str], answer: str) -> Evidence:
    pieces = answer_pieces(answer)
    vecs = get_embedder().embed([answer, *pieces])
    a, p_vecs = vecs[0], vecs[1:]
    ref_vec, qr_vec, kp_vecs, question_sims = question_vectors(question, reference, tuple(key_points))
    sims = kp_vecs @ p_vecs.T
    best = sims.max(axis=1)
    gain = np.maximum(0.0, best - question_sims)
    quotes = [pieces[int(np.argmax(row))] if best[i] >= KP_SIM_FLOOR else None for i, row in enumerate(sims)]
    feats = {"emb_ref": float(a @ ref_vec), "emb_qr": float(a @ qr_vec), "emb_kp_mean": float(best.mean()),
             "emb_kp_cov": float((best >= COVERED_SIM).mean()), "emb_gain": float(gain.mean())}
    return Evidence(features=feats, kp_sims=[round(float(x), 4) for x in best], quotes=quotes, vector=a.tolist())
