"""Store benchmark: cold ingest, unchanged re-ingest, query latency p50/p95 (embedding + Chroma). Prints figures."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from interviewer.bank.bank import load_bank
from interviewer.settings import Settings
from interviewer.bank.embeddings import get_embedder
from interviewer.bank.store import Store


def main() -> None:
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-store-")), backend="fake")
    bank = load_bank(settings.knowledge_dir)
    get_embedder()  # model load is not ingest time
    store = Store(settings)
    cold = store.ingest(bank, progress=False)
    warm = store.ingest(bank, progress=False)
    queries = [q.question for q in bank.questions]
    for q in queries[:5]:
        store.search(q, k=5)  # warm-up
    lat = []
    for q in queries:
        t = time.perf_counter()
        store.search(q, k=5)
        lat.append((time.perf_counter() - t) * 1000)
    emb = []
    for q in queries:
        t = time.perf_counter()
        get_embedder().embed_one(q)
        emb.append((time.perf_counter() - t) * 1000)
    print(f"bank: {len(bank.questions)} questions + {len(bank.references)} references -> {store.count()} chunks")
    print(f"ingest cold: {cold.seconds:.2f} s ({cold.chunks_embedded} chunks, "
          f"{cold.seconds / max(cold.chunks_embedded, 1) * 1000:.1f} ms/chunk)")
    print(f"re-ingest unchanged: {warm.seconds:.3f} s (target <= 2 s), embedded {warm.chunks_embedded}")
    print(f"query (embed + Chroma, k=5, {len(lat)} queries): p50 {statistics.median(lat):.1f} ms, "
          f"p95 {np.percentile(lat, 95):.1f} ms (target p50 <= 15 ms)")
    print(f"  of which embedding alone: p50 {statistics.median(emb):.1f} ms")


if __name__ == "__main__":
    main()
