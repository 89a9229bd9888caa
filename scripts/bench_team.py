"""Team-mode load benchmark: N simulated candidates interview at once on one instance (one database, one model, one
grading pool), then the stored sessions are checked for cross-talk and lost turns, and the turn latency and the
longest grading line are printed. Exit status 1 when a check fails.

    python scripts/bench_team.py                               # 20 candidates on the toy model, a temporary SQLite,
                                                               # 50 wrong sign-ins and a 9.9 MB zip bomb meanwhile
    python scripts/bench_team.py --wrong-sign-ins 0 --bomb-mb 0    # the candidates alone
    python scripts/bench_team.py --candidates 50 --seconds 30  # a bounded time instead of whole interviews
    python scripts/bench_team.py --backend local               # the embedded model: 4 candidates, fewer turns
    python scripts/bench_team.py --db postgresql://user:pw@host/db   # any target SessionDB opens
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from interviewer.settings import Settings
from interviewer import services
from interviewer.store import SessionDB
from team_load import LoadConfig, run_team
from interviewer.bank.bank import load_bank
from interviewer.llm.registry import BACKENDS, backend_spec

# The toy model, or a model served on this machine: no API key or URL to set up.
CHOICES = sorted(name for name, b in BACKENDS.items() if b.scripted or b.starts_server)
# (candidates, questions, turns), scripted or not. The embedded model grades one answer in seconds on a laptop CPU,
# so its run is smaller; the toy model answers at once and the run measures the app's own overhead and contention.
SIZES = {True: (20, 3, 8), False: (4, 2, 3)}
WRONG_SIGN_INS = 50
BOMB_MB = 9.9  # just under the 10 MB document limit, so the zip's own sizes must refuse it (10 GB unpacked)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, help="simulated candidates (default: 20 on fake, 4 on local)")
    ap.add_argument("--backend", choices=CHOICES, default="fake")
    ap.add_argument("--db", help="a SQLite path or a PostgreSQL URL (default: a new temporary SQLite file)")
    ap.add_argument("--questions", type=int, help="questions per interview")
    ap.add_argument("--turns", type=int, help="most messages per candidate")
    ap.add_argument("--seconds", type=float, help="send no new message after this long")
    ap.add_argument("--workers", type=int, default=LoadConfig().workers, help="grading pool threads")
    ap.add_argument("--wrong-sign-ins", type=int, default=WRONG_SIGN_INS,
                    help="wrong passwords for one account, all sent at once during the run")
    ap.add_argument("--bomb-mb", type=float, default=BOMB_MB, help="a .docx zip bomb of this size uploaded during "
                    "the run (0: none)")
    ap.add_argument("--json", action="store_true", help="the report as JSON")
    args = ap.parse_args()

    scripted = backend_spec(args.backend).scripted
    candidates, questions, turns = SIZES[scripted]
    config = LoadConfig(candidates=args.candidates or candidates, questions=args.questions or questions,
                        turns=args.turns or turns, seconds=args.seconds, workers=args.workers,
                        wrong_sign_ins=args.wrong_sign_ins, bomb_bytes=int(args.bomb_mb * 1e6))
    scratch = Path(tempfile.mkdtemp(prefix="bench-team-"))
    settings = Settings(data_dir=scratch, backend=args.backend) if scripted else Settings()
    db = SessionDB(args.db or scratch / "team.sqlite3")  # the string as given: SessionDB tells a URL from a path
    bank = load_bank(settings.knowledge_dir)
    llm = services.make_llm(settings, args.backend, on_progress=lambda m: print(m, file=sys.stderr))  # the toy model: toy_llm()
    # No grounding store: it only adds related chunk ids to a grade, and would have to be built first.
    report = run_team(db, bank.questions, config, llm=llm, make_grader=lambda: services.build_grader(settings, llm),
                      backend=args.backend)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
