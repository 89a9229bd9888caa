"""Question search quality and speed on the retrieval fixtures.

    python scripts/bench_retrieval.py      # the shipped search (the levers that were tried: experiments/retrieval_levers.py)

Prints top-1 / top-3 per fixture (tests/fixtures/retrieval: written beside the bank; retrieval_spoken: written from
topics as people speak; retrieval_blind: written without reading the bank, labelled afterwards with every question a
searcher would be well served by, and topics the bank lacks counted apart) with 95% intervals that resample queries,
and query latency p50 / p95.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import yaml

from interviewer.bank.store import Store, ensure_ingested

PROJECT_ROOT = Path(__file__).resolve().parents[1]

FIXTURES = {"beside the bank": PROJECT_ROOT / "tests" / "fixtures" / "retrieval",
            "spoken": PROJECT_ROOT / "tests" / "fixtures" / "retrieval_spoken",
            "blind": PROJECT_ROOT / "tests" / "fixtures" / "retrieval_blind"}
RESAMPLES = 2000


def load(folder: Path) -> list[dict]:
    """Queries with the ids that count as a hit: one `id`, or a list `ids` (empty: a topic the bank lacks)."""
    queries = [q for p in sorted(folder.glob("*.yaml")) for q in yaml.safe_load(p.read_text())["queries"]]
    return [{"query": q["query"], "ids": set(q["ids"]) if "ids" in q else {q["id"]}} for q in queries]


def interval(hits: list[int]) -> tuple[float, float]:
    rng = random.Random(0)
    means = sorted(sum(rng.choices(hits, k=len(hits))) / len(hits) for _ in range(RESAMPLES))
    return means[int(0.025 * RESAMPLES)], means[int(0.975 * RESAMPLES)]


def measure(search, queries: list[dict]) -> dict:
    """`search(query, k)` gives question ids, best first."""
    top1, top3, seconds, misses = [], [], [], []
    for q in queries:
        t = time.perf_counter()
        ranked = search(q["query"], 3)
        seconds.append(time.perf_counter() - t)
        top1.append(int(bool(ranked) and ranked[0] in q["ids"]))
        top3.append(int(bool(q["ids"] & set(ranked))))
        if not top3[-1]:
            misses.append(f'{q["query"]!r} -> {ranked} (want {sorted(q["ids"])})')
    return {"n": len(queries), "top1": sum(top1) / len(top1), "ci1": interval(top1), "top3": sum(top3) / len(top3),
            "ci3": interval(top3), "p50": statistics.median(seconds) * 1000,
            "p95": sorted(seconds)[int(0.95 * len(seconds))] * 1000, "misses": misses}


def fixtures() -> dict[str, tuple[list[dict], int]]:
    """Each fixture's queries with relevant ids, and how many it has on topics the bank lacks (not counted)."""
    out = {}
    for name, folder in FIXTURES.items():
        queries = load(folder)
        out[name] = ([q for q in queries if q["ids"]], sum(1 for q in queries if not q["ids"]))
    return out


def report(search, sets: dict[str, tuple[list[dict], int]]) -> None:
    """One line per fixture (and its first misses) for `search(query, k)`."""
    for name, (queries, gaps) in sets.items():
        r = measure(search, queries)
        lo1, hi1 = r["ci1"]
        lo3, hi3 = r["ci3"]
        print(f"{name:16} n={r['n']:3}  top-1 {r['top1']:.1%} [{lo1:.1%}, {hi1:.1%}]  top-3 {r['top3']:.1%} "
              f"[{lo3:.1%}, {hi3:.1%}]  p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms"
              + (f"  ({gaps} queries on topics the bank lacks, not counted)" if gaps else ""))
        for m in r["misses"][:8]:
            print("    miss:", m)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    store = Store()
    ensure_ingested(store)
    report(lambda query, k: [h.question_id for h in store.search(query, k=k)], fixtures())

if __name__ == "__main__":
    main()
