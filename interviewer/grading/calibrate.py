"""Calibration: the score formulas fitted on our DL set's calib split, and a scale fitted to a user's own graders.

`fit_formulas`: the shipped formulas (`interviewer/resources/resources/grading/calibration.json`), fitted on the calib split only, never
the held-out split and never Mohler. Rows the screen scores 0 by rule (empty, gibberish, off-topic) are left out: no
formula sees them. Grouped cross-validation (by question) on the calib split says how well the fit carries to
questions it did not see.

`fit_user_scale`: a user's labelled answers (any CSV/JSONL `interviewer eval --dataset file` reads) fix the scale, not
the judgement: a monotone line from our score to their labels, saved as a named calibration.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from tqdm import tqdm

from interviewer.grading import agreement
from interviewer.grading.fit import cv_scale, cv_signed, fit_scale, fit_signed
from interviewer.grading.score import FORMULA_FEATURES, SIGNS, Calibration
from interviewer.grading.screen import ZEROED_FLAGS



def collect(grader, rows, progress: bool = True) -> list[dict]:
    out = []
    for row in tqdm(rows, desc="grading", disable=not progress):
        g = grader.score_item(row.question, row.reference, row.answer, key_points=row.key_points,
                              question_id=row.question_id, kind=row.rubric)
        out.append({"group": row.group, "y": row.score5, "features": g.features, "score": g.score,
                    "void": bool(ZEROED_FLAGS & set(g.flags)), "evidence_only": g.evidence_only})
    return out


def _cv_figures(pred: np.ndarray, y: np.ndarray) -> dict:
    return {"pearson": round(agreement.pearson(y, pred), 3), "rmse": round(agreement.rmse(y, pred), 3)}


def fit_formulas(records: list[dict], *, name: str = "default", dataset: str = "evals/datasets/dl") -> Calibration:
    usable = [r for r in records if not r["void"]]
    fitted = {"dataset": dataset, "split": "calib", "rows": len(records), "rows_fitted": len(usable),
              "date": dt.date.today().isoformat()}
    formulas = {}
    for formula, names in FORMULA_FEATURES.items():
        rows = [r for r in usable if all(n in r["features"] for n in names)]
        if len(rows) < 10:
            raise ValueError(f"too few rows with the {formula} features ({len(rows)}) to fit")
        X = np.array([[r["features"][n] for n in names] for r in rows])
        y = np.array([r["y"] for r in rows])
        formulas[formula] = fit_signed(X, y, names, SIGNS)
        fitted[f"{formula}_grouped_cv"] = _cv_figures(cv_signed(X, y, [r["group"] for r in rows], names, SIGNS), y)
    return Calibration(name=name, fitted_on=fitted, **formulas)


def fit_user_scale(base: Calibration, records: list[dict], *, name: str, source: str) -> Calibration:
    """Our formulas, with the line from our score to the user's labels on top (voids included: they are scores too)."""
    raw = np.array([r["score"] for r in records], float)
    y = np.array([r["y"] for r in records], float)
    groups = [r["group"] for r in records]
    scale = fit_scale(raw, y)
    fitted = {"dataset": source, "rows": len(records), "questions": len(set(groups)),
              "date": dt.date.today().isoformat(), "before": _cv_figures(raw, y),
              "after_grouped_cv": _cv_figures(cv_scale(raw, y, groups), y), "base": base.name}
    return base.model_copy(update={"name": name, "scale": scale, "fitted_on": {**base.fitted_on, "user": fitted}})
