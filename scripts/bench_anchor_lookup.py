"""How long a grade waits for a question's people's anchors (`Reviews.anchors_for`, read on every grade and every
`Grader.prepare`), on SQLite or PostgreSQL, with a database holding many of them.

    python scripts/bench_anchor_lookup.py [--per-question 20] [--lookups 300] [--db postgresql://...]

Prints p50 / p95 in milliseconds. Without --db it uses a new SQLite file in a temporary folder; a PostgreSQL URL gets
a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from interviewer.settings import get_settings
from interviewer.store import SessionDB
from interviewer.store.reviews import Reviews
from interviewer.bank.anchors import Anchor
from interviewer.bank.bank import load_bank



def _target(url: str | None, folder: Path) -> tuple[str | Path, str | None]:
    if not url:
        return folder / "bench.sqlite3", None
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}", schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-question", type=int, default=20, help="people's anchors per bank question")
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: a new SQLite file)")
    args = parser.parse_args()
    ids = [q.id for q in load_bank(get_settings().knowledge_dir).questions]
    with tempfile.TemporaryDirectory() as tmp:
        target, schema = _target(args.db, Path(tmp))
        db = SessionDB(target)
        try:
            reviews = Reviews(db.database)
            reviews.add([Anchor(question_id=q, text=f"Graded answer {i} to {q}: " + "words " * 40, score=i % 11 / 2,
                                source="file", author="bench") for q in ids for i in range(args.per_question)])
            rng = random.Random(0)
            times = []
            for _ in range(args.lookups):
                t0 = time.perf_counter()
                found = reviews.anchors_for(rng.choice(ids))
                times.append((time.perf_counter() - t0) * 1000)
                assert len(found) == args.per_question
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"{db.describe().split(' ')[0]}: {len(ids) * args.per_question} people's anchors, "
                  f"{args.lookups} lookups: p50 {statistics.median(times):.2f} ms, p95 {p95:.2f} ms")
        finally:
            db.close()
            if schema:
                import psycopg

                with psycopg.connect(args.db, autocommit=True) as con:
                    con.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
