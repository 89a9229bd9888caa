"""What each part of the score gives, on the same rows: the shipped formulas and their levers, side by side.

Grades every row once through the real grader (judgements come from the eval's judge cache, so a dataset already
evaluated replays in about a minute), then scores the same judgements several ways:

- full: the shipped formula (fitted on the DL calib split only);
- judge only / evidence only: the shipped formulas that drop the embeddings or the model;
- full, argmax verdicts: the shipped formula fed one-hot verdicts (each key point's most likely letter) instead of
  the judge's probabilities;
- full, refitted (grouped CV): the same features refitted on these rows by question-grouped 5-fold CV: what the
  features could give on this data, not a zero-shot figure.

Rows the screen scores 0 by rule keep their 0 in every column. Usage:
    python experiments/formula_levers.py --dataset dl --split heldout
    python experiments/formula_levers.py --dataset mohler --path ../shared/graderdata/mohler/mohler_dataset_edited.csv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from interviewer.evals import metrics
from interviewer.evals.datasets import load_dataset, select
from interviewer.evals.runner import grader_and_llm
from interviewer.grading.choices import expected, one_hot
from interviewer.grading.fit import cv_signed
from interviewer.grading.score import FORMULA_FEATURES, SIGNS, grounded_features, load_calibration
from interviewer.grading.screen import ZEROED_FLAGS
from interviewer.prompts import load_verdicts


def argmax_features(grade, credit: dict[str, float]) -> dict[str, float]:
    """coverage and grounded coverage from each key point's most likely status."""
    points = [k for k in grade.key_points if k.probabilities]
    if not points:
        return {}
    hard = [one_hot(max(k.probabilities, key=k.probabilities.get), list(k.probabilities)) for k in points]
    return {"coverage": float(np.mean([expected(d, credit) for d in hard])),
            **grounded_features(hard, [k.similarity for k in points], credit)}


def question_similarities(question: str, reference: str, points: list[str]) -> list[float]:
    """How close the bare question comes to each key point (the grader's own vectors for this question, cached)."""
    from interviewer.grading.evidence import question_vectors

    return [round(float(x), 4) for x in question_vectors(question, reference, tuple(points))[3]] if points else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="dl")
    ap.add_argument("--split", default="heldout")
    ap.add_argument("--path", type=Path)
    ap.add_argument("--backend", default="local")
    ap.add_argument("--dump", type=Path, help="write each row's human score, group, kind, features, flags and key-point "
                                              "probabilities and similarities (JSONL), for experiments/score_forms.py")
    args = ap.parse_args()
    rows = load_dataset(args.dataset, args.path)
    if args.dataset == "dl":
        rows = select(rows, split=args.split)
    grader, llm, _ = grader_and_llm(args.backend)
    cal = load_calibration()
    credit = {v["status"]: float(v["credit"]) for v in load_verdicts()}
    y, groups, cols, void = [], [], {}, []
    feats_full, dumped = [], []
    names = ["full", "judge only", "evidence only", "full, argmax verdicts"]
    for row in rows:
        g = grader.score_item(row.question, row.reference, row.answer, key_points=row.key_points,
                              question_id=row.question_id, kind=row.rubric)
        y.append(row.score5)
        groups.append(row.group)
        is_void = bool(ZEROED_FLAGS & set(g.flags)) or g.evidence_only or "grounded_coverage" not in g.features
        void.append(is_void)
        f = g.features
        hard = {**f, **argmax_features(g, credit)} if not is_void else f
        preds = [g.score, cal.judge(f), cal.evidence(f), cal.full(hard)] if not is_void else [g.score] * 4
        for n, p in zip(names, preds):
            cols.setdefault(n, []).append(p)
        dumped.append({"y": row.score5, "group": row.group, "kind": row.kind, "question_id": row.question_id,
                       "features": f, "flags": g.flags, "score": g.score, "void": is_void,
                       "statuses": [k.probabilities for k in g.key_points],
                       "similarities": [k.similarity for k in g.key_points],
                       "question_similarities": question_similarities(row.question, row.reference,
                                                                      [k.point for k in g.key_points])})
        feats_full.append([f.get(n, 0.0) for n in FORMULA_FEATURES["full"]])
    if args.dump:
        args.dump.write_text("".join(json.dumps(d) + "\n" for d in dumped))
    y, void = np.array(y, float), np.array(void)
    live = ~void
    X = np.array(feats_full)[live]
    refit = np.array(cols["full"], float)
    refit[live] = cv_signed(X, y[live], [gr for gr, v in zip(groups, live) if v], list(FORMULA_FEATURES["full"]),
                            SIGNS)
    cols["full, refitted (grouped CV)"] = refit
    print(f"{len(y)} rows, {int(live.sum())} need a judgement; backend {llm.backend}/{llm.cache_id}")
    print("| score | pearson (all) | rmse (all) | pearson (judged rows) | rmse (judged rows) | mean (judged) |")
    print("|---|---|---|---|---|---|")
    print(f"| human | - | - | - | - | {y[live].mean():.2f} |")
    for n, p in cols.items():
        p = np.array(p, float)
        print(f"| {n} | {metrics.pearson(y, p):.3f} | {metrics.rmse(y, p):.3f} | {metrics.pearson(y[live], p[live]):.3f}"
              f" | {metrics.rmse(y[live], p[live]):.3f} | {p[live].mean():.2f} |")


if __name__ == "__main__":
    main()
