"""Grader latency per phase on a backend (default: the embedded local model). Prints p50/p95, not a timed test.

Phases: evidence (embeddings), judge (one short LLM reply with logprobs), anchors (the question's graded answers read,
their vectors and the grader's own scores of them looked up, the nearest weighed), score (screen + evidence + judge + score +
feedback: the whole grade is known here), feedback first token (from the score to the first line of feedback: the
feedback is built from the verdicts, so it is ready with the score). Each question is `prepare`d first, as the
interview does while the candidate is thinking, so the judge prompt's prefix is already in llama.cpp's cache.

  python scripts/bench_grader.py [--backend local] [--n 12] [--no-prepare] [--sampler NAME|all]

--sampler (local backend) restarts the embedded server with that decoding first: stock (llama-cpp-python's sampler
chain), grammar-last (our sampler), jump-forward (our sampler + forced text read in batches, the default); `all` runs
the three and prints each one's p50 over jump-forward's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from interviewer.settings import get_settings
from interviewer.evals.datasets import load_dl
from interviewer import services
from interviewer.llm.localserver import stop_server
from interviewer.bank.store import ensure_ingested, get_store


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(xs, p)) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default=None)
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--no-prepare", action="store_true")
    ap.add_argument("--sampler", choices=(*SAMPLERS, "all"), default=None)
    args = ap.parse_args()
    settings = get_settings()
    store = get_store()
    ensure_ingested(store)
    if not args.sampler:
        run(settings, store, args)
        return
    p50 = {}
    for name in SAMPLERS if args.sampler == "all" else (args.sampler,):
        stop_server(settings)  # the running server may decode otherwise
        print(f"-- sampler: {name}")
        p50[name] = run(settings.model_copy(update=SAMPLERS[name]), store, args)
    stop_server(settings)
    if len(p50) > 1:
        for name in ("stock", "grammar-last"):
            for k in ("score", "judge"):
                print(f"{k:>22}: {name} / jump-forward p50 = {p50[name][k] / p50['jump-forward'][k]:.2f}x")


SAMPLERS = {"stock": {"local_grammar_last": False, "local_jump_forward": False},
            "grammar-last": {"local_grammar_last": True, "local_jump_forward": False},
            "jump-forward": {"local_grammar_last": True, "local_jump_forward": True}}


def run(settings, store, args) -> dict[str, float]:
    llm = services.make_llm(settings, args.backend or ("local" if args.sampler else None))
    grader = services.build_grader(settings, llm, store=store)
    rows = [r for r in load_dl() if r.kind in ("excellent", "partial", "incomplete")]
    rows = rows[:: max(1, len(rows) // args.n)][: args.n]
    phases: dict[str, list[float]] = {"prepare": [], "evidence": [], "judge": [], "anchors": [], "score": [],
                                      "feedback_first_token": []}
    for row in rows:
        q = store.question(row.question_id)
        if not args.no_prepare:
            t = time.perf_counter()
            grader.prepare(q)
            phases["prepare"].append(time.perf_counter() - t)
        g = grader.score(q, row.answer)
        t = time.perf_counter()
        next(iter(grader.stream_feedback(q, row.answer, g)))
        phases["feedback_first_token"].append(time.perf_counter() - t)
        for k in ("evidence", "judge", "anchors", "score"):
            if k in g.latency_s:
                phases[k].append(g.latency_s[k])
    print(f"backend {llm.backend}/{llm.model}, {len(rows)} answers, prepare={'off' if args.no_prepare else 'on'}, "
          f"threads={settings.local_threads}")
    for k, xs in phases.items():
        if xs:
            print(f"{k:>22}: p50 {statistics.median(xs):7.3f} s   p95 {pct(xs, 95):7.3f} s   (n={len(xs)})")
    return {k: statistics.median(xs) for k, xs in phases.items() if xs}


if __name__ == "__main__":
    main()
