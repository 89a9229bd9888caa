"""An interview's grades, computed on a thread pool while the conversation goes on.

One quick score per (question, answer, hints) is started once and shared: the interviewer waits for it a bounded
time to decide on a follow-up, the practice feedback streams from it, and the final grade reuses it. A grading job
never raises into the conversation: a failure is stored as the question's grade error and shown in the report.

Every score and grading job takes a ticket in the process-wide `GRADING_QUEUE` when it is submitted, so a session can
say how many other answers its grades wait behind (`queue_position`). A background grade that can reuse its quick
score waits on that future's completion instead of on a pool worker: it holds no thread and no second ticket.

Several processes (app replicas, a restarted one sweeping what its predecessor lost) may find one answer ungraded, so
a grade is claimed in the database before it is queued and again as its job starts (`SessionDB.claim_grade`): one
grader grades each answer. A live process renews its claims every `CLAIM_HEARTBEAT_S` (`ClaimHeartbeat`), however
long a grade waits in line, so a claim not renewed for `GRADE_CLAIM_STALE_S` belongs to a grader that died (on any
host: a replacement container has a new host name) and is taken over by the next sweep (the app sweeps periodically,
interviewer/ui/state.py). A claim whose process is known to be gone (`orphaned`: on this host, a pid that no longer runs) is taken
over at once, the common case of one machine whose app was restarted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import weakref
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

from interviewer.grading.grade import Grade, KeyPointResult
from interviewer.grading.scorer import Scorer
from interviewer.planning import practice
from interviewer.store import SessionDB
from interviewer.grades.queue import GRADING_QUEUE, GradingQueue
from interviewer.session import QuestionRecord, Session, now
from interviewer.bank.bank import Question

OWN_POOL_WORKERS = 2  # when the caller shares no pool: one quick score and one background grade at once
# A live process dates its claims every CLAIM_HEARTBEAT_S; one not dated for GRADE_CLAIM_STALE_S (four missed beats)
# belongs to a grader that died: another may take it over. Before the heartbeat a claim was only dated when taken and
# when its job started, and had to outlast the longest wait in line (10 minutes).
CLAIM_HEARTBEAT_S = 30.0
GRADE_CLAIM_STALE_S = 4 * CLAIM_HEARTBEAT_S
log = logging.getLogger(__name__)
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


class ClaimHeartbeat:
    """The claims this process holds, dated in the database every `interval_s` by one daemon thread (started with the
    first claim) until their grade is stored or given up. One UPDATE per database and beat."""

    def __init__(self, interval_s: float = CLAIM_HEARTBEAT_S) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._held: weakref.WeakKeyDictionary[SessionDB, set[tuple[str, int, str]]] = weakref.WeakKeyDictionary()
        self._thread: threading.Thread | None = None

    def hold(self, db: SessionDB, session_id: str, index: int, owner: str) -> None:
        with self._lock:
            self._held.setdefault(db, set()).add((session_id, index, owner))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="grade-claim-heartbeat", daemon=True)
                self._thread.start()

    def release(self, db: SessionDB, session_id: str, index: int, owner: str) -> None:
        with self._lock:
            self._held.get(db, set()).discard((session_id, index, owner))

    def held(self, db: SessionDB) -> set[tuple[str, int, str]]:
        with self._lock:
            return set(self._held.get(db, ()))

    def beat(self) -> None:
        """Date every held claim now (the thread calls this; tests call it directly)."""
        with self._lock:
            work = [(db, list(claims)) for db, claims in self._held.items() if claims]
        for db, claims in work:
            try:
                db.renew_claims(claims)
            except Exception:  # a database that is briefly away: the next beat tries again, well within the stale time
                log.warning("could not renew %d grade claim(s)", len(claims), exc_info=True)

    def _run(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval_s):
            self.beat()


HEARTBEAT = ClaimHeartbeat()  # the process's one: every session's claims are renewed here


def skipped_grade(question: Question) -> Grade:
    """A skipped question's grade: 0, every key point missing, the reference as the model answer."""
    return Grade(question_id=question.id, score=0.0, flags=["skipped"], model_answer=question.reference_answer,
                 key_points=[KeyPointResult(point=p, status="missing", similarity=0.0) for p in question.key_points],
                 notes=["The question was skipped."])


