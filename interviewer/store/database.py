"""Where sessions live: a SQLite file (the laptop default) or a PostgreSQL server (team mode, several app replicas).

The repositories (`interviewer.store`) and the migrations write one SQL for both, with `?` placeholders and the column "user" quoted (a
reserved word in PostgreSQL); a `Database` hands out connections in one transaction each and converts the
placeholders where the driver wants `%s`. What differs is here: how a connection is opened, how a migration takes
the one write lock, and how a table is looked up.

SQLite: WAL mode, so the app's script thread, grading workers and a second tab read and write at once; each call
opens its own short-lived connection, none is shared between threads. The file is made readable by its owner only
(0600, in a 0700 folder when it makes one; SQLite gives its -wal and -shm files the same mode), and deleted rows are
overwritten (`secure_delete`) and the write-ahead log emptied after a person's data is deleted (`scrub`), so the bytes
of a deleted answer are not left in free pages. PostgreSQL: psycopg 3 with a connection pool
(a new connection costs a few milliseconds of authentication on every turn otherwise); migrations hold an advisory
lock, so replicas starting together apply each migration once.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from interviewer.files import PRIVATE_FILE, private_dir

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_TIMEOUT_S = 30.0
WAL_SWITCH_POLL_S = 0.05
POOL_MAX_CONNECTIONS = 8  # the app's script threads plus its grading workers (interviewer/ui/state.py GRADING_WORKERS)
POOL_OPEN_TIMEOUT_S = 10.0
MIGRATION_LOCK_KEY = 0x1E7E_0001  # pg_advisory_xact_lock key: any constant no other program on the server uses


class DatabaseError(RuntimeError):
    """The database cannot be opened: a clear reason, never the password."""


def is_postgres_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


SECRET_PARAMETERS = ("password", "sslpassword")  # libpq takes these in the query string too (?password=...)


def redact(url: str) -> str:
    """The URL without its password, for messages and `doctor`: the one after user: and any ?password= (libpq reads
    both)."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.hostname or ""
        parts = parts._replace(netloc=f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else ""))
    query = [(k, "***" if k.lower() in SECRET_PARAMETERS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    if query:
        parts = parts._replace(query=urlencode(query, safe="*"))
    return urlunsplit(parts)


class Connection:
    """One transaction's connection: `execute`/`executemany` take `?` placeholders on either driver."""

    def __init__(self, raw, placeholder: str, table_sql: str) -> None:
        self.raw, self._placeholder, self._table_sql = raw, placeholder, table_sql

    def _sql(self, sql: str) -> str:
        return sql if self._placeholder == "?" else sql.replace("?", self._placeholder)

    def execute(self, sql: str, params: Sequence = ()):
        return self.raw.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        cur = self.raw.cursor()
        try:
            cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        finally:
            cur.close()

    def has_table(self, name: str) -> bool:
        return self.execute(self._table_sql, (name,)).fetchone() is not None


class SQLiteDatabase:
    dialect = "sqlite"
    TABLE_SQL = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE))  # made 0600 before SQLite opens it
        con = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT_S, isolation_level=None)
        try:
            self._use_wal(con)
        finally:
            con.close()

    @staticmethod
    def _use_wal(con: sqlite3.Connection) -> None:
        """Switch a file to WAL once. The switch takes no busy timeout: while another opener's migration holds the
        write lock it fails at once with "database is locked", so it is tried again until SQLITE_TIMEOUT_S."""
        deadline = time.monotonic() + SQLITE_TIMEOUT_S
        while con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                con.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(WAL_SWITCH_POLL_S)

    def describe(self) -> str:
        return f"SQLite {self.path}"

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        con = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT_S)
        try:
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA secure_delete=ON")
            con.execute(f"PRAGMA busy_timeout={int(SQLITE_TIMEOUT_S * 1000)}")
            with con:  # one transaction: commit on success, roll back on error
                yield Connection(con, "?", self.TABLE_SQL)
        finally:
            con.close()

    @contextmanager
    def exclusive(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its first statement (BEGIN IMMEDIATE)."""
        con = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT_S, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield Connection(con, "?", self.TABLE_SQL)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    def scrub(self) -> None:
        """After a delete: copy the write-ahead log into the file and empty it, so no old page keeps deleted rows."""
        con = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT_S, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout={int(SQLITE_TIMEOUT_S * 1000)}")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()

    def close(self) -> None:
        pass


class PostgresDatabase:
    dialect = "postgres"
    TABLE_SQL = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name=?"

    def __init__(self, url: str) -> None:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as e:
            raise DatabaseError("a PostgreSQL URL needs the team extra: pip install -e '.[team]'") from e
        self.url = url
        self.pool = ConnectionPool(url, min_size=1, max_size=POOL_MAX_CONNECTIONS, open=False)
        try:
            self.pool.open(wait=True, timeout=POOL_OPEN_TIMEOUT_S)
        except Exception as e:
            self.pool.close()
            raise DatabaseError(f"cannot reach the database at {redact(url)}: {type(e).__name__}") from None

    def describe(self) -> str:
        return f"PostgreSQL {redact(self.url)}"

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.pool.connection() as con:  # commits on success, rolls back on error, returns it to the pool
            yield Connection(con, "%s", self.TABLE_SQL)

    @contextmanager
    def exclusive(self) -> Iterator[Connection]:
        """A transaction that holds the migration lock: replicas opening one new database wait for each other."""
        with self.connect() as con:
            con.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))
            yield con

    def scrub(self) -> None:
        """Deleted rows stay in PostgreSQL's files until vacuum reuses their space (autovacuum does); SECURITY.md."""

    def close(self) -> None:
        self.pool.close()


Database = SQLiteDatabase | PostgresDatabase


class Repository:
    """One table group's queries over a `Database`: each method is one transaction on its own connection."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self.database.connect() as con:
            yield con


def open_database(target: str | Path) -> Database:
    """A PostgreSQL URL (postgresql://user:password@host/db) or a SQLite file path."""
    return PostgresDatabase(str(target)) if is_postgres_url(target) else SQLiteDatabase(target)
