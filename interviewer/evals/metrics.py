"""Agreement between predicted and human 0-5 scores, with seeded cluster-bootstrap 95% intervals.

Rows cluster by question (answers to one question share its reference, key points and difficulty), so the
intervals resample questions, each with all its rows, not rows one by one (which makes them too narrow).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
from scipy import stats

from interviewer.grading.agreement import correlation, pearson, rmse  # noqa: F401 (the metrics named below)

METRICS = ("pearson", "spearman", "rmse", "mae", "qwk", "within_0_5", "within_1", "auc")
PASS = 2.5  # AUC separates answers humans scored at least this (on 0-5) from the rest: correct vs not on a 0/1 set
HIGHER_IS_BETTER = {"pearson": True, "spearman": True, "rmse": False, "mae": False, "qwk": True,
                    "within_0_5": True, "within_1": True}


def to_scale5(scores, max_scores) -> np.ndarray:
    """Rescale to 0-5 when a dataset's maximum is not 5."""
    return np.asarray(scores, dtype=float) * 5.0 / np.asarray(max_scores, dtype=float)


def round_half_up(x: np.ndarray) -> np.ndarray:
    # np.rint rounds 2.5 to 2 (banker's rounding); graders read 2.5 as 3.
    return np.clip(np.floor(np.asarray(x, dtype=float) + 0.5), 0, 5).astype(int)


def spearman(y, p) -> float:
    return correlation(stats.spearmanr, np.asarray(y, float), np.asarray(p, float))


def mae(y, p) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(p, float))))


def qwk(y, p, n_classes: int = 6) -> float:
    """Quadratic-weighted Cohen's kappa on scores rounded to the integers 0..5."""
    a, b = round_half_up(y), round_half_up(p)
    observed = np.zeros((n_classes, n_classes))
    np.add.at(observed, (a, b), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / max(len(a), 1)
    i, j = np.indices((n_classes, n_classes))
    weights = (i - j) ** 2 / (n_classes - 1) ** 2
    denom = (weights * expected).sum()
    if denom == 0:
        return 1.0 if (weights * observed).sum() == 0 else math.nan
    return float(1.0 - (weights * observed).sum() / denom)


def within(y, p, tol: float) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(p, float)) <= tol + 1e-9))


def auc(y, p, threshold: float = PASS) -> float:
    """ROC-AUC of the predictions for "the human score is at least `threshold`" (ties count half); NaN when the
    rows hold only one class."""
    from scipy.stats import rankdata

    y, p = np.asarray(y, float), np.asarray(p, float)
    pos = y >= threshold
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return math.nan
    ranks = rankdata(p)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def point_metrics(y, p) -> dict[str, float]:
    y, p = np.asarray(y, float), np.asarray(p, float)
    return {"pearson": pearson(y, p), "spearman": spearman(y, p), "rmse": rmse(y, p), "mae": mae(y, p),
            "qwk": qwk(y, p), "within_0_5": within(y, p, 0.5), "within_1": within(y, p, 1.0), "auc": auc(y, p)}


def bootstrap_ci(y, p, groups=None, *, n_boot: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """Percentile intervals from n_boot resamples of questions (of rows where no groups are given), seeded."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    groups = np.asarray(groups if groups is not None else np.arange(len(y)))
    clusters = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    if len(clusters) < 2 or n_boot <= 0:
        return {m: (math.nan, math.nan) for m in METRICS}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = defaultdict(list)
    for _ in range(n_boot):
        idx = np.concatenate([clusters[i] for i in rng.integers(0, len(clusters), len(clusters))])
        for name, value in point_metrics(y[idx], p[idx]).items():
            draws[name].append(value)
    out = {}
    for name in METRICS:
        vals = np.asarray(draws[name], float)
        vals = vals[~np.isnan(vals)]
        out[name] = ((float(np.quantile(vals, alpha / 2)), float(np.quantile(vals, 1 - alpha / 2)))
                     if len(vals) else (math.nan, math.nan))
    return out


def evaluate(y, p, groups=None, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Point metrics and their intervals for one system; rows with no prediction (NaN) are left out and counted."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    ok = ~np.isnan(p)
    if not ok.any():  # e.g. the naive judge with its backend down
        return {"n": 0, "missing": len(p), "metrics": {m: math.nan for m in METRICS},
                "ci95": {m: (math.nan, math.nan) for m in METRICS}}
    g = None if groups is None else np.asarray(groups)[ok]
    return {"n": int(ok.sum()), "missing": int((~ok).sum()), "metrics": point_metrics(y[ok], p[ok]),
            "ci95": bootstrap_ci(y[ok], p[ok], g, n_boot=n_boot, seed=seed)}


def per_group(groups, y, p) -> list[dict]:
    """One line per question: how many answers, mean human vs predicted, MAE and (where defined) Pearson."""
    idx: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        idx[g].append(i)
    y, p = np.asarray(y, float), np.asarray(p, float)
    out = []
    for g in sorted(idx):
        ii = [i for i in idx[g] if not np.isnan(p[i])]
        if not ii:
            continue
        out.append({"group": g, "n": len(ii), "human_mean": float(np.mean(y[ii])), "pred_mean": float(np.mean(p[ii])),
                    "mae": mae(y[ii], p[ii]), "pearson": pearson(y[ii], p[ii])})
    return out
