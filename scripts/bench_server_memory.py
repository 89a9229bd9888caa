"""The embedded model server's resident memory over many fresh grades. Prints figures, asserts nothing.

  python scripts/bench_server_memory.py [--grades 30] [--every 5] [--seed 0]

Grades DL answers (partial, incomplete and excellent ones, drawn at random) on the running embedded server, each with a
random suffix so that no judgement comes from a cache, in a fresh data directory that shares the server; prints the
server's RSS at the start and every few grades. Start from a fresh server (`pkill -f llamaserve`) to compare settings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench_memory import MB, rss  # scripts/ is on the path when this runs as a script

from interviewer.settings import Settings
from interviewer.llm.localserver import KEY_FILE, _state_file, ensure_server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grades", type=int, default=30)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    shared = Settings()
    ensure_server(shared)
    data = Path(tempfile.mkdtemp(prefix="bench-server-memory-"))
    shutil.copy(_state_file(shared), data / _state_file(shared).name)  # the same server, no cached judgements
    shutil.copy(shared.data_dir / KEY_FILE, data / KEY_FILE)  # and its key
    os.environ.update(INTERVIEWER_DATA_DIR=str(data), INTERVIEWER_MODELS_PATH=str(shared.models_dir),
                      INTERVIEWER_CHROMA_PATH=str(shared.chroma_dir))
    from interviewer.evals.datasets import load_dl
    from interviewer import services
    from interviewer.bank.store import ensure_ingested, get_store

    settings = Settings()
    store = get_store()
    ensure_ingested(store)
    grader = services.build_grader(settings, services.make_llm(settings, "local"), store=store)
    pid = json.loads(_state_file(settings).read_text())["pid"]
    rows = [r for r in load_dl() if r.kind in ("partial", "incomplete", "excellent")]
    rng = random.Random(args.seed)
    print(f"start: server RSS {rss(pid)['VmRSS'] / MB:.0f} MiB", flush=True)
    try:
        for i in range(1, args.grades + 1):
            row = rng.choice(rows)
            t = time.perf_counter()
            grader.score(store.question(row.question_id), f"{row.answer} (attempt {rng.random():.6f})")
            if i % args.every == 0:
                took = time.perf_counter() - t
                print(f"{i:4d} grades: server RSS {rss(pid)['VmRSS'] / MB:.0f} MiB (last grade {took:.1f} s)",
                      flush=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
