"""Levers on the judgement itself that the shipped grader does not use, measured on the same rows as the score's.

Each probe asks the embedded model one more question per answer and reads the probability of its one-character reply
(the grammar forces it), as the grader reads its verdicts:
- holistic: "how correct and complete, one digit 0-5" against the reference (experiments/prompts/lever_holistic*.md), read as the
  expected digit: the single-prompt judgement the score could add as a feature;
- wrong_claim: "does the answer make a wrong claim, y/n" (experiments/prompts/lever_wrong_claim*.md): a detector of confident
  misconceptions, which the per-key-point "contradicted" verdict rarely gives;
- anchors: the grader's own features when the reference itself is the answer, per question: the judge's ceiling, to
  see whether dividing by it would lift answers the judge under-credits.

`ask` writes one JSONL line per row (row index, human score, reply, distribution) and resumes where it stopped;
`table` fits each form on the DL calib split only (signed least squares, as the shipped formulas) and reads it on the
held-out split and Mohler, beside the shipped form on the same rows. Needs the dumps of experiments/formula_levers.py:
    python experiments/formula_levers.py --dataset dl --split calib --dump DIR/dl_calib.jsonl   (and dl_heldout, mohler)
    python experiments/judge_levers.py ask --probe holistic --set dl_calib --dir DIR          (and the other sets)
    python experiments/judge_levers.py ask --probe wrong_claim --set dl_calib --dir DIR
    python experiments/judge_levers.py table --dir DIR
    python experiments/judge_levers.py anchors --out DIR/anchors.json
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from interviewer.evals import metrics
from interviewer.evals.datasets import load_dataset, select
from interviewer.grading.choices import Slot, distribution_at, expected
from interviewer.grading.fit import cv_signed, fit_signed
from interviewer.grading.judge import DIGITS, TOP_LOGPROBS
from interviewer.grading.score import FORMULA_FEATURES, MAX_SCORE
from score_forms import DERIVED_SIGNS, load, matrix, predict  # experiments/ is on the path when this runs

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "experiments" / "prompts"  # the levers' prompts: not the product's
MOHLER_CSV = ROOT.parent / "shared" / "graderdata" / "mohler" / "mohler_dataset_edited.csv"
ANSWER_CHARS = 4000  # the probe reads this much of an answer (the screen allows more; no DL or Mohler answer is longer)


def _lever_prompt(name: str, **variables) -> str:
    text = (PROMPTS / f"{name}.md").read_text(encoding="utf-8")
    return text.format(**variables) if variables else text


PROBES = {"holistic": DIGITS, "wrong_claim": "yn"}  # probe -> the characters its grammar allows
SHIPPED = FORMULA_FEATURES["full"]
FORMS: dict[str, tuple[str, ...]] = {
    "shipped": SHIPPED,
    "shipped + holistic": SHIPPED + ("holistic",),
    "shipped + holistic + emb_kp_mean": SHIPPED + ("holistic", "emb_kp_mean"),
    "holistic only": ("holistic",),
    "holistic + grounded_root + emb_gain": ("holistic", "grounded_root", "emb_gain"),
    "judge only + holistic": ("coverage", "correctness", "contradiction", "holistic"),
    "shipped + wrong_claim": SHIPPED + ("wrong_claim",),
}
SIGNS = {**DERIVED_SIGNS, "holistic": 1, "wrong_claim": -1}
KINDS = ("terse", "misconception", "padded-wrong")


def rows_of(set_name: str):
    """dl_calib, dl_heldout, dl (both splits) or mohler."""
    if set_name == "mohler":
        return load_dataset("mohler", MOHLER_CSV)
    return select(load_dataset("dl"), split=set_name.removeprefix("dl").removeprefix("_") or "all")


def ask(probe: str, set_name: str, directory: Path) -> None:
    from interviewer.evals.runner import grader_and_llm

    _, llm, _ = grader_and_llm("local")
    allowed = PROBES[probe]
    out = directory / f"{probe}_{set_name}.jsonl"
    done = {json.loads(line)["i"] for line in out.read_text().splitlines()} if out.exists() else set()
    system = _lever_prompt(f"lever_{probe}").rstrip("\n")
    with out.open("a") as f:
        for i, row in enumerate(rows_of(set_name)):
            if i in done:
                continue
            user = _lever_prompt(f"lever_{probe}_user", question=row.question, reference=row.reference,
                               answer=row.answer[:ANSWER_CHARS]).rstrip("\n")
            reply = llm.generate([{"role": "system", "content": system}, {"role": "user", "content": user}],
                                 max_tokens=1, grammar=f"root ::= [{allowed}]", top_logprobs=TOP_LOGPROBS, task="judge")
            dist = distribution_at(reply.text, reply.tokens, Slot(offset=0, allowed=allowed)) if reply.tokens else None
            f.write(json.dumps({"i": i, "y": row.score5, "text": reply.text, "dist": dist}) + "\n")
            f.flush()


def attach(rows: list[dict], directory: Path, set_name: str) -> list[dict]:
    """The dump's rows that every probe answered, with the probes' features (holistic: expected digit / 5;
    wrong_claim: P(y))."""
    found = {}
    for probe in PROBES:
        path = directory / f"{probe}_{set_name}.jsonl"
        if path.exists():
            found[probe] = {(h := json.loads(line))["i"]: h["dist"] or {h["text"]: 1.0}
                            for line in path.read_text().splitlines()}
    keep = []
    for i, r in enumerate(rows):
        if "holistic" not in found or i not in found["holistic"]:
            continue
        d = found["holistic"][i]
        r["features"]["holistic"] = expected(d, {c: int(c) / MAX_SCORE for c in DIGITS})
        if "wrong_claim" in found:
            if i not in found["wrong_claim"]:
                continue
            r["features"]["wrong_claim"] = found["wrong_claim"][i].get("y", 0.0)
        keep.append(r)
    return keep


def by_kind(rows: list[dict], pred: np.ndarray) -> str:
    y = np.array([r["y"] for r in rows])
    cells = []
    for k in KINDS:
        idx = [i for i, r in enumerate(rows) if r["kind"] == k]
        if idx:
            cells.append(f"{pred[idx].mean():.2f} ({y[idx].mean():.2f})")
    return " / ".join(cells)


def table(directory: Path) -> None:
    sets = {s: attach(load(directory / f"{s}.jsonl"), directory, s) for s in ("dl_calib", "dl_heldout", "mohler")
            if (directory / f"{s}.jsonl").exists()}
    calib = sets.pop("dl_calib")
    live = [r for r in calib if not r["void"]]
    yc, groups = np.array([r["y"] for r in live]), [r["group"] for r in live]
    has_wrong = all("wrong_claim" in r["features"] for r in live)
    print(f"rows: calib {len(calib)}, " + ", ".join(f"{s} {len(v)}" for s, v in sets.items()))
    head = ["form", "calib CV r / RMSE", "calib CV terse / misconception / padded-wrong (human)"]
    for s in sets:
        head += [f"{s} r / RMSE", f"{s} mean (human)"] + (["held-out by kind (human)"] if s == "dl_heldout" else [])
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for name, feats in FORMS.items():
        if "wrong_claim" in feats and not has_wrong:
            continue
        model = fit_signed(matrix(calib, feats), yc, feats, SIGNS)
        cv = cv_signed(matrix(calib, feats), yc, groups, feats, SIGNS)
        cells = [name, f"{metrics.pearson(yc, cv):.3f} / {metrics.rmse(yc, cv):.3f}", by_kind(live, cv)]
        for s, rows in sets.items():
            if "wrong_claim" in feats and not all("wrong_claim" in r["features"] for r in rows if not r["void"]):
                cells += ["-", "-"] + (["-"] if s == "dl_heldout" else [])
                continue
            y, p = np.array([r["y"] for r in rows]), predict(rows, model, feats)
            cells += [f"{metrics.pearson(y, p):.3f} / {metrics.rmse(y, p):.3f}", f"{p.mean():.2f} ({y.mean():.2f})"]
            if s == "dl_heldout":
                cells.append(by_kind(rows, p))
        print("| " + " | ".join(cells) + " |")
    if has_wrong:
        print("\nwrong_claim P(y) by kind on calib:", ", ".join(
            f"{k} {np.mean([r['features']['wrong_claim'] for r in live if r['kind'] == k]):.2f}"
            for k in sorted({r["kind"] for r in live})))


def anchors(out: Path) -> None:
    from interviewer.evals.runner import grader_and_llm

    grader, _, _ = grader_and_llm("local")
    found = {}
    for set_name in ("dl", "mohler"):
        seen = set()
        for row in rows_of(set_name):
            if row.question_id in seen:
                continue
            seen.add(row.question_id)
            g = grader.score_item(row.question, row.reference, row.reference, key_points=row.key_points,
                                  question_id=row.question_id, kind=row.rubric)
            found[f"{set_name}:{row.question_id}"] = {"features": g.features, "score": g.score}
    out.write_text(json.dumps(found))
    for set_name in ("dl", "mohler"):
        v = [a for k, a in found.items() if k.startswith(set_name + ":")]
        print(f"{set_name}: {len(v)} questions, the reference as the answer: " + ", ".join(
            f"{f} {np.mean([a['features'][f] for a in v]):.2f}" for f in ("coverage", "correctness", "grounded_root"))
            + f", score {np.mean([a['score'] for a in v]):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("ask")
    a.add_argument("--probe", choices=list(PROBES), required=True)
    a.add_argument("--set", choices=("dl_calib", "dl_heldout", "mohler"), required=True)
    a.add_argument("--dir", type=Path, required=True)
    t = sub.add_parser("table")
    t.add_argument("--dir", type=Path, required=True)
    n = sub.add_parser("anchors")
    n.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.command == "ask":
        args.dir.mkdir(parents=True, exist_ok=True)
        ask(args.probe, args.set, args.dir)
    elif args.command == "table":
        table(args.dir)
    else:
        anchors(args.out)


if __name__ == "__main__":
    main()
