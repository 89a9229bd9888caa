"""Other forms of the score formula, fitted on the DL calib split only and read on the held-out split and Mohler.

Works on the dumps of experiments/formula_levers.py (no model calls: the same judgements, scored several ways):
    python experiments/formula_levers.py --dataset dl --split calib --dump /tmp/calib.jsonl
    python experiments/formula_levers.py --dataset dl --split heldout --dump /tmp/heldout.jsonl
    python experiments/formula_levers.py --dataset mohler --path ../shared/graderdata/mohler/mohler_dataset_edited.csv \\
        --dump /tmp/mohler.jsonl
    python experiments/score_forms.py --calib /tmp/calib.jsonl --heldout /tmp/heldout.jsonl --mohler /tmp/mohler.jsonl

Each form is a feature list fitted by the shipped signed least squares (`grading.fit.fit_signed`); rows the screen
zeroes keep the score they had. Besides the grader's features (emb_gain among them: how much closer the answer comes
to each key point than the bare question does) it can use:
- grounded_gain: each key point's expected credit times that key point's gain;
- max_gain: the largest gain over the key points (not shipped: its scale grows with the number of key points, 2.0x
  the mean gain at 4 points, 2.3x at 6, 1.0x at 1, so a weight fitted on DL's 4-6 points does not carry to a short
  reference's 1-2).
Dumps made before grounded_root existed get it from their grounded_coverage.
Prints one table (the CV gain over the previous form is resampled by question, as the evals are); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from interviewer.evals import metrics
from interviewer.grading.choices import expected
from interviewer.grading.fit import cv_signed, fit_signed
from interviewer.grading.score import MAX_SCORE, SIGNS
from interviewer.prompts import load_verdicts

CREDIT = {v["status"]: float(v["credit"]) for v in load_verdicts()}
DERIVED_SIGNS = {**SIGNS, "grounded_gain": 1, "max_gain": 1}
FORMS: dict[str, tuple[str, ...]] = {
    "previous (grounded_coverage + emb_kp_mean)": ("coverage", "correctness", "contradiction", "grounded_coverage",
                                                   "emb_kp_mean"),
    "without emb_kp_mean": ("coverage", "correctness", "contradiction", "grounded_coverage"),
    "emb_gain for emb_kp_mean": ("coverage", "correctness", "contradiction", "grounded_coverage", "emb_gain"),
    "shipped: + grounded_root": ("coverage", "correctness", "contradiction", "grounded_coverage", "grounded_root",
                                 "emb_gain"),
    "+ grounded_root + max_gain": ("coverage", "correctness", "contradiction", "grounded_coverage", "grounded_root",
                                   "emb_gain", "max_gain"),
    "+ grounded_root + emb_kp_mean": ("coverage", "correctness", "contradiction", "grounded_coverage",
                                      "grounded_root", "emb_gain", "emb_kp_mean"),
    "emb_gain + emb_kp_mean": ("coverage", "correctness", "contradiction", "grounded_coverage", "emb_gain",
                               "emb_kp_mean"),
    "grounded_gain + emb_gain": ("coverage", "correctness", "contradiction", "grounded_gain", "emb_gain"),
    "grounded_gain only judge-gated": ("coverage", "correctness", "contradiction", "grounded_gain"),
    "judge only": ("coverage", "correctness", "contradiction"),
    "evidence (model down), previous": ("emb_kp_mean", "emb_ref"),
    "evidence, emb_gain for emb_kp_mean": ("emb_gain", "emb_ref"),
    "evidence, shipped: emb_gain + emb_kp_mean": ("emb_gain", "emb_kp_mean", "emb_ref"),
}
BASELINE = "emb_gain for emb_kp_mean"  # the form the next column compares with
RESAMPLES = 2000
CV_KINDS = ("terse", "misconception", "padded-wrong")
KINDS = ("excellent", "incomplete", "partial", "terse", "misconception", "padded-wrong")


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for r in rows:
        if r["void"]:
            continue
        gains = [max(0.0, s - q) for s, q in zip(r["similarities"], r["question_similarities"])]
        credits = [expected(d, CREDIT) for d in r["statuses"]]
        f = r["features"]
        f["grounded_gain"] = float(np.mean([c * g for c, g in zip(credits, gains)])) if gains else 0.0
        f["max_gain"] = max(gains, default=0.0)
        f.setdefault("grounded_root", float(np.sqrt(max(0.0, f["grounded_coverage"]))))
    return rows


def matrix(rows: list[dict], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[r["features"][n] for n in names] for r in rows if not r["void"]], float)


def predict(rows: list[dict], model, names: tuple[str, ...]) -> np.ndarray:
    live = matrix(rows, names)
    raw = np.clip(model.intercept + live @ np.array([model.weights[n] for n in names]), 0, MAX_SCORE)
    out, it = [], iter(raw)
    for r in rows:
        out.append(r["score"] if r["void"] else float(next(it)))
    return np.array(out)


def paired_gain(y: np.ndarray, groups: list[str], pred: np.ndarray, base: np.ndarray, seed: int = 0) -> str:
    """The CV r gained over the baseline form, with its SD and P(gain <= 0) over resampled questions."""
    rng = np.random.default_rng(seed)
    by_group = {g: np.flatnonzero(np.array(groups) == g) for g in dict.fromkeys(groups)}
    names = list(by_group)
    gains = []
    for _ in range(RESAMPLES):
        idx = np.concatenate([by_group[g] for g in rng.choice(names, len(names))])
        gains.append(metrics.pearson(y[idx], pred[idx]) - metrics.pearson(y[idx], base[idx]))
    gains = np.array(gains)
    gain = metrics.pearson(y, pred) - metrics.pearson(y, base)
    return f"{gain:+.3f} (sd {gains.std():.3f}, P<=0 {np.mean(gains <= 0):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calib", type=Path, required=True)
    ap.add_argument("--heldout", type=Path, required=True)
    ap.add_argument("--mohler", type=Path)
    args = ap.parse_args()
    calib, held = load(args.calib), load(args.heldout)
    mohler = load(args.mohler) if args.mohler else []
    live_c = [r for r in calib if not r["void"]]
    yc = np.array([r["y"] for r in live_c])
    head = ["form", "weights (intercept first)", "calib CV r / RMSE", f"calib CV r gained over '{BASELINE}'",
            *(f"calib CV {k} (human)" for k in CV_KINDS), "held-out r / RMSE", "judged r",
            *(f"{k} (human)" for k in KINDS if any(r["kind"] == k for r in held))]
    if mohler:
        head.append("Mohler r / RMSE / mean (human)")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    yh = np.array([r["y"] for r in held])
    live_h = np.array([not r["void"] for r in held])
    groups = [r["group"] for r in live_c]
    cvs = {name: cv_signed(matrix(calib, feats), yc, groups, feats, DERIVED_SIGNS) for name, feats in FORMS.items()}
    for name, feats in FORMS.items():
        model = fit_signed(matrix(calib, feats), yc, feats, DERIVED_SIGNS)
        cv = cvs[name]
        ph = predict(held, model, feats)
        cells = [name, " ".join([f"{model.intercept:+.2f}", *(f"{model.weights[n]:+.2f}" for n in feats)]),
                 f"{metrics.pearson(yc, cv):.3f} / {metrics.rmse(yc, cv):.3f}",
                 paired_gain(yc, groups, cv, cvs[BASELINE]),
                 *(f"{cv[i].mean():.2f} ({yc[i].mean():.2f})" for i in
                   ([j for j, r in enumerate(live_c) if r["kind"] == k] for k in CV_KINDS)),
                 f"{metrics.pearson(yh, ph):.3f} / {metrics.rmse(yh, ph):.3f}",
                 f"{metrics.pearson(yh[live_h], ph[live_h]):.3f}"]
        for k in KINDS:
            idx = [i for i, r in enumerate(held) if r["kind"] == k]
            if idx:
                cells.append(f"{ph[idx].mean():.2f} ({yh[idx].mean():.2f})")
        if mohler:
            ym = np.array([r["y"] for r in mohler])
            pm = predict(mohler, model, feats)
            cells.append(f"{metrics.pearson(ym, pm):.3f} / {metrics.rmse(ym, pm):.3f} / {pm.mean():.2f} ({ym.mean():.2f})")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
