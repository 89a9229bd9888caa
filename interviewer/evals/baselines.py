"""Baselines computed on the same rows as the grader: predict-the-mean, embedding cosine with a linear map fitted by
question-grouped K-fold CV, and a naive one-prompt "score 0-5" judge on the same backend."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from interviewer.evals.cache import GradeCache, cache_key
from interviewer.evals.datasets import Row

NAIVE_PROMPT = "eval_naive_judge"
USER_MARK = "\n[user]\n"  # the prompt file holds the system part, this line, then the user template


def mean_baseline(rows: Sequence[Row], train_rows: Sequence[Row]) -> np.ndarray:
    """Always predict the mean human score of the training rows (the calib split where there is one)."""
    train = train_rows or rows
    return np.full(len(rows), float(np.mean([r.score5 for r in train])))


def grouped_folds(groups: Sequence[str], k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Test-index arrays; every group (question) lies in exactly one fold, so no question is in train and test."""
    unique = sorted(set(groups))
    random.Random(seed).shuffle(unique)
    k = max(2, min(k, len(unique)))
    fold_of = {g: i % k for i, g in enumerate(unique)}
    labels = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(labels == f) for f in range(k) if (labels == f).any()]


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


def embedding_cosines(rows: Sequence[Row], embed: Callable[[list[str]], np.ndarray] | None = None) -> np.ndarray:
    """Cosine of each answer to its reference (MiniLM, L2-normalised); references embedded once each."""
    if embed is None:
        from interviewer.embeddings import get_embedder

        embed = get_embedder().embed
    refs = sorted({r.reference for r in rows})
    ref_vec = dict(zip(refs, embed(refs)))
    ans = embed([r.answer for r in rows])
    return np.array([float(np.dot(a, ref_vec[r.reference])) for a, r in zip(ans, rows)])


def embedding_baseline(rows: Sequence[Row], cosines: np.ndarray, *, k: int = 5, seed: int = 0) -> np.ndarray:
    y = np.array([r.score5 for r in rows])
    return cv_linear(cosines, y, [r.group for r in rows], k=k, seed=seed)


# --- the naive judge --------------------------------------------------------------------------------------------------

class NaiveScore(BaseModel):
    model_config = ConfigDict(extra="ignore")
    score: float = Field(ge=0, le=5)


def load_prompt_text(name: str, **variables) -> str:
    try:
        from interviewer.prompts import load_prompt
    except ImportError:  # the shared loader not there yet: same contract, read prompts/NAME.md and format
        from interviewer.config import get_settings

        return (get_settings().prompts_dir / f"{name}.md").read_text(encoding="utf-8").format(**variables)
    return load_prompt(name, **variables)


def naive_messages(row: Row) -> list[dict]:
    text = load_prompt_text(NAIVE_PROMPT, question=row.question, reference=row.reference, answer=row.answer)
    system, _, user = text.partition(USER_MARK)
    return [{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}]


def naive_version() -> str:
    import hashlib

    return "naive-judge:" + hashlib.sha256(load_prompt_text(NAIVE_PROMPT, question="", reference="",
                                                            answer="").encode()).hexdigest()[:12]


def naive_judge(rows: Sequence[Row], llm, cache: GradeCache | None = None, progress: bool = False) -> np.ndarray:
    """One structured call per row; a failed call is NaN (counted as missing), never a crash."""
    import time

    from tqdm import tqdm

    from interviewer.llm import LLMError

    version = naive_version()
    out = np.full(len(rows), math.nan)
    for i, row in enumerate(tqdm(rows, desc="naive judge", unit="row", disable=not progress)):
        key = cache_key(version, getattr(llm, "backend", "?"), getattr(llm, "model", "?"), row.question,
                        row.reference, row.answer)
        hit = cache.get(key) if cache else None
        if hit is None:
            start = time.perf_counter()
            try:
                score = llm.structured(naive_messages(row), NaiveScore, max_tokens=32).score
            except LLMError:
                continue  # not cached: a later run retries it
            record = {"system": "naive", "question_id": row.question_id, "score": score,
                      "seconds": round(time.perf_counter() - start, 4)}
            hit = cache.put(key, record) if cache else record
        out[i] = hit["score"]
    return out
