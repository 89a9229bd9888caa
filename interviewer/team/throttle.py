"""Limits on sign-in attempts: a back-off per account name and per client after repeated failures, and a bound on
how many password checks run at once.

Each argon2id check (argon2-cffi's RFC 9106 defaults) takes 64 MiB for a fraction of a second: fifty sign-ins at
once would take ~3 GB of the shared process, so at most `MAX_CONCURRENT_CHECKS` run together and the others wait
their turn a bounded time (`CHECK_WAIT_S`) before being told the server is busy. After `FREE_FAILURES` failed tries,
a name or a client waits before the next one, twice as long after each further failure, up to `MAX_BACKOFF_S`; a
success clears the name's and the client's count. The counts live in this process (a replica keeps its own) and are
bounded (`MAX_TRACKED`, the oldest forgotten first), so random names cannot grow them without end. A name's back-off
also slows its owner down while someone else guesses at it: the wait is capped for that reason.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

FREE_FAILURES = 5       # failed tries a name or client gets before any wait (typos, a forgotten password)
BASE_BACKOFF_S = 2.0    # the first wait; doubled by each further failure
MAX_BACKOFF_S = 300.0   # at most five minutes: an owner locked out by someone else's guesses gets back in
FORGET_AFTER_S = 3600.0  # failures older than this no longer count
MAX_TRACKED = 10_000    # names and clients remembered; the oldest are forgotten first
MAX_CONCURRENT_CHECKS = 2  # argon2 checks at once: 2 x 64 MiB
CHECK_WAIT_S = 20.0     # how long a sign-in waits for a free check before it is told to try again


class SignInRefused(Exception):
    """A sign-in not tried: too many failures of late, or too many at once. The message says what to do."""


class _Failures:
    __slots__ = ("count", "last")

    def __init__(self, count: int, last: float) -> None:
        self.count, self.last = count, last


class SignInThrottle:
    def __init__(self, *, free_failures: int = FREE_FAILURES, base_s: float = BASE_BACKOFF_S,
                 max_s: float = MAX_BACKOFF_S, concurrent: int = MAX_CONCURRENT_CHECKS, wait_s: float = CHECK_WAIT_S,
                 tracked: int = MAX_TRACKED, clock: Callable[[], float] = time.monotonic) -> None:
        self.free_failures, self.base_s, self.max_s = free_failures, base_s, max_s
        self.wait_s, self.tracked, self.clock = wait_s, tracked, clock
        self._slots = threading.BoundedSemaphore(concurrent)
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    @staticmethod
    def _keys(name: str, client: str | None) -> list[str]:
        return [f"name:{name.lower()}"] + ([f"client:{client}"] if client else [])

    def _wait_for(self, key: str, now: float) -> float:
        seen = self._failures.get(key)
        if seen is None or now - seen.last > FORGET_AFTER_S:
            return 0.0
        extra = seen.count - self.free_failures
        if extra < 0:
            return 0.0
        return max(0.0, seen.last + min(self.max_s, self.base_s * 2 ** extra) - now)

    def check(self, name: str, client: str | None = None) -> None:
        """Raise SignInRefused while this name or client must wait."""
        now = self.clock()
        with self._lock:
            wait = max(self._wait_for(key, now) for key in self._keys(name, client))
        if wait > 0:
            raise SignInRefused(f"Too many failed sign-ins: try again in {wait:.0f} s.")

    def failed(self, name: str, client: str | None = None) -> None:
        now = self.clock()
        with self._lock:
            for key in self._keys(name, client):
                seen = self._failures.pop(key, None)
                fresh = seen is None or now - seen.last > FORGET_AFTER_S
                self._failures[key] = _Failures(1 if fresh else seen.count + 1, now)
            while len(self._failures) > self.tracked:
                self._failures.popitem(last=False)

    def succeeded(self, name: str, client: str | None = None) -> None:
        with self._lock:
            for key in self._keys(name, client):
                self._failures.pop(key, None)

    def tracked_keys(self) -> int:
        with self._lock:
            return len(self._failures)

    @contextmanager
    def check_slot(self) -> Iterator[None]:
        """One of the few password checks allowed at once; SignInRefused when none frees up in time."""
        if not self._slots.acquire(timeout=self.wait_s):
            raise SignInRefused("Many people are signing in at once: try again in a moment.")
        try:
            yield
        finally:
            self._slots.release()


SIGN_IN_THROTTLE = SignInThrottle()  # the process's one: every browser session's sign-ins count here
