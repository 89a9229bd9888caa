"""Fitting, once for the whole project: signed least squares for the score formulas, a monotone scale for a user's
graders, and question-grouped folds for every cross-validated figure (calibration, baselines, recalibrated evals)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
from scipy.optimize import nnls

from interviewer.grading.score import MAX_SCORE, LinearScore, Scale

FOLDS = 5


def grouped_folds(groups: Sequence[str], k: int = FOLDS, seed: int = 0) -> list[np.ndarray]:
    """Test-index arrays; every group (question) lies in exactly one fold, so no question is in train and test."""
    unique = sorted(set(groups))
    random.Random(seed).shuffle(unique)
    k = max(2, min(k, len(unique)))
    fold_of = {g: i % k for i, g in enumerate(unique)}
    labels = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(labels == f) for f in range(k) if (labels == f).any()]


def fit_signed(X: np.ndarray, y: np.ndarray, names: Sequence[str], signs: dict[str, int]) -> LinearScore:
    """y ~ b + X w, each weight of the sign its feature allows (a free intercept as +1 and -1 columns)."""
    s = np.array([signs[n] for n in names], float)
    A = np.column_stack([np.ones(len(y)), -np.ones(len(y)), X * s])
    coef, _ = nnls(A, y)
    return LinearScore(intercept=round(float(coef[0] - coef[1]), 4),
                       weights={n: round(float(sign * c), 4) + 0.0 for n, sign, c in zip(names, s, coef[2:])})


def fit_scale(raw: np.ndarray, y: np.ndarray) -> Scale:
    """The least-squares line from our scores to a user's labels, with a non-negative slope."""
    raw, y = np.asarray(raw, float), np.asarray(y, float)
    A = np.column_stack([np.ones(len(y)), -np.ones(len(y)), raw])
    coef, _ = nnls(A, y)
    return Scale(offset=round(float(coef[0] - coef[1]), 4), slope=round(float(coef[2]), 4))


def cv_scale(raw: np.ndarray, y: np.ndarray, groups: Sequence[str], *, k: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Out-of-fold scores after a scale fitted on the other questions' rows (the "recalibrated" row of an eval)."""
    raw, y = np.asarray(raw, float), np.asarray(y, float)
    out = np.full(len(y), math.nan)
    ok = ~np.isnan(raw)
    idx = np.flatnonzero(ok)
    if len({groups[i] for i in idx}) < 2:
        return out
    for test in grouped_folds([groups[i] for i in idx], k, seed):
        train = np.setdiff1d(np.arange(len(idx)), test)
        scale = fit_scale(raw[idx[train]], y[idx[train]])
        out[idx[test]] = [scale(float(v)) for v in raw[idx[test]]]
    return out


def cv_signed(X: np.ndarray, y: np.ndarray, groups: Sequence[str], names: Sequence[str], signs: dict[str, int], *,
              k: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Out-of-fold predictions of the signed fit, clipped to the score range."""
    pred = np.zeros(len(y))
    for test in grouped_folds(groups, k, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        model = fit_signed(X[train], y[train], names, signs)
        pred[test] = np.clip(model.intercept + X[test] @ np.array([model.weights[n] for n in names]), 0, MAX_SCORE)
    return pred
