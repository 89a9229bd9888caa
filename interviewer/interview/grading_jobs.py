"""An interview's grades, computed on a thread pool while the conversation goes on.

One quick score per (question, answer, hints) is started once and shared: the interviewer waits for it a bounded
time to decide on a follow-up, the practice feedback streams from it, and the final grade reuses it. A grading job
never raises into the conversation: a failure is stored as the question's grade error and shown in the report.

Every score and grading job takes a ticket in the process-wide `GRADING_QUEUE` when it is submitted, so a session can
say how many other answers its grades wait behind (`queue_position`). A background grade that can reuse its quick
score waits on that future's completion instead of on a pool worker: it holds no thread and no second ticket.

Several processes (app replicas, a restarted one sweeping what its predecessor lost) may find one answer ungraded, so
a grade is claimed in the database before it is queued and again as its job starts (`SessionDB.claim_grade`): one
grader grades each answer. A claim older than `GRADE_CLAIM_STALE_S` belongs to a grader that died, and is taken over;
so is, at once, a claim whose process is known to be gone (`orphaned`: on this host, a pid that no longer runs), which
is the common case of one machine whose app was restarted.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

from interviewer.grading.models import Grade
from interviewer.interview import practice
from interviewer.interview.db import SessionDB
from interviewer.interview.grading_queue import GRADING_QUEUE, GradingQueue
from interviewer.interview.session import QuestionRecord, Session, now
from interviewer.knowledge.bank import Question

OWN_POOL_WORKERS = 2  # when the caller shares no pool: one quick score and one background grade at once
# A claim is taken when a grade is queued and renewed when its job starts; the grade then runs a few model requests
# of at most request_timeout_s (120 s by default) each, and on the loads measured (README, Load) waits in line well
# under this. A claim older than this belongs to a grader that died: another may take it over.
GRADE_CLAIM_STALE_S = 600.0
# This process as its claims name it: host, pid and a token, so that a claim left by an earlier process with the same
# pid (a restarted container numbers its processes alike) is told from this one's.
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def orphaned(owner: str | None) -> bool:
    """Whether the process that holds a claim is known to be gone: on this host, a pid that no longer runs, or this
    pid under another process's token. A claim from another host, or one whose pid runs, waits for the stale time."""
    try:
        host, pid, token, _ = (owner or "").rsplit(":", 3)
        pid_number = int(pid)
    except ValueError:
        return False
    this_host, this_pid, this_token = PROCESS.rsplit(":", 2)
    if host != this_host:
        return False
    if pid == this_pid:
        return token != this_token
    try:
        os.kill(pid_number, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # it exists under another user, or cannot be asked
        return False
    return False


class GradingJobs:
    def __init__(self, session: Session, db: SessionDB, grader, bank: dict[str, Question],
                 executor: ThreadPoolExecutor | None = None, queue: GradingQueue | None = None) -> None:
        self.session, self.db, self.grader, self.bank = session, db, grader, bank
        self.queue = queue or GRADING_QUEUE
        self._own_pool = executor is None
        self.pool = executor or ThreadPoolExecutor(max_workers=OWN_POOL_WORKERS, thread_name_prefix="grading")
        self._lock = threading.RLock()
        self._scores: dict[int, tuple[str, int, Future]] = {}  # question index -> (answer, hints, score future)
        self.jobs: dict[int, Future] = {}  # background grading per question index
        self._tickets: list[int] = []  # this session's tickets that may still be in the line
        # Who claims this session's grades: unique per instance, so two agents of one session in one process (a sweep
        # and a reopened tab) claim apart; the process part says whether a stuck claim's process still runs.
        self.owner = f"{PROCESS}:{uuid.uuid4().hex[:8]}"

    def claim(self, rec: QuestionRecord) -> bool:
        """Take (or renew) the grading of this answer; False when another grader holds it or it is stored."""
        stale_before = now() - timedelta(seconds=GRADE_CLAIM_STALE_S)
        if self.db.claim_grade(self.session.id, rec.index, self.owner, stale_before):
            return True
        # Held (or stored): the holder is asked after only then, and its claim taken over if its process is gone.
        holder = self.db.grade_claimant(self.session.id, rec.index)
        return (holder is not None and orphaned(holder)
                and self.db.claim_grade(self.session.id, rec.index, self.owner, stale_before, orphaned=holder))

    def background(self, fn, *args) -> Future:
        """Work whose failure must never surface in the conversation (a warm-up, a lost race)."""
        def safe():
            try:
                return fn(*args)
            except Exception:
                return None
        return self.pool.submit(safe)

    def score_future(self, rec: QuestionRecord) -> Future:
        """The quick score of the current combined answer, started once and shared with the final grading."""
        answer, hints = rec.combined_answer(), len(rec.hints)
        with self._lock:
            known = self._scores.get(rec.index)
            if known and known[0] == answer and known[1] == hints:
                return known[2]
            fut = self._submit(self.grader.score, self.bank[rec.question_id], answer, hints=hints)
            self._scores[rec.index] = (answer, hints, fut)
            return fut

    def _submit(self, fn, *args, **kwargs) -> Future:
        ticket, fut = self.queue.submit(self.pool, fn, *args, **kwargs)
        with self._lock:
            self._tickets.append(ticket)
        return fut

    def queue_position(self) -> int | None:
        """How many unfinished jobs (mostly other sessions' answers) are ahead of this session's earliest unfinished
        one; None when none of its jobs is in the line."""
        with self._lock:
            positions = {t: self.queue.position(t) for t in self._tickets}
            self._tickets = [t for t, p in positions.items() if p is not None]
        return min((p for p in positions.values() if p is not None), default=None)

    def quick_score(self, rec: QuestionRecord, timeout_s: float) -> Grade | None:
        """Waits a bounded time: a slow or failing model means no decision, never a stalled conversation."""
        try:
            return self.score_future(rec).result(timeout=timeout_s)
        except FutureTimeout:
            return None
        except Exception:
            return None

    def set_grade(self, rec: QuestionRecord, grade: Grade | None, error: str | None = None) -> None:
        """Stored with the session, and the question rescheduled in the user's practice plan."""
        with self._lock:
            rec.grade, rec.grade_error = grade, error
        self.db.save_grade(self.session.id, rec.index, grade, error)
        if grade is not None:
            practice.review(self.db, self.session.user, rec.question_id, grade.score)

    def full_grade(self, rec: QuestionRecord) -> Grade:
        """Runs on a pool thread: reuse a quick score already under way, else score here (waiting on a new future
        from inside the pool could deadlock when every worker does the same)."""
        answer, hints = rec.combined_answer(), len(rec.hints)
        with self._lock:
            known = self._scores.get(rec.index)
        if known and known[0] == answer and known[1] == hints:
            return known[2].result()
        return self.grader.score(self.bank[rec.question_id], answer, hints=hints)

    def grade_in_background(self, rec: QuestionRecord) -> Future | None:
        """The final grade, stored when it comes: from the quick score of this very answer when one was started (no
        second job, no pool thread spent waiting on it), else from a job of its own. None when another grader holds
        the answer's claim: that one stores the grade."""
        if not self.claim(rec):
            return None
        answer, hints = rec.combined_answer(), len(rec.hints)
        with self._lock:
            known = self._scores.get(rec.index)
            if not (known and known[0] == answer and known[1] == hints):
                def job():
                    if not self.claim(rec):  # renewed as it starts; taken over while it waited in line: not ours
                        return
                    try:
                        self.set_grade(rec, self.full_grade(rec))
                    except Exception as e:  # keep the session; the report shows the question as ungraded
                        self.set_grade(rec, None, f"{type(e).__name__}: {e}")
                self.jobs[rec.index] = self._submit(job)
                return self.jobs[rec.index]
            outcome: Future = Future()
            self.jobs[rec.index] = outcome
        # Outside the lock: a score already done runs the callback here, at once.
        known[2].add_done_callback(lambda score: self._settle(rec, score, outcome))
        return outcome

    def _settle(self, rec: QuestionRecord, score: Future, outcome: Future) -> None:
        """Store the grade (or the error) of a finished quick score; `outcome` ends once it is stored, or fails with
        what kept it from being stored (it is then graded again on resume or by `ensure`)."""
        try:
            try:
                grade = score.result()
            except Exception as e:  # a failed or cancelled score
                self.set_grade(rec, None, f"{type(e).__name__}: {e}")
            else:
                self.set_grade(rec, grade)
        except Exception as e:
            outcome.set_exception(e)
        else:
            outcome.set_result(None)

    def pending(self) -> int:
        return sum(1 for r in self.session.questions if r.closed and r.grade is None and r.grade_error is None)

    def running(self) -> bool:
        """Whether any background grade of this session is still under way."""
        with self._lock:
            return any(not job.done() for job in self.jobs.values())

    def wait(self, timeout: float | None = None) -> bool:
        """Block until background grading is done (the report needs it); True when nothing is left."""
        with self._lock:
            jobs = list(self.jobs.values())
        wait(jobs, timeout=timeout)
        return self.pending() == 0

    def ensure(self) -> None:
        """Grade, in this thread, any closed question whose grade is missing (e.g. lost with a restart)."""
        for rec in self.session.questions:
            job = self.jobs.get(rec.index)
            if rec.closed and rec.grade is None and (job is None or job.done()):
                try:
                    self.set_grade(rec, self.full_grade(rec))
                except Exception as e:
                    self.set_grade(rec, None, f"{type(e).__name__}: {e}")

    def close(self) -> None:
        if self._own_pool:
            self.pool.shutdown(wait=True)
