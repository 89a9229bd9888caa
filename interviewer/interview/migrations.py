"""Numbered schema migrations for the sessions database.

A migration is a function `mNNN_what(con)`; `migrate` runs, in order, those not yet recorded in `_migrations`, each
in its own transaction together with its record, so a failed one leaves neither a half-changed schema nor a record
of it and is tried again on the next open. Never edit a migration that has shipped: add the next number.

m001 is the schema every database had before migrations existed, written with IF NOT EXISTS, so a database made
by an earlier version opens, records m001 and carries on. `BEGIN IMMEDIATE` takes the write lock before reading
what is applied, so two processes opening one new file at once do not both run a migration.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []
_NAME = re.compile(r"^m(\d{3})_\w+$")


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(con: sqlite3.Connection) -> None:
    con.execute("""CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        phase TEXT NOT NULL,
        level INTEGER NOT NULL,
        backend TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL)""")
    con.execute("CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user, created_at)")
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
        score REAL,
        PRIMARY KEY (session_id, idx))""")
    con.execute("""CREATE TABLE IF NOT EXISTS seen (
        user TEXT NOT NULL,
        question_id TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (user, question_id))""")


@migration
def m002_practice_schedule(con: sqlite3.Connection) -> None:
    """One spaced-repetition card per user and question (interview/practice.py): the fsrs card as JSON, when it is
    due, and the latest score."""
    con.execute("""CREATE TABLE schedule (
        user TEXT NOT NULL,
        question_id TEXT NOT NULL,
        card TEXT NOT NULL,
        due TEXT NOT NULL,
        last_score REAL NOT NULL,
        reviews INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (user, question_id))""")
    con.execute("CREATE INDEX schedule_due ON schedule(user, due)")


def check_order(migrations: Sequence[Migration]) -> None:
    """Names are mNNN_what, numbered 1, 2, 3, ... in list order: a gap or a swap is a mistake, not a choice."""
    for expected, fn in enumerate(migrations, start=1):
        match = _NAME.match(fn.__name__)
        if not match or int(match.group(1)) != expected:
            raise ValueError(f"migration {fn.__name__!r} should be numbered m{expected:03d}_...")


def applied(con: sqlite3.Connection) -> list[str]:
    if not con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='_migrations'").fetchone():
        return []
    return [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY name")]


def migrate(con: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply what is missing; returns the names applied now. `con` must be in autocommit mode
    (isolation_level=None): each migration manages its own transaction."""
    check_order(migrations)
    con.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done_now = []
    for fn in migrations:
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("SELECT 1 FROM _migrations WHERE name=?", (fn.__name__,)).fetchone():
                con.execute("ROLLBACK")
                continue
            fn(con)
            con.execute("INSERT INTO _migrations VALUES (?, ?)",
                        (fn.__name__, datetime.now(timezone.utc).isoformat()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        done_now.append(fn.__name__)
    return done_now
