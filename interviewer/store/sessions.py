"""Sessions and their transcripts: one row per session (its set-up and phase), its turns in order, and one record per
question asked (the grade columns belong to `grades.py`)."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel

from interviewer.grading.grade import Grade
from interviewer.session import QuestionRecord, Review, Session, SessionConfig, Turn, now
from interviewer.store.database import Repository


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


class Sessions(Repository):
    """Sessions, turns and question records."""

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

    def exists(self, session_id: str) -> bool:
        with self._connect() as con:
            return con.execute("SELECT 1 FROM sessions WHERE id=?", (session_id,)).fetchone() is not None

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

