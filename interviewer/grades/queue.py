"""Where a grade stands in the line: a process-wide ticket per grading job, in submission order.

Every browser session of the app shares one grading pool and one model, so a candidate's grade can wait behind other
candidates'. The tracker makes that wait visible: a job's position is how many unfinished jobs were submitted before
it (running ones included: they are ahead of it for the model). A ticket is freed however its job ends (a result,
an exception, a cancellation), so a failing job never holds its place.
"""

from __future__ import annotations

import bisect
import threading
from concurrent.futures import Future

from pydantic import BaseModel


class QueueStats(BaseModel):
    """A snapshot of the line (for benchmarks and diagnostics)."""

    unfinished: int  # jobs submitted and not yet ended
    submitted: int   # tickets ever issued
    peak_position: int  # the most jobs ever ahead of a newly submitted one


class GradingQueue:
    """Tickets in submission order; thread-safe. Tickets are issued in increasing order, so the unfinished ones stay
    sorted by appending and a position is a binary search."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._open: list[int] = []  # unfinished tickets, ascending
        self._peak = 0

    def take(self) -> int:
        """A new ticket, behind every unfinished one."""
        with self._lock:
            ticket = self._next
            self._next += 1
            self._peak = max(self._peak, len(self._open))
            self._open.append(ticket)
            return ticket

    def done(self, ticket: int) -> None:
        """The job ended; idempotent (a ticket released twice, or never taken, changes nothing)."""
        with self._lock:
            i = bisect.bisect_left(self._open, ticket)
            if i < len(self._open) and self._open[i] == ticket:
                del self._open[i]

    def position(self, ticket: int) -> int | None:
        """How many unfinished jobs are ahead of this one; None once it has ended."""
        with self._lock:
            i = bisect.bisect_left(self._open, ticket)
            if i < len(self._open) and self._open[i] == ticket:
                return i
            return None

    def submit(self, pool, fn, *args, **kwargs) -> tuple[int, Future]:
        """Take a ticket and submit `fn` to `pool`. The ticket is taken before the job can start and freed inside
        the job, before its future is resolved (a caller that has its result never sees it still in the line); a
        job cancelled before it ran, or refused by the pool, frees it too."""
        ticket = self.take()

        def run():
            try:
                return fn(*args, **kwargs)
            finally:
                self.done(ticket)
        try:
            future = pool.submit(run)
        except BaseException:
            self.done(ticket)
            raise
        future.add_done_callback(lambda _f: self.done(ticket))
        return ticket, future

    def stats(self) -> QueueStats:
        with self._lock:
            return QueueStats(unfinished=len(self._open), submitted=self._next, peak_position=self._peak)


def queue_line(position: int | None) -> str | None:
    """What the candidate is told while their grade waits behind others'; nothing once it is being graded."""
    if not position:
        return None
    return f"Grading: {position} answer{'' if position == 1 else 's'} ahead of yours"


GRADING_QUEUE = GradingQueue()  # the process's one line: every session's grading jobs take their tickets here
