"""Eval throughput at several `--concurrency` levels on the same rows (default: 40 Mohler rows, embedded model).

Every level gets a grader of its own with no judge cache and an in-memory grade cache, so each answer is judged by the
model anew; the key points of the rows' questions are derived (and cached on disk) before any timing, so the first
level does not pay for them. Prints answers/min per level, not a timed test. On the embedded llama.cpp server, which
answers one request at a time, expect little gain: the point of concurrency is a server that batches (vLLM).

  python scripts/bench_eval_concurrency.py [--path ../shared/graderdata/mohler/mohler_dataset_edited.csv]
      [--limit 40] [--levels 1 2] [--backend local]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from interviewer.settings import get_settings
from interviewer.evals.datasets import load_mohler, select
from interviewer.evals.runner import run_eval
from interviewer import services
from interviewer.grading.keypoints import derive

PROJECT_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_MOHLER = PROJECT_ROOT.parent / "shared" / "graderdata" / "mohler" / "mohler_dataset_edited.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", type=Path, default=DEFAULT_MOHLER)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--backend", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = get_settings()
    llm = services.make_llm(settings, args.backend)
    rows = select(load_mohler(args.path), limit=args.limit, seed=args.seed)
    for q, ref in sorted({(r.question, r.reference) for r in rows}):
        derive(llm, q, ref, settings.data_dir)
    print(f"{len(rows)} rows, {len({r.group for r in rows})} questions, backend {llm.backend} ({llm.cache_id})")
    scores: dict[int, list[float | None]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for level in args.levels:
            started = time.perf_counter()
            res = run_eval(rows, services.build_grader(settings, llm), dataset="mohler", out_dir=Path(tmp) / f"c{level}",
                           cache_path=None, run_probes=False, n_boot=0, progress=False, concurrency=level)
            wall = time.perf_counter() - started
            lat = res["latency"]
            scores[level] = [r["grader"] for r in res["per_row"]]
            print(f"concurrency {level}: {lat['throughput_per_min']:.1f} answers/min ({lat['throughput_basis']}); "
                  f"per-answer p50 {lat['p50_s']:.2f} s, p95 {lat['p95_s']:.2f} s; {lat['fresh_calls']} fresh grades; "
                  f"run wall {wall:.1f} s; grader r {res['systems']['grader']['metrics']['pearson']:.3f}; "
                  f"errors {res['grader_errors'] or 'none'}")
    first = args.levels[0]
    for level in args.levels[1:]:
        diffs = [abs(a - b) for a, b in zip(scores[first], scores[level]) if a is not None and b is not None]
        print(f"concurrency {level} vs {first}: {sum(d > 0 for d in diffs)} of {len(diffs)} rows scored differently, "
              f"max |difference| {max(diffs, default=0):.3f}")


if __name__ == "__main__":
    main()
