"""People's grades: an instructor's review of an answer, and graded answers from a labelled file, kept as anchors.

An instructor (team mode) reviews an answer in the cohort view: the review (score, note, who, when) is kept on the
answer's own row (`questions.review`), `questions.score` becomes the instructor's score (so history, the cohort and
the report read it), and the answer joins its question's anchors, which the grader reads from the next grade on
(`anchor_book`). A labelled file (`interviewer anchors add`) adds anchors the same way, without a session. Both live
in the `anchors` table (migration m005); a reviewed answer's anchor carries its session's id, so deleting a person's
data deletes the anchors made from their answers with it (the foreign key cascades).

An answer is reviewed once the grader has graded it: the grader's score stays in the grade (shown beside the
instructor's), and an answer still being graded would have its score overwritten by the grade when it lands.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel

from interviewer.bank.anchors import Anchor

from interviewer.session import Review, now
from interviewer.store.database import Repository

_COLUMNS = "question_id, text, score, rationale, source, author, created_at"


class ReviewError(ValueError):
    """A review or an anchor that cannot be stored: the reason, in words for the person who asked."""



class ReviewedAnswer(BaseModel):
    """Where a review is: for the history's list of a person's reviewed answers."""

    session_id: str
    index: int
    question_id: str
    review: Review


def review_anchor_id(session_id: str, index: int) -> str:
    """One anchor per answer: a second review of the same answer replaces the first."""
    return f"review:{session_id}:{index}"


class Reviews(Repository):
    """The reviews and people's anchors of one sessions database (`SessionDB(...).database`), on either engine.
    It is the grader's `AnchorSource` (`anchors_for`)."""

    def review(self, session_id: str, index: int, score: float, note: str, by: str,
               at: datetime | None = None) -> Review:
        """Grade one answer as an instructor; returns the review stored. Refused (ReviewError) for an answer that is
        not there, was skipped or left empty, or is not graded yet."""
        from pydantic import ValidationError

        from interviewer.session import QuestionRecord

        try:
            review = Review(score=score, note=note, by=by, at=at or now())
        except ValidationError as e:
            raise ReviewError("; ".join(x["msg"] for x in e.errors())) from None
        with self.database.connect() as con:
            row = con.execute("SELECT record, grade FROM questions WHERE session_id=? AND idx=?",
                              (session_id, index)).fetchone()
            if row is None:
                raise ReviewError(f"no answer {index + 1} in session {session_id!r}")
            record = QuestionRecord.model_validate_json(row[0])
            text = record.combined_answer().strip()
            if record.skipped or not text:
                raise ReviewError("this question was skipped or left empty: there is no answer to grade")
            if row[1] is None:
                raise ReviewError("this answer is not graded yet: review it once the grader's grade is in")
            anchor = Anchor(question_id=record.question_id, text=text, score=review.score, level="graded",
                            rationale=review.note or "an instructor's grade", source="instructor", author=by,
                            created=review.at.isoformat())
            con.execute("UPDATE questions SET review=?, score=? WHERE session_id=? AND idx=?",
                        (review.model_dump_json(), review.score, session_id, index))
            con.execute(f"INSERT INTO anchors (id, {_COLUMNS}, session_id, idx) VALUES (?,?,?,?,?,?,?,?,?,?) "
                        "ON CONFLICT(id) DO UPDATE SET text=excluded.text, score=excluded.score, "
                        "rationale=excluded.rationale, author=excluded.author, created_at=excluded.created_at",
                        (review_anchor_id(session_id, index), *self._values(anchor), session_id, index))
        return review

    def add(self, anchors: list[Anchor]) -> int:
        """Anchors from a labelled file; one already stored (the same question, text and score: `Anchor.key`) is
        not added twice. Returns how many were new."""
        added = 0
        with self.database.connect() as con:
            for a in {a.key: a for a in anchors}.values():
                cur = con.execute(f"INSERT INTO anchors (id, {_COLUMNS}) VALUES (?,?,?,?,?,?,?,?) "
                                  "ON CONFLICT(id) DO NOTHING", (a.key, *self._values(a)))
                added += cur.rowcount
        return added

    def anchors_for(self, question_id: str) -> list[Anchor]:
        """People's anchors of one question, oldest first: what the grader reads beside the authored ones."""
        return self.list(question_id)

    def list(self, question_id: str | None = None) -> list[Anchor]:
        sql = f"SELECT {_COLUMNS} FROM anchors" + (" WHERE question_id=?" if question_id else "")
        with self.database.connect() as con:
            rows = con.execute(sql + " ORDER BY created_at, id", (question_id,) if question_id else ()).fetchall()
        return [Anchor(question_id=q, text=text, score=float(score), level="graded", rationale=rationale,
                       source=source, author=author, created=created)
                for q, text, score, rationale, source, author, created in rows]

    def reviewed(self, user: str | None = None) -> list[ReviewedAnswer]:
        """The reviewed answers (of one user's sessions), oldest session first."""
        sql = ("SELECT q.session_id, q.idx, q.question_id, q.review FROM questions q JOIN sessions s "
               "ON s.id = q.session_id WHERE q.review IS NOT NULL" + (' AND s."user"=?' if user else "")
               + " ORDER BY s.created_at, q.idx")
        with self.database.connect() as con:
            rows = con.execute(sql, (user,) if user else ()).fetchall()
        return [ReviewedAnswer(session_id=sid, index=idx, question_id=qid, review=Review.model_validate(json.loads(r)))
                for sid, idx, qid, r in rows]

    @staticmethod
    def _values(a: Anchor) -> tuple:
        return a.question_id, a.text, a.score, a.rationale, a.source, a.author, a.created or now().isoformat()
