"""Baselines computed on the same rows as the grader: predict-the-mean, embedding cosine with a linear map fitted by
question-grouped K-fold CV, and a naive one-prompt "score 0-5" judge on the same backend."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from interviewer.evals.cache import GradeCache, cache_key
from interviewer.evals.datasets import Row
from interviewer.grading.fit import grouped_folds

NAIVE_PROMPT = "eval_naive_judge"  # interviewer/resources/prompts/eval_naive_judge.md (system) + eval_naive_judge_user.md
NAIVE_REPLY_TOKENS = 32  # {"score": N} and room for spaces a model may put in it


def mean_baseline(rows: Sequence[Row], train_rows: Sequence[Row]) -> np.ndarray:
    """Always predict the mean human score of the training rows (the calib split where there is one)."""
    train = train_rows or rows
    return np.full(len(rows), float(np.mean([r.score5 for r in train])))


def cv_linear(features: np.ndarray, y: np.ndarray, groups: Sequence[str], *, k: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predictions of a least-squares linear map (with intercept), clipped to 0-5."""
    X = np.column_stack([np.ones(len(y)), np.asarray(features, float).reshape(len(y), -1)])
    pred = np.full(len(y), math.nan)
    if len(set(groups)) < 2:
        return pred  # one question: no honest held-out fit exists
    for test in grouped_folds(groups, k, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        coef, *_ = np.linalg.lstsq(X[train], y[train], rcond=None)
        pred[test] = X[test] @ coef
    return np.clip(pred, 0.0, 5.0)


def _embed_sorted(texts: list[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Embed in length order (batches pad to their longest text: 3x faster on Mohler), then restore the order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vecs = embed([texts[i] for i in order])
    out = np.empty_like(vecs)
    out[order] = vecs
    return out


def embedding_cosines(rows: Sequence[Row], embed: Callable[[list[str]], np.ndarray] | None = None,
                      cache: GradeCache | None = None) -> np.ndarray:
    """Cosine of each answer to its reference (MiniLM, L2-normalised); cached like grades, references embedded once."""
    version = "cosine:custom"
    if embed is None:
        from interviewer.bank.embeddings import MODEL_NAME, get_embedder

        embed, version = get_embedder().embed, f"cosine:{MODEL_NAME}"
    keys = [cache_key(version, "-", "-", r.question, r.reference, r.answer) for r in rows]
    out = np.array([(cache.get(k) or {}).get("score", math.nan) if cache else math.nan for k in keys])
    todo = [i for i in range(len(rows)) if math.isnan(out[i])]
    if todo:
        refs = sorted({rows[i].reference for i in todo})
        ref_vec = dict(zip(refs, _embed_sorted(refs, embed)))
        ans = _embed_sorted([rows[i].answer for i in todo], embed)
        for i, a in zip(todo, ans):
            out[i] = float(np.dot(a, ref_vec[rows[i].reference]))
            if cache and version != "cosine:custom":
                cache.put(keys[i], {"system": "cosine", "question_id": rows[i].question_id, "score": out[i]})
    return out


def embedding_baseline(rows: Sequence[Row], cosines: np.ndarray, *, k: int = 5, seed: int = 0) -> np.ndarray:
    y = np.array([r.score5 for r in rows])
    return cv_linear(cosines, y, [r.group for r in rows], k=k, seed=seed)


# --- the naive judge --------------------------------------------------------------------------------------------------

class NaiveScore(BaseModel):
    model_config = ConfigDict(extra="ignore")
    score: float = Field(ge=0, le=5)


def naive_messages(row: Row) -> list[dict]:
    from interviewer.prompts import load_prompt

    return [{"role": "system", "content": load_prompt(NAIVE_PROMPT)},
            {"role": "user", "content": load_prompt(NAIVE_PROMPT + "_user", question=row.question,
                                                    reference=row.reference, answer=row.answer)}]


def naive_version() -> str:
    from interviewer.prompts import load_prompt

    text = load_prompt(NAIVE_PROMPT) + load_prompt(NAIVE_PROMPT + "_user", question="", reference="", answer="")
    return "naive-judge:" + hashlib.sha256(text.encode()).hexdigest()[:12]


def naive_judge(rows: Sequence[Row], llm, cache: GradeCache | None = None, progress: bool = False) -> np.ndarray:
    """One structured call per row; a failed call is NaN (counted as missing), never a crash."""
    import time

    from tqdm import tqdm

    from interviewer.llm.base import LLMError

    version = naive_version()
    out = np.full(len(rows), math.nan)
    for i, row in enumerate(tqdm(rows, desc="naive judge", unit="row", disable=not progress)):
        key = cache_key(version, getattr(llm, "backend", "?"), getattr(llm, "model", "?"), row.question,
                        row.reference, row.answer)
        hit = cache.get(key) if cache else None
        if hit is None:
            start = time.perf_counter()
            try:
                score = llm.structured(naive_messages(row), NaiveScore, max_tokens=NAIVE_REPLY_TOKENS,
                                       task="judge")[0].score
            except LLMError:
                continue  # not cached: a later run retries it
            record = {"system": "naive", "question_id": row.question_id, "score": score,
                      "seconds": round(time.perf_counter() - start, 4)}
            hit = cache.put(key, record) if cache else record
        out[i] = hit["score"]
    return out
