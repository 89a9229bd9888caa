"""How close predicted 0-5 scores are to people's: Pearson r and RMSE, what a calibration reports about its fit (and
what the evals build their fuller metrics on)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


def correlation(fn, y: np.ndarray, p: np.ndarray) -> float:
    """`fn` (a scipy correlation) of two score lists; NaN where it is undefined."""
    if len(y) < 3 or np.ptp(y) == 0 or np.ptp(p) == 0:
        return math.nan  # undefined for a constant (e.g. the predict-the-mean baseline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(y, p)[0])


def pearson(y, p) -> float:
    return correlation(stats.pearsonr, np.asarray(y, float), np.asarray(p, float))


def rmse(y, p) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(p, float)) ** 2)))
