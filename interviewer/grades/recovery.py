"""Grades lost with a process, queued again without waiting for their sessions to be opened.

Run when a process starts, and then periodically (the app, `interviewer.ui.state`): every session with a closed
question that has neither a grade nor an error gets its grading jobs (`GradingJobs`, no interviewer: nothing is said
to anyone), which claim each such answer before queuing it, so of several replicas sweeping one database at once one
grades it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor

from interviewer.bank.bank import Question
from interviewer.grades.jobs import GradingJobs
from interviewer.grades.queue import GradingQueue
from interviewer.grading.scorer import Scorer
from interviewer.store import SessionDB

log = logging.getLogger(__name__)


def sweep_lost_grades(db: SessionDB, *, grader: Scorer, questions: list[Question],
                      executor: ThreadPoolExecutor | None = None, grading_queue: GradingQueue | None = None,
                      lost: list[tuple[str, int]] | None = None, exclude: Collection[str] = ()) -> list[GradingJobs]:
    """Queue the grades that died with a process. `lost`: `db.ungraded_answers()` when the caller has read it already.
    `exclude`: sessions already open in this process (they re-queued what was lost). Returns the grading jobs under
    way, for the caller to keep (and share with a session opened meanwhile) until their grades are in."""
    bank = {q.id: q for q in questions}
    swept = []
    for session_id in dict.fromkeys(sid for sid, _ in (db.ungraded_answers() if lost is None else lost)):
        if session_id in exclude or (session := db.load(session_id)) is None:
            continue
        jobs = GradingJobs(session, db, grader, bank, executor, grading_queue)
        try:
            jobs.requeue_lost_grades()
        except Exception:  # one session the bank no longer knows must not keep the others from their grades
            log.exception("could not queue the lost grades of session %s", session_id)
        if jobs.running():
            swept.append(jobs)
        else:
            jobs.close()
    return swept
