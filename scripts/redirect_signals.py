"""Which labelled DL answers the interviewer would redirect as off the question (interviewer/interview/redirect.py).

    python scripts/redirect_signals.py [--backend local] [--show]

Grades every answer of the DL set (evals/datasets/dl) with the backend's judgements replayed from the committed judge
cache (evals/cache/judge-<backend>.jsonl; no model runs: an answer whose judgement is not cached is graded on evidence
alone and counted), and asks the live rule, with the real store, whether it is off the question. Prints, per answer
kind, how many are redirected: the off-topic kind should be, the others (misconceptions above all: they are
challenged) should not. `--show` lists the off-topic answers kept and the others redirected.
"""

from __future__ import annotations

import argparse
from collections import Counter

from interviewer.settings import get_settings
from interviewer.evals.datasets import load_dl
from interviewer.evals.cache import judge_cache_for
from interviewer import services
from interviewer.interview import conversation as conv
from interviewer.interview.redirect import Topics
from interviewer.bank.bank import load_bank
from interviewer.bank.store import Store, ensure_ingested
from interviewer.llm.base import LLM, LLMError
from interviewer.llm.registry import LOCAL_CAPABILITIES, LOCAL_MODEL


class Replay(LLM):
    """The local model's identity (its judgements' cache keys) without the model: a judgement not cached fails."""

    def _request(self, *args, **kwargs):
        raise LLMError("not in the judge cache")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="local", help="whose cached judgements to replay (local)")
    ap.add_argument("--show", action="store_true", help="list the off-topic answers kept and the others redirected")
    args = ap.parse_args()
    settings = get_settings()
    llm = Replay(None, LOCAL_MODEL, backend=args.backend, capabilities=LOCAL_CAPABILITIES,
                 decoding="jump-forward" if settings.jump_forward else "")
    grader = services.build_grader(settings, llm, judge_cache=judge_cache_for(args.backend))
    bank = {q.id: q for q in load_bank(settings.knowledge_dir).questions}
    store = Store(settings)
    ensure_ingested(store, progress=True)
    topics = Topics(conv._default_embed, store, bank)
    redirected, total, replayed, reasons = Counter(), Counter(), Counter(), Counter()
    shown = []
    for row in load_dl():
        if row.kind == "empty":
            continue
        q = bank[row.question_id]
        grade = grader.score(q, row.answer)
        total[row.kind] += 1
        replayed[row.kind] += bool(grade.judgement) or "off-topic" in grade.flags
        off = topics.off_question(row.answer, grade, q)
        if off is not None:
            redirected[row.kind] += 1
            reasons[off.reason] += 1
        if (off is None) == (row.kind == "off-topic"):
            shown.append((row.kind, q.id, off.reason if off else "kept", row.answer[:110].replace("\n", " ")))
    print(f"{'kind':<14} {'redirected':>10} {'judged':>8}")
    for kind in sorted(total, key=lambda k: (k != "off-topic", k)):
        print(f"{kind:<14} {redirected[kind]:>4} / {total[kind]:<4} {replayed[kind]:>4} / {total[kind]}")
    print("by reason:", dict(reasons))
    if args.show:
        for kind, qid, why, text in shown:
            print(f"- {kind} {qid} ({why}): {text}")


if __name__ == "__main__":
    main()
