"""Persistence for interviews: every turn and answer is written the moment it happens, to a SQLite file or a
PostgreSQL server (`database.py`; one SQL for both). The schema comes from numbered migrations (`migrations.py`),
applied when the database is opened. Each method is one transaction on its own connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from interviewer.grading.grade import Grade
from interviewer.store import migrations
from interviewer.store.database import Connection, open_database
from interviewer.store.reviews import Review
from interviewer.session import QuestionRecord, Session, SessionConfig, Turn, now


def _stamp(at: datetime) -> str:
    """A claim's time as text that sorts as the time does: UTC, always with microseconds."""
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


class SessionSummary(BaseModel):
    id: str
    user: str
    created_at: datetime
    updated_at: datetime
    phase: str
    track: str
    mode: str
    n_questions: int
    asked: int
    graded: int
    score: float | None = None  # mean over graded questions, 0-5


class StoredCard(BaseModel):
    """One row of the practice schedule; `card` is the spaced-repetition library's own JSON."""

    question_id: str
    card: str
    due: datetime
    last_score: float
    reviews: int
    updated_at: datetime


class StoredAccount(BaseModel):
    """A team-mode sign-in; the password only as its hash (team/accounts.py)."""

    name: str
    password_hash: str
    role: str
    created_at: datetime


