"""Is the feedback grounded? Grades every DL answer of a split (default: held-out) and checks each bullet. Prints
counts; asserts nothing.

  python scripts/check_feedback.py [--split heldout] [--backend local]

- Strengths: every bullet must carry a quote (between “ and ”) that occurs in the answer, verbatim.
- To improve: outside its quotes, no bullet may repeat the answer's own words (a run of RUN words that the reference
  does not also contain) for an answer that is wrong (kinds misconception, padded-wrong, off-topic) or about a key
  point judged contradicted: that would be a wrong claim handed back as advice. Runs the answer shares with the
  reference are counted apart: a wrong answer that borrows the reference's wording is not a wrong claim repeated.
Judgements come from the committed judge cache where the eval already made them (no model call for those).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

from interviewer.evals.datasets import load_dl, select
from interviewer.evals.runner import grader_and_llm
from interviewer.grading.screen import normalise

RUN = 4
WRONG_KINDS = {"misconception", "padded-wrong", "off-topic"}
_QUOTED = re.compile(r"“[^”]*”")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def runs(text: str, n: int = RUN) -> set[tuple[str, ...]]:
    w = words(text)
    return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="heldout")
    ap.add_argument("--backend", default=None)
    args = ap.parse_args()
    grader, llm, _ = grader_and_llm(args.backend)
    rows = select(load_dl(), split=args.split)
    c: Counter[str] = Counter()
    bad: list[str] = []
    for row in rows:
        g = grader.score_item(row.question, row.reference, row.answer, key_points=row.key_points,
                              question_id=row.question_id, kind=row.rubric)
        answer = " ".join(normalise(row.answer).split())
        for s in g.strengths:
            c["strengths"] += 1
            quotes = [q.strip("“”").rstrip(" …") for q in _QUOTED.findall(s)]
            if quotes and all(q in answer for q in quotes):
                c["strengths quoted verbatim"] += 1
            else:
                bad.append(f"strength without a verbatim quote ({row.question_id}, {row.kind}): {s}")
        wrong = row.kind in WRONG_KINDS
        contradicted = {k.point for k in g.key_points if k.status == "contradicted"}
        for i in g.improvements:
            c["improvements"] += 1
            about_wrong = wrong or any(p.rstrip(".")[:40].lower() in i.lower() for p in contradicted)
            if not about_wrong:
                continue
            c["improvements on wrong answers or contradicted points"] += 1
            shared = runs(_QUOTED.sub(" ", i)) & runs(answer)
            if shared:
                c["of those, sharing words with the answer"] += 1
            # Words the answer shares with the reference are the reference's claim, not the answer's.
            if shared - runs(" ".join([row.reference, *(row.key_points or [])])):
                c["of those, repeating the answer's own words as advice"] += 1
                bad.append(f"advice repeats the answer ({row.question_id}, {row.kind}): {i}")
    print(f"{len(rows)} answers ({args.split}), backend {llm.backend}")
    for k in ("strengths", "strengths quoted verbatim", "improvements",
              "improvements on wrong answers or contradicted points",
              "of those, sharing words with the answer", "of those, repeating the answer's own words as advice"):
        print(f"{k:>55}: {c[k]}")
    for line in bad[:20]:
        print("  -", line)


if __name__ == "__main__":
    main()
