"""The practice schedule: which questions a person was asked (seen) and each question's spaced-repetition card."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from interviewer.session import now
from interviewer.store.database import Repository


class StoredCard(BaseModel):
    """One row of the practice schedule; `card` is the spaced-repetition library's own JSON."""

    question_id: str
    card: str
    due: datetime
    last_score: float
    reviews: int
    updated_at: datetime


class Schedule(Repository):
    """Seen questions and practice cards, per user."""

    def mark_seen(self, user: str, question_ids: list[str]) -> None:
        stamp = now().isoformat()
        with self._connect() as con:
            con.executemany('INSERT INTO seen VALUES (?,?,?) ON CONFLICT("user", question_id) '
                            "DO UPDATE SET seen_at=excluded.seen_at", [(user, q, stamp) for q in question_ids])

    def recent_question_ids(self, user: str, limit: int = 60) -> list[str]:
        """Question ids this user was asked most recently, newest first."""
        with self._connect() as con:
            rows = con.execute('SELECT question_id FROM seen WHERE "user"=? ORDER BY seen_at DESC LIMIT ?',
                               (user, limit)).fetchall()
        return [r[0] for r in rows]

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

    def cards(self, user: str) -> dict[str, StoredCard]:
        """This user's practice schedule: question id -> its card."""
        with self._connect() as con:
            rows = con.execute("SELECT question_id, card, due, last_score, reviews, updated_at FROM schedule "
                               'WHERE "user"=?', (user,)).fetchall()
        return {r[0]: StoredCard(question_id=r[0], card=r[1], due=r[2], last_score=r[3], reviews=r[4],
                                 updated_at=r[5]) for r in rows}

