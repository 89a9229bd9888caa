"""The grader's own score of every authored anchor, shipped for the embedded default (interviewer/grading/
anchor_scores.json): an answer's anchored grade compares its score with its neighbours', and without this file each
question's first grade on a new install would first grade its nine anchors (about 10-20 s of model time).

    python scripts/score_anchors.py [--backend local] [--judge-cache PATH]

The file is keyed by the grader's scorer identity (model, prompts, score formulas, GRADER_VERSION): when any of
them changes the shipped scores are ignored and made again on first need, until this script is run again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm


def main(argv: list[str]) -> int:
    from interviewer.settings import get_settings
    from interviewer.grading.anchor_book import SHIPPED_SCORES, write_shipped
    from interviewer.grading.cache import JsonlCache
    from interviewer import services
    from interviewer.grading.grader import authored_anchors
    from interviewer.grading.judge import rubric_kind
    from interviewer.bank.bank import load_bank

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="local")
    ap.add_argument("--judge-cache", type=Path, default=None, help="replay (and keep) judgements in this JSONL file")
    ap.add_argument("--out", type=Path, default=SHIPPED_SCORES)
    args = ap.parse_args(argv)
    settings = get_settings()
    llm = services.make_llm(settings, args.backend, on_progress=lambda m: print(m, file=sys.stderr))
    grader = services.build_grader(settings, llm,
                                   judge_cache=JsonlCache(args.judge_cache) if args.judge_cache else None)
    bank = load_bank(settings.knowledge_dir).by_id()
    scores: dict[str, float] = {}
    failed = 0
    for qid, anchors in tqdm(sorted(authored_anchors(settings).items()), desc="questions", file=sys.stderr):
        q = bank[qid]
        for a in anchors:
            g = grader.score_item(q.question, q.reference_answer, a.text, key_points=list(q.key_points),
                                  question_id=qid, kind=rubric_kind(q.tier))
            if g.evidence_only:
                failed += 1
                continue
            scores[a.text_id] = round(g.score, 4)
    write_shipped(grader.scorer_id, scores, args.out)
    print(f"{len(scores)} anchors scored ({failed} failed: the model did not answer) -> {args.out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
