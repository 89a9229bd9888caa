"""Numbered schema migrations for the sessions database, one SQL for SQLite and PostgreSQL (`database.py`).

A migration is a function `mNNN_what(con)`; `migrate` runs, in order, those not yet recorded in `_migrations`, each
in its own transaction together with its record, so a failed one leaves neither a half-changed schema nor a record
of it and is tried again on the next open (PostgreSQL's DDL is transactional too). Never change what a shipped
migration does: add the next number.

m001 is the schema every database had before migrations existed, written with IF NOT EXISTS, so a database made
by an earlier version opens, records m001 and carries on (its "user" is quoted and its REAL spelt DOUBLE PRECISION
for PostgreSQL: to SQLite both are the same column as before). Each migration's transaction takes the write lock
before reading what is applied, so two processes opening one new database at once do not both run a migration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from interviewer.store.database import Connection, Database

Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = []
_NAME = re.compile(r"^m(\d{3})_\w+$")


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(con: Connection) -> None:
    con.execute("""CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        "user" TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        phase TEXT NOT NULL,
        level INTEGER NOT NULL,
        backend TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL)""")
    con.execute('CREATE INDEX IF NOT EXISTS sessions_user ON sessions("user", created_at)')
    con.execute("""CREATE TABLE IF NOT EXISTS turns (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        question_index INTEGER,
        at TEXT NOT NULL,
        PRIMARY KEY (session_id, seq))""")
    con.execute("""CREATE TABLE IF NOT EXISTS questions (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        question_id TEXT NOT NULL,
        record TEXT NOT NULL,
        grade TEXT,
        grade_error TEXT,
        score DOUBLE PRECISION,
        PRIMARY KEY (session_id, idx))""")
    con.execute("""CREATE TABLE IF NOT EXISTS seen (
        "user" TEXT NOT NULL,
        question_id TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY ("user", question_id))""")


@migration
def m002_practice_schedule(con: Connection) -> None:
    """One spaced-repetition card per user and question (planning/practice.py): the fsrs card as JSON, when it is
    due, and the latest score."""
    con.execute("""CREATE TABLE schedule (
        "user" TEXT NOT NULL,
        question_id TEXT NOT NULL,
        card TEXT NOT NULL,
        due TEXT NOT NULL,
        last_score DOUBLE PRECISION NOT NULL,
        reviews INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY ("user", question_id))""")
    con.execute('CREATE INDEX schedule_due ON schedule("user", due)')


@migration
def m003_accounts(con: Connection) -> None:
    """Team mode's sign-in (team/accounts.py): a name, its argon2 password hash, and a role."""
    con.execute("""CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL)""")


@migration
def m004_grade_claims(con: Connection) -> None:
    """Who grades a question, since when (grades/jobs.py): every replica on one database sweeps the grades
    a restart lost, and each claims an answer here before grading it, so none is graded twice."""
    con.execute("ALTER TABLE questions ADD COLUMN claimed_by TEXT")
    con.execute("ALTER TABLE questions ADD COLUMN claimed_at TEXT")


@migration
def m005_anchors(con: Connection) -> None:
    """Graded answers people add to a question's anchors (interviewer/resources/knowledge/anchors.py): an instructor's review of an answer
    (also kept on the answer's own row as `review`: score, note, who, when) or a row of a labelled file. A reviewed
    answer's anchor goes with its session when the candidate's data is deleted."""
    con.execute("""CREATE TABLE anchors (
        id TEXT PRIMARY KEY,
        question_id TEXT NOT NULL,
        text TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        rationale TEXT NOT NULL,
        source TEXT NOT NULL,
        author TEXT,
        created_at TEXT NOT NULL,
        session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
        idx INTEGER)""")
    con.execute("CREATE INDEX anchors_question ON anchors(question_id)")
    con.execute("ALTER TABLE questions ADD COLUMN review TEXT")


def check_order(migrations: Sequence[Migration]) -> None:
    """Names are mNNN_what, numbered 1, 2, 3, ... in list order: a gap or a swap is a mistake, not a choice."""
    for expected, fn in enumerate(migrations, start=1):
        match = _NAME.match(fn.__name__)
        if not match or int(match.group(1)) != expected:
            raise ValueError(f"migration {fn.__name__!r} should be numbered m{expected:03d}_...")


def applied(con: Connection) -> list[str]:
    if not con.has_table("_migrations"):
        return []
    return [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY name")]


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply what is missing; returns the names applied now."""
    check_order(migrations)
    with db.exclusive() as con:
        con.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done_now = []
    for fn in migrations:
        with db.exclusive() as con:
            if con.execute("SELECT 1 FROM _migrations WHERE name=?", (fn.__name__,)).fetchone():
                continue
            fn(con)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", (fn.__name__, datetime.now(timezone.utc).isoformat()))
        done_now.append(fn.__name__)
    return done_now
