"""Question search quality and speed on the retrieval fixtures.

    python scripts/bench_retrieval.py

Prints top-1 / top-3 per fixture (tests/fixtures/retrieval: written beside the bank; retrieval_spoken: written from
topics as people speak) with 95% intervals that resample queries, and query latency p50 / p95.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import yaml

from interviewer import PROJECT_ROOT
from interviewer.knowledge.store import Store, ensure_ingested

FIXTURES = {"beside the bank": PROJECT_ROOT / "tests" / "fixtures" / "retrieval",
            "spoken": PROJECT_ROOT / "tests" / "fixtures" / "retrieval_spoken"}
RESAMPLES = 2000


def load(folder: Path) -> list[dict]:
    return [q for p in sorted(folder.glob("*.yaml")) for q in yaml.safe_load(p.read_text())["queries"]]


def interval(hits: list[int]) -> tuple[float, float]:
    rng = random.Random(0)
    means = sorted(sum(rng.choices(hits, k=len(hits))) / len(hits) for _ in range(RESAMPLES))
    return means[int(0.025 * RESAMPLES)], means[int(0.975 * RESAMPLES)]


def main() -> None:
    store = Store()
    ensure_ingested(store)
    for name, folder in FIXTURES.items():
        queries = load(folder)
        top1, top3, seconds, misses = [], [], [], []
        for q in queries:
            t = time.perf_counter()
            ranked = [h.question_id for h in store.search(q["query"], k=3)]
            seconds.append(time.perf_counter() - t)
            top1.append(int(ranked[:1] == [q["id"]]))
            top3.append(int(q["id"] in ranked))
            if not top3[-1]:
                misses.append(f'{q["query"]!r} -> {ranked} (want {q["id"]})')
        lo1, hi1 = interval(top1)
        lo3, hi3 = interval(top3)
        print(f"{name:16} n={len(queries):3}  top-1 {sum(top1) / len(top1):.1%} "
              f"[{lo1:.1%}, {hi1:.1%}]  top-3 {sum(top3) / len(top3):.1%} [{lo3:.1%}, {hi3:.1%}]  "
              f"p50 {statistics.median(seconds) * 1000:.1f} ms  p95 "
              f"{sorted(seconds)[int(0.95 * len(seconds))] * 1000:.1f} ms")
        for m in misses[:8]:
            print("    miss:", m)


if __name__ == "__main__":
    main()