class GradingJobs:
    def __init__(self, session: Session, db: SessionDB, grader: Scorer, bank: dict[str, Question],
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
        self._retried: set[int] = set()  # failed grades `ensure` tried again: once each

    def claim(self, rec: QuestionRecord, *, retry_failed: bool = False) -> bool:
        """Take (or renew) the grading of this answer; False when another grader holds it or it is stored (with
        `retry_failed`, a stored error may be graded again). A claim taken is kept alive by the heartbeat until the
        grade is stored (`set_grade`) or given up (`release`)."""
        stale_before = now() - timedelta(seconds=GRADE_CLAIM_STALE_S)
        sid, index = self.session.id, rec.index
        claimed = self.db.claim_grade(sid, index, self.owner, stale_before, retry_failed=retry_failed)
        if not claimed:
            # Held (or stored): the holder is asked after only then, and its claim taken over if its process is gone.
            holder = self.db.grade_claimant(sid, index)
            claimed = (holder is not None and orphaned(holder)
                       and self.db.claim_grade(sid, index, self.owner, stale_before, orphaned=holder,
                                               retry_failed=retry_failed))
        if claimed:
            HEARTBEAT.hold(self.db, sid, index, self.owner)
        return claimed

    def release(self, rec: QuestionRecord) -> None:
        """No longer renew this answer's claim: its grade is stored, or another grader has it."""
        HEARTBEAT.release(self.db, self.session.id, rec.index, self.owner)

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
        """Stored with the session, and the question rescheduled in the user's practice plan; nothing is written when
        the session is gone (its person's data was deleted while this grade was being made)."""
        with self._lock:
            rec.grade, rec.grade_error = grade, error
        try:
            stored = self.db.save_grade(self.session.id, rec.index, grade, error)
            if stored and grade is not None:
                practice.review(self.db, self.session.user, rec.question_id, grade.score, session_id=self.session.id)
        finally:
            self.release(rec)

    def full_grade(self, rec: QuestionRecord) -> Grade:
        """Runs on a pool thread: reuse a quick score already under way, else score here (waiting on a new future
        from inside the pool could deadlock when every worker does the same)."""
        answer, hints = rec.combined_answer(), len(rec.hints)
        with self._lock:
            known = self._scores.get(rec.index)
        if known and known[0] == answer and known[1] == hints:
            return known[2].result()
        return self.grader.score(self.bank[rec.question_id], answer, hints=hints)

    def grade_in_background(self, rec: QuestionRecord, *, retry_failed: bool = False) -> Future | None:
        """The final grade, stored when it comes: from the quick score of this very answer when one was started (no
        second job, no pool thread spent waiting on it), else from a job of its own. None when another grader holds
        the answer's claim: that one stores the grade. `retry_failed`: a stored grade error is graded again."""
        if not self.claim(rec, retry_failed=retry_failed):
            return None
        answer, hints = rec.combined_answer(), len(rec.hints)
        with self._lock:
            known = self._scores.get(rec.index)
            if not (known and known[0] == answer and known[1] == hints):
                def job():
                    if not self.claim(rec, retry_failed=retry_failed):  # renewed as it starts; taken over while it
                        self.release(rec)                                # waited in line: not ours
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

    def wait_for_grades(self, timeout: float | None = None) -> bool:
        """Block until background grading is done (the report needs it); True when nothing is left."""
        with self._lock:
            jobs = list(self.jobs.values())
        wait(jobs, timeout=timeout)
        return self.pending() == 0

    def ensure(self, timeout: float | None = None) -> bool:
        """Queue, with a claim like any grade, every closed question whose grade is missing (lost with a restart) or
        failed, and wait for them up to `timeout`; True when nothing is left. A failed grade is tried again once per
        session object, not on every rerun of the page; one another grader holds is left to it."""
        for rec in self.session.questions:
            job = self.jobs.get(rec.index)
            if not rec.closed or rec.grade is not None or (job is not None and not job.done()):
                continue
            if rec.grade_error is not None:
                if rec.index in self._retried:
                    continue
                self._retried.add(rec.index)
                with self._lock:
                    self._scores.pop(rec.index, None)  # a failed score is not reused: the job scores afresh
            self.grade_in_background(rec, retry_failed=rec.grade_error is not None)
        return self.wait_for_grades(timeout)

    def requeue_lost_grades(self) -> list[int]:
        """Queue a grade for every closed question that has neither a grade nor a grade error: its grading died with
        the process that ran it. A stored error is an outcome (the report shows it; `ensure` retries it at the end), so
        it is not re-queued here. Each is claimed first: one under way in another process, or claimed by a grader that
        died less than GRADE_CLAIM_STALE_S ago, is left to it. Returns the indexes queued."""
        queued = []
        for rec in self.session.questions:
            if not rec.closed or rec.grade is not None or rec.grade_error is not None:
                continue
            if (job := self.jobs.get(rec.index)) is not None and not job.done():
                continue
            if rec.skipped:  # the process ended between closing the question and storing its skip
                if not self.claim(rec):
                    continue
                self.set_grade(rec, skipped_grade(self.bank[rec.question_id]))
            elif self.grade_in_background(rec) is None:
                continue
            queued.append(rec.index)
        return queued

    def close(self) -> None:
        if self._own_pool:
            self.pool.shutdown(wait=True)
