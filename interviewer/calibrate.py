"""Fit the score combination on the project's own labelled DL set (calib split only; never heldout, never Mohler).

Non-negative least squares: more evidence of quality can never lower a score, which also keeps the combination
hard to game. Grouped cross-validation on the calib split reports how well the fit generalises to unseen questions.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
from scipy.optimize import nnls
from scipy.stats import pearsonr
from tqdm import tqdm

from interviewer.grader import CALIBRATION_FILE, EVIDENCE_FEATURES, FULL_FEATURES, Grader


def fit_nnls(X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """y ~ b + X w with w >= 0 and a free intercept b (as +1 and -1 columns)."""
    A = np.column_stack([np.ones(len(X)), -np.ones(len(X)), X])
    coef, _ = nnls(A, y)
    return float(coef[0] - coef[1]), coef[2:]


def grouped_cv(X: np.ndarray, y: np.ndarray, groups: list[str], folds: int = 5) -> np.ndarray:
    uniq = sorted(set(groups))
    fold_of = {g: i % folds for i, g in enumerate(uniq)}
    pred = np.zeros_like(y)
    for f in range(folds):
        test = np.array([fold_of[g] == f for g in groups])
        b, w = fit_nnls(X[~test], y[~test])
        pred[test] = np.clip(b + X[test] @ w, 0, 5)
    return pred


def collect(grader: Grader, rows, progress: bool = True) -> list[dict]:
    out = []
    for row in tqdm(rows, desc="calibrate", disable=not progress):
        g = grader.score_item(row.question, row.reference, row.answer, key_points=row.key_points,
                              question_id=row.question_id, kind=row.rubric)
        out.append({"group": row.group, "y": row.score5, "features": g.features, "void": g.score == 0 and bool(
            {"empty", "gibberish", "off-topic"} & set(g.flags)), "evidence_only": g.evidence_only})
    return out


def fit(records: list[dict]) -> dict:
    usable = [r for r in records if not r["void"]]
    result = {"fitted_on": {"dataset": "evals/datasets/dl", "split": "calib", "rows": len(records),
                            "rows_fitted": len(usable), "date": dt.date.today().isoformat()}}
    for kind, names in (("full", FULL_FEATURES), ("evidence", EVIDENCE_FEATURES)):
        rows = [r for r in usable if all(n in r["features"] for n in names)]
        if len(rows) < 10:
            raise ValueError(f"too few rows with {kind} features ({len(rows)}) to fit")
        X = np.array([[r["features"][n] for n in names] for r in rows])
        y = np.array([r["y"] for r in rows])
        b, w = fit_nnls(X, y)
        cv = grouped_cv(X, y, [r["group"] for r in rows])
        result[kind] = {"intercept": round(b, 4), "weights": {n: round(float(v), 4) for n, v in zip(names, w)}}
        result["fitted_on"][f"{kind}_grouped_cv_pearson"] = round(float(pearsonr(cv, y)[0]), 3)
        result["fitted_on"][f"{kind}_grouped_cv_rmse"] = round(float(np.sqrt(np.mean((cv - y) ** 2))), 3)
    return result


def write(calibration: dict, path: Path = CALIBRATION_FILE) -> None:
    path.write_text(json.dumps(calibration, indent=2) + "\n")