class SessionDB:
    def __init__(self, target: Path | str, *, schema: Sequence[migrations.Migration] = migrations.MIGRATIONS) -> None:
        """`target`: a SQLite file path, or a postgresql:// URL."""
        self.database = open_database(target)
        self.migrated = migrations.migrate(self.database, schema)

    def describe(self) -> str:
        return self.database.describe()

    def close(self) -> None:
        self.database.close()

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self.database.connect() as con:
            yield con

    # -- writes ----------------------------------------------------------------------------------------------
    def create(self, session: Session) -> None:
        with self._connect() as con:
            con.execute("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?)",
                        (session.id, session.user, session.created_at.isoformat(), session.updated_at.isoformat(),
                         session.phase, session.level, session.backend, session.config.model_dump_json()))

    def save_state(self, session: Session) -> None:
        session.updated_at = now()
        with self._connect() as con:
            con.execute("UPDATE sessions SET phase=?, level=?, backend=?, updated_at=? WHERE id=?",
                        (session.phase, session.level, session.backend, session.updated_at.isoformat(), session.id))

    def add_turn(self, session_id: str, turn: Turn) -> int:
        """Save (or update) a turn; returns its seq. Re-saving the same turn (same role and creation time) updates it.
        If another writer (the session open in a second tab or process) already took this seq, the turn is appended
        after the last one instead of overwriting it: both are kept, and `turn.seq` is moved."""
        row = (turn.role, turn.kind, turn.text, turn.question_index, turn.at.isoformat())
        with self._connect() as con:
            # First a write to the session's row: its lock (a row lock on PostgreSQL, the file's on SQLite) orders
            # this session's writers, so the next free seq below is not taken twice.
            con.execute("UPDATE sessions SET updated_at=? WHERE id=?", (now().isoformat(), session_id))
            cur = con.execute(
                "INSERT INTO turns VALUES (?,?,?,?,?,?,?) ON CONFLICT(session_id, seq) DO UPDATE SET "
                "kind=excluded.kind, text=excluded.text, question_index=excluded.question_index "
                "WHERE turns.role=excluded.role AND turns.at=excluded.at", (session_id, turn.seq, *row))
            if cur.rowcount == 0:
                turn.seq = con.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM turns WHERE session_id=?",
                                       (session_id,)).fetchone()[0]
                con.execute("INSERT INTO turns VALUES (?,?,?,?,?,?,?)", (session_id, turn.seq, *row))
        return turn.seq

    def save_question(self, session_id: str, record: QuestionRecord) -> None:
        """The record without its grade: the grade column belongs to the grading worker."""
        body = record.model_dump_json(exclude={"grade", "grade_error"})
        with self._connect() as con:
            con.execute("INSERT INTO questions (session_id, idx, question_id, record) VALUES (?,?,?,?) "
                        "ON CONFLICT(session_id, idx) DO UPDATE SET record=excluded.record",
                        (session_id, record.index, record.question_id, body))

    def save_grade(self, session_id: str, index: int, grade: Grade | None, error: str | None = None) -> bool:
        """False when the answer is gone (its person's data was deleted while it was being graded). An instructor's
        review keeps its score: a regrade changes the grader's grade beside it, not the answer's score."""
        with self._connect() as con:
            cur = con.execute("UPDATE questions SET grade=?, grade_error=?, "
                              "score=CASE WHEN review IS NULL THEN ? ELSE score END WHERE session_id=? AND idx=?",
                              (grade.model_dump_json() if grade else None, error, grade.score if grade else None,
                               session_id, index))
            return cur.rowcount == 1

    def claim_grade(self, session_id: str, index: int, owner: str, stale_before: datetime,
                    orphaned: str | None = None, *, retry_failed: bool = False) -> bool:
        """Take the grading of one answer for `owner`: True when it has neither a grade nor a grade error (with
        `retry_failed`, an error may stand: it is graded again) and nobody else holds a claim newer than `stale_before`
        (`owner`'s own claim is renewed; `orphaned`, a claimant known to be gone, is taken over whatever its age). One
        UPDATE decides: on PostgreSQL a second claimer waits for the first one's row lock and then finds the row
        claimed; SQLite serialises the two on the file's write lock."""
        with self._connect() as con:
            cur = con.execute("UPDATE questions SET claimed_by=?, claimed_at=? WHERE session_id=? AND idx=? "
                              "AND grade IS NULL AND (grade_error IS NULL OR ?) "
                              "AND (claimed_by IS NULL OR claimed_by=? OR claimed_at < ? OR claimed_by=?)",
                              (owner, _stamp(now()), session_id, index, retry_failed, owner, _stamp(stale_before),
                               orphaned))
            return cur.rowcount == 1

    def renew_claims(self, claims: Sequence[tuple[str, int, str]]) -> None:
        """The heartbeat of a live grader: its claims (session id, question index, owner) are dated now, so others
        see them held however long the grade waits in line."""
        stamp = _stamp(now())
        with self._connect() as con:
            con.executemany("UPDATE questions SET claimed_at=? WHERE session_id=? AND idx=? AND claimed_by=? "
                            "AND grade IS NULL", [(stamp, sid, idx, owner) for sid, idx, owner in claims])

    def grade_claim(self, session_id: str, index: int) -> tuple[str | None, datetime | None]:
        """Who holds the claim on grading this answer and since when (its latest heartbeat)."""
        with self._connect() as con:
            row = con.execute("SELECT claimed_by, claimed_at FROM questions WHERE session_id=? AND idx=?",
                              (session_id, index)).fetchone()
        if not row:
            return None, None
        return row[0], datetime.fromisoformat(row[1]) if row[1] else None

    def grade_claimant(self, session_id: str, index: int) -> str | None:
        """Who holds the claim on grading this answer, if anyone."""
        with self._connect() as con:
            row = con.execute("SELECT claimed_by FROM questions WHERE session_id=? AND idx=?",
                              (session_id, index)).fetchone()
        return row[0] if row else None

    def mark_seen(self, user: str, question_ids: list[str]) -> None:
        stamp = now().isoformat()
        with self._connect() as con:
            con.executemany('INSERT INTO seen VALUES (?,?,?) ON CONFLICT("user", question_id) '
                            "DO UPDATE SET seen_at=excluded.seen_at", [(user, q, stamp) for q in question_ids])

    def save_card(self, user: str, card: StoredCard, session_id: str | None = None) -> bool:
        """`session_id`: the session whose grade made this card; False, writing nothing, when it is gone (its
        person's data was deleted while the grade was being made). Its row is locked first (a row lock on PostgreSQL,
        the file's on SQLite), so a delete at the same moment either waits for this card, and deletes it, or goes
        first and is seen here."""
        with self._connect() as con:
            if session_id is not None and con.execute("UPDATE sessions SET updated_at=updated_at WHERE id=?",
                                                      (session_id,)).rowcount == 0:
                return False
            con.execute('INSERT INTO schedule VALUES (?,?,?,?,?,?,?) ON CONFLICT("user", question_id) DO UPDATE SET '
                        "card=excluded.card, due=excluded.due, last_score=excluded.last_score, "
                        "reviews=excluded.reviews, updated_at=excluded.updated_at",
                        (user, card.question_id, card.card, card.due.isoformat(), card.last_score, card.reviews,
                         card.updated_at.isoformat()))
        return True

    def delete_user(self, user: str) -> int:
        """Everything stored about a user: sessions (with their turns and grades), the seen-questions list and the
        practice schedule."""
        with self._connect() as con:
            n = con.execute('DELETE FROM sessions WHERE "user"=?', (user,)).rowcount
            con.execute('DELETE FROM seen WHERE "user"=?', (user,))
            con.execute('DELETE FROM schedule WHERE "user"=?', (user,))
        self.database.scrub()  # SQLite: no copy of the deleted rows left in its log
        return n

    def exists(self, session_id: str) -> bool:
        with self._connect() as con:
            return con.execute("SELECT 1 FROM sessions WHERE id=?", (session_id,)).fetchone() is not None

    # -- reads ---------------------------------------------------------------------------------------------------
    def load(self, session_id: str) -> Session | None:
        with self._connect() as con:
            row = con.execute("SELECT id, created_at, updated_at, phase, level, backend, config FROM sessions "
                              "WHERE id=?", (session_id,)).fetchone()
            if row is None:
                return None
            turns = con.execute("SELECT seq, role, kind, text, question_index, at FROM turns WHERE session_id=? "
                                "ORDER BY seq", (session_id,)).fetchall()
            questions = con.execute("SELECT record, grade, grade_error, review FROM questions WHERE session_id=? "
                                    "ORDER BY idx", (session_id,)).fetchall()
        records = []
        for body, grade, error, review in questions:
            record = QuestionRecord.model_validate_json(body)
            record.grade = Grade.model_validate_json(grade) if grade else None
            record.grade_error = error
            record.review = Review.model_validate_json(review) if review else None
            records.append(record)
        return Session(id=row[0], created_at=row[1], updated_at=row[2], phase=row[3], level=row[4], backend=row[5],
                       config=SessionConfig.model_validate_json(row[6]), questions=records,
                       turns=[Turn(seq=t[0], role=t[1], kind=t[2], text=t[3], question_index=t[4], at=t[5])
                              for t in turns])

    def list_sessions(self, user: str | None = None, limit: int = 200) -> list[SessionSummary]:
        sql = ('SELECT s.id, s."user", s.created_at, s.updated_at, s.phase, s.config, COUNT(q.idx), COUNT(q.score), '
               "AVG(q.score) FROM sessions s LEFT JOIN questions q ON q.session_id = s.id "
               + ('WHERE s."user"=? ' if user else '') + 'GROUP BY s.id ORDER BY s.created_at DESC LIMIT ?')
        with self._connect() as con:
            rows = con.execute(sql, ((user, limit) if user else (limit,))).fetchall()
        out = []
        for sid, u, created, updated, phase, config, asked, graded, score in rows:
            cfg = json.loads(config)
            out.append(SessionSummary(id=sid, user=u, created_at=created, updated_at=updated, phase=phase,
                                      track=cfg["track"], mode=cfg["mode"], n_questions=cfg["n_questions"],
                                      asked=asked, graded=graded,
                                      score=round(float(score), 2) if score is not None else None))
        return out

    def cards(self, user: str) -> dict[str, StoredCard]:
        """This user's practice schedule: question id -> its card."""
        with self._connect() as con:
            rows = con.execute("SELECT question_id, card, due, last_score, reviews, updated_at FROM schedule "
                               'WHERE "user"=?', (user,)).fetchall()
        return {r[0]: StoredCard(question_id=r[0], card=r[1], due=r[2], last_score=r[3], reviews=r[4],
                                 updated_at=r[5]) for r in rows}

    def score_history(self, user: str) -> list[tuple[datetime, list[str], float]]:
        """(session start, the question's concepts, score) of every graded answer of this user, oldest first."""
        with self._connect() as con:
            rows = con.execute("SELECT s.created_at, q.record, q.score FROM questions q JOIN sessions s "
                               'ON s.id = q.session_id WHERE s."user"=? AND q.score IS NOT NULL ORDER BY s.created_at',
                               (user,)).fetchall()
        return [(datetime.fromisoformat(at), json.loads(record)["concepts"], score) for at, record, score in rows]

    def graded_answers(self) -> list[tuple[str, datetime, list[str], float]]:
        """(user, session start, the question's concepts, score) of every graded answer of everyone, oldest first:
        the instructors' cohort view."""
        with self._connect() as con:
            rows = con.execute('SELECT s."user", s.created_at, q.record, q.score FROM questions q JOIN sessions s '
                               "ON s.id = q.session_id WHERE q.score IS NOT NULL ORDER BY s.created_at").fetchall()
        return [(user, datetime.fromisoformat(at), json.loads(record)["concepts"], score)
                for user, at, record, score in rows]

    def grade_sources(self) -> list[tuple[str, str, str, int]]:
        """(user, backend, model, graded answers) for every model that graded someone's answers: the cohort view
        says which model's grades a row rests on."""
        with self._connect() as con:
            rows = con.execute('SELECT s."user", q.grade FROM questions q JOIN sessions s ON s.id = q.session_id '
                               "WHERE q.score IS NOT NULL").fetchall()
        counts: dict[tuple[str, str, str], int] = {}
        for user, grade in rows:
            made = json.loads(grade)
            key = (user, made.get("backend") or "unknown", made.get("model") or "unknown")
            counts[key] = counts.get(key, 0) + 1
        return [(*key, n) for key, n in sorted(counts.items())]

    def recent_question_ids(self, user: str, limit: int = 60) -> list[str]:
        """Question ids this user was asked most recently, newest first."""
        with self._connect() as con:
            rows = con.execute('SELECT question_id FROM seen WHERE "user"=? ORDER BY seen_at DESC LIMIT ?',
                               (user, limit)).fetchall()
        return [r[0] for r in rows]

    def ungraded_answers(self) -> list[tuple[str, int]]:
        """(session id, question index) of every closed question with neither a grade nor a grade error, oldest
        session first: grades that no process has stored (under way somewhere, or lost with a process)."""
        with self._connect() as con:
            rows = con.execute("SELECT q.session_id, q.idx, q.record FROM questions q JOIN sessions s "
                               "ON s.id = q.session_id WHERE q.grade IS NULL AND q.grade_error IS NULL "
                               "ORDER BY s.created_at, q.idx").fetchall()
        return [(sid, idx) for sid, idx, record in rows if json.loads(record).get("closed")]

    def schema(self) -> list[str]:
        """The migrations this database has had, oldest first."""
        with self._connect() as con:
            return migrations.applied(con)

    def job_topics(self, user: str) -> list[str]:
        """The topics of the job the user's latest tailored interview was for (empty when none was)."""
        with self._connect() as con:
            rows = con.execute('SELECT config FROM sessions WHERE "user"=? ORDER BY created_at DESC',
                               (user,)).fetchall()
        for (config,) in rows:
            if topics := json.loads(config).get("job_topics"):
                return topics
        return []

    def session_ids(self, user: str) -> list[str]:
        with self._connect() as con:
            return [r[0] for r in con.execute('SELECT id FROM sessions WHERE "user"=?', (user,))]

    def users(self) -> list[str]:
        with self._connect() as con:
            return [r[0] for r in con.execute('SELECT DISTINCT "user" FROM sessions ORDER BY "user"')]

    # -- accounts (team mode) -----------------------------------------------------------------------------------
    def save_account(self, account: StoredAccount) -> None:
        with self._connect() as con:
            con.execute("INSERT INTO accounts VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                        "password_hash=excluded.password_hash, role=excluded.role",
                        (account.name, account.password_hash, account.role, account.created_at.isoformat()))

    def account(self, name: str) -> StoredAccount | None:
        with self._connect() as con:
            row = con.execute("SELECT name, password_hash, role, created_at FROM accounts WHERE name=?",
                              (name,)).fetchone()
        return StoredAccount(name=row[0], password_hash=row[1], role=row[2], created_at=row[3]) if row else None

    def accounts(self) -> list[StoredAccount]:
        with self._connect() as con:
            rows = con.execute("SELECT name, password_hash, role, created_at FROM accounts ORDER BY name").fetchall()
        return [StoredAccount(name=r[0], password_hash=r[1], role=r[2], created_at=r[3]) for r in rows]

    def has_accounts(self, role: str | None = None) -> bool:
        """Whether any account (of this role) exists: a database with accounts is a team database."""
        sql = "SELECT 1 FROM accounts" + (" WHERE role=?" if role else "") + " LIMIT 1"
        with self._connect() as con:
            return con.execute(sql, (role,) if role else ()).fetchone() is not None

    def remove_account(self, name: str) -> bool:
        with self._connect() as con:
            return con.execute("DELETE FROM accounts WHERE name=?", (name,)).rowcount > 0
