"""Grades and the claims on making them: a grade (or its error) per answer, written by whichever grader claimed it;
and the graded answers as history (a person's scores by concept, the cohort's, which models made them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone

from interviewer.grading.grade import Grade
from interviewer.session import now
from interviewer.store.database import Repository

def _stamp(at: datetime) -> str:
    """A claim's time as text that sorts as the time does: UTC, always with microseconds."""
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


class Grades(Repository):
    """The grade columns of the question records, and reads over graded answers."""

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

    def ungraded_answers(self) -> list[tuple[str, int]]:
        """(session id, question index) of every closed question with neither a grade nor a grade error, oldest
        session first: grades that no process has stored (under way somewhere, or lost with a process)."""
        with self._connect() as con:
            rows = con.execute("SELECT q.session_id, q.idx, q.record FROM questions q JOIN sessions s "
                               "ON s.id = q.session_id WHERE q.grade IS NULL AND q.grade_error IS NULL "
                               "ORDER BY s.created_at, q.idx").fetchall()
        return [(sid, idx) for sid, idx, record in rows if json.loads(record).get("closed")]

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

