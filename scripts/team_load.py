"""Many candidates on one instance: simulated interviews in parallel threads against one database, one model and
one grading pool, as the app runs them in team mode; then the checks that matter when they share everything.

`run_team` is the core of `scripts/bench_team.py` and of its fast test. Each candidate answers with text that carries
its own marker and turn number, so the stored sessions can be checked exactly: every session holds its candidate's
messages and nobody else's, in the order they were sent (no cross-talk), and as many as were sent (no lost turn).
While they interview, the run can also take abuse as a shared instance would: a burst of wrong sign-ins at one
account from many addresses (`wrong_sign_ins`) and a .docx zip bomb uploaded as a job description (`bomb_bytes`),
each through the app's own code (`accounts.sign_in`, `tailor.read_document`); the process's peak RSS is reported.
"""

from __future__ import annotations

import re
import resource
import secrets
import struct
import threading
import zlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from pydantic import BaseModel, Field

from interviewer.interview.agent import Interviewer
from interviewer.store import SessionDB
from interviewer.grades.queue import GradingQueue
from interviewer.session import SessionConfig
from interviewer.bank.bank import Question

GRADING_WORKERS = 4  # as the app's shared pool (interviewer/ui/state.py): grades of several sessions at once
GRADES_WAIT_S = 600.0  # after the last turn, how long the grades may take to arrive before they count as missing
P95 = 95
MARKER = re.compile(r"\[cand-(\d+) turn-(\d+)\]")
ZERO_BLOCK = bytes(1 << 20)  # what each repeated deflate block inflates to
ZIP32_LIMIT = (1 << 32) - 1  # the most one part of a zip without zip64 may declare


class LoadConfig(BaseModel):
    candidates: int = Field(default=20, ge=1)
    questions: int = Field(default=3, ge=1, le=30, description="questions per interview")
    turns: int = Field(default=8, ge=1, description="most messages a candidate sends (an interview may end sooner)")
    seconds: float | None = Field(default=None, gt=0, description="no new message after this long; None: no limit")
    track: str = "mixed"
    workers: int = Field(default=GRADING_WORKERS, ge=1, description="threads of the shared grading pool")
    decide_timeout_s: float = Field(default=30.0, ge=0, description="the interviewer's wait for a quick score")
    grades_wait_s: float = Field(default=GRADES_WAIT_S, ge=0)
    wrong_sign_ins: int = Field(default=0, ge=0, description="wrong passwords for one account, all sent at once")
    bomb_bytes: int = Field(default=0, ge=0, description="a .docx zip bomb of this size uploaded during the run")


class Abuse(BaseModel):
    """What the wrong sign-ins and the zip bomb met while the candidates interviewed."""

    sign_ins: int = 0
    password_checks: int = 0  # argon2 verifications run (64 MiB each)
    backed_off: int = 0       # refused unchecked: too many failures of late
    busy: int = 0             # refused unchecked: no check slot freed up in time
    signed_in: int = 0        # must stay 0
    bomb: str | None = None   # what the upload was told

    def lines(self) -> list[str]:
        out = []
        if self.sign_ins:
            out.append(f"wrong sign-ins {self.sign_ins}: {self.password_checks} password checks, {self.backed_off} "
                       f"backed off, {self.busy} told busy, {self.signed_in} signed in")
        if self.bomb is not None:
            out.append(f"zip bomb upload: {self.bomb}")
        return out


class CandidateRun(BaseModel):
    """What one simulated candidate did: the messages it sent, in order, and how long each turn took."""

    number: int
    user: str
    session_id: str = ""
    sent: list[str] = Field(default_factory=list)
    latencies_ms: list[float] = Field(default_factory=list)
    error: str | None = None


class Findings(BaseModel):
    """What the stored sessions show; empty lists mean the check passed."""

    cross_talk: list[str] = Field(default_factory=list)
    lost_turns: list[str] = Field(default_factory=list)
    ungraded: list[str] = Field(default_factory=list)
    turns_sent: int = 0
    turns_stored: int = 0


class LoadReport(BaseModel):
    config: LoadConfig
    backend: str
    database: str
    findings: Findings
    errors: list[str]
    p50_ms: float | None
    p95_ms: float | None
    max_queue_position: int
    seconds: float
    abuse: Abuse = Field(default_factory=Abuse)
    peak_rss_mib: float = Field(default=0.0, description="the process's peak resident memory (getrusage)")

    @property
    def ok(self) -> bool:
        f = self.findings
        bomb_refused = self.config.bomb_bytes == 0 or (self.abuse.bomb or "").startswith("refused")
        return not (f.cross_talk or f.lost_turns or f.ungraded or self.errors or self.abuse.signed_in) and bomb_refused

    def lines(self) -> list[str]:
        f = self.findings
        ms = (lambda v: "-" if v is None else f"{v:.0f} ms")
        return [
            f"{self.config.candidates} candidates x up to {self.config.turns} turns ({self.config.questions} questions) "
            f"on {self.backend}, database {self.database}, {self.config.workers} grading workers: {self.seconds:.1f} s",
            f"turns sent {f.turns_sent}, stored {f.turns_stored}; lost {len(f.lost_turns)}; cross-talk "
            f"{len(f.cross_talk)}; ungraded {len(f.ungraded)}; errors {len(self.errors)}",
            f"turn latency p50 {ms(self.p50_ms)}, p95 {ms(self.p95_ms)}; max queue position seen "
            f"{self.max_queue_position}",
            *self.abuse.lines(),
            f"peak RSS {self.peak_rss_mib:.0f} MiB",
            *[f"  {line}" for line in (f.lost_turns + f.cross_talk + f.ungraded + self.errors)],
            "OK" if self.ok else "FAILED",
        ]


DOCX_SKELETON = {  # what python-docx needs to find the document part: it then reads that part whole
    b"[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                            b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
                            b'package.relationships+xml"/><Override PartName="/word/document.xml" ContentType="'
                            b'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
                            b'</Types>',
    b"_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                    b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                    b'2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
}


def docx_bomb(size_bytes: int) -> bytes:
    """A .docx that is `size_bytes` long and whose document part inflates about a thousand times over (deflated
    zeros, one block repeated: made in milliseconds, where compressing gigabytes would take minutes). Its parts beyond
    the skeleton have CRC 0: a reader that refuses it must do so by the sizes the zip declares, before inflating."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    compressor.compress(ZERO_BLOCK)
    compressor.flush(zlib.Z_FULL_FLUSH)  # the first block may differ; after a full flush each is the same
    block = compressor.compress(ZERO_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)  # self-contained: repeatable
    ending = compressor.flush(zlib.Z_FINISH)
    parts: list[tuple[bytes, int, int, bytes, int]] = [  # name, method, crc, data, unzipped size
        (name, 0, zlib.crc32(body), body, len(body)) for name, body in DOCX_SKELETON.items()]
    left, most_blocks = size_bytes - sum(len(p[3]) + 2 * len(p[0]) + 76 for p in parts), ZIP32_LIMIT // len(ZERO_BLOCK)
    while left >= len(block) or len(parts) == len(DOCX_SKELETON):
        blocks = max(1, min(left // len(block), most_blocks))
        name = b"word/document.xml" if len(parts) == len(DOCX_SKELETON) else f"word/media/{len(parts)}.bin".encode()
        parts.append((name, 8, 0, block * blocks + ending, blocks * len(ZERO_BLOCK)))
        left -= len(parts[-1][3]) + 2 * len(name) + 76  # the part's two headers
    local, central = bytearray(), bytearray()
    for name, method, crc, data, unzipped in parts:
        header = (0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), unzipped, len(name))
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *header[1:], 0, 0, 0, 0, 0, len(local)) + name
        local += struct.pack("<IHHHHHIIIHH", *header, 0) + name + data
    return bytes(local + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central),
                                               len(local), 0))


def user_of(number: int) -> str:
    return f"cand-{number:02d}"


def answer_text(number: int, turn: int, question: Question) -> str:
    """Distinct for every candidate and turn, and varied in how much it covers, so some answers earn follow-ups."""
    points = question.key_points[: 1 + (number + turn) % len(question.key_points)]
    return f"[{user_of(number)} turn-{turn:03d}] " + " ".join(points)


def _drive(agent: Interviewer, run: CandidateRun, bank: dict[str, Question], config: LoadConfig,
           deadline: float | None, start: threading.Barrier) -> None:
    try:
        start.wait()
        for u in agent.opening():
            u.resolve()
        for turn in range(config.turns):
            if agent.phase == "finished" or (deadline is not None and time.monotonic() >= deadline):
                break
            text = answer_text(run.number, turn, bank[agent.current.question_id])
            t0 = time.perf_counter()
            run.sent.append(text)  # before handing it over: a message lost in there still counts as sent
            for u in agent.handle(text):
                u.resolve()
            run.latencies_ms.append((time.perf_counter() - t0) * 1000)
    except Exception as e:  # reported with the figures, never a silent stop
        run.error = f"{run.user}: {type(e).__name__}: {e}"


def check_sessions(db: SessionDB, runs: list[CandidateRun]) -> Findings:
    """Each session holds exactly its own candidate's messages, in order, and every answer it graded."""
    f = Findings()
    for run in runs:
        f.turns_sent += len(run.sent)
        stored = db.load(run.session_id) if run.session_id else None
        if stored is None:
            f.lost_turns.append(f"{run.user}: session {run.session_id or '(none)'} not stored")
            continue
        if stored.user != run.user:
            f.cross_talk.append(f"{run.user}: session {stored.id} belongs to {stored.user}")
        said = [t for t in stored.turns if t.role == "candidate"]
        f.turns_stored += len(said)
        for t in stored.turns:
            for number, _turn in MARKER.findall(t.text):
                if user_of(int(number)) != run.user:
                    f.cross_talk.append(f"{run.user}: turn {t.seq} carries {user_of(int(number))}'s text")
        texts = [t.text for t in said]
        if texts != run.sent:
            missing = [s for s in run.sent if s not in texts]
            f.lost_turns.append(f"{run.user}: sent {len(run.sent)} messages, stored {len(texts)}"
                                + (f"; missing {missing[:2]}" if missing else "; out of order or foreign"))
        answers = [a for rec in stored.questions for a in rec.answers]
        if answers != [t.text for t in said if t.kind == "answer"]:
            f.cross_talk.append(f"{run.user}: the questions' answers differ from the answers in the transcript")
        seqs = [t.seq for t in stored.turns]
        if seqs != list(range(len(seqs))):
            f.lost_turns.append(f"{run.user}: turn numbers {seqs[:8]}... have gaps or repeats")
        for rec in stored.questions:
            if rec.grade is not None and rec.grade.question_id != rec.question_id:
                f.cross_talk.append(f"{run.user}: question {rec.index} holds the grade of {rec.grade.question_id}")
            if rec.closed and rec.grade is None:
                f.ungraded.append(f"{run.user}: question {rec.index} ungraded ({rec.grade_error or 'no grade'})")
    return f


FLOOD_ACCOUNT = "load-victim"  # the account the wrong sign-ins aim at, made for the run and removed after it


def _wrong_sign_in(db: SessionDB, number: int, throttle, abuse: Abuse, lock: threading.Lock,
                   start: threading.Barrier) -> None:
    from interviewer.team import accounts

    start.wait()
    try:
        account = accounts.sign_in(db, FLOOD_ACCOUNT, f"wrong guess {number}", client=f"203.0.113.{number % 250}",
                                   throttle=throttle)
        outcome = "signed_in" if account is not None else "password_checks"
    except accounts.AccountError as e:
        outcome = "busy" if "at once" in str(e) else "backed_off"
    with lock:
        setattr(abuse, outcome, getattr(abuse, outcome) + 1)
        abuse.sign_ins += 1


def _upload_bomb(size: int, abuse: Abuse, start: threading.Barrier) -> None:
    from interviewer.planning.tailor import DocumentError, read_document

    bomb = docx_bomb(size)
    start.wait()
    try:
        read_document(bomb, "job-description.docx")
        abuse.bomb = "READ (not refused)"
    except DocumentError as e:
        abuse.bomb = f"refused ({len(bomb) / 1e6:.1f} MB file): {e}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _percentile(values: list[float], pct: int) -> float | None:
    return float(np.percentile(values, pct)) if values else None


def run_team(db: SessionDB, questions: list[Question], config: LoadConfig, *, llm, make_grader: Callable[[], object],
             backend: str = "fake") -> LoadReport:
    """Run the candidates in parallel threads, wait for their grades, check the stored sessions.

    One model (`llm`) and one pool serve them all, as in the app; each candidate has its own grader, as each browser
    session does. Sessions get ids of their own, so the run never collides with what the database already holds.
    """
    from interviewer.team import accounts
    from interviewer.team.throttle import SignInThrottle

    bank = {q.id: q for q in questions}
    queue = GradingQueue()  # this run's line alone: its peak is this run's
    runs = [CandidateRun(number=i, user=user_of(i)) for i in range(config.candidates)]
    pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="team-grading")
    agents: list[Interviewer] = []
    abuse, abuse_lock, throttle = Abuse(), threading.Lock(), SignInThrottle()  # the app process's limits, fresh
    if config.wrong_sign_ins:
        accounts.add(db, FLOOD_ACCOUNT, secrets.token_urlsafe(16), replace=True)
    t0 = time.monotonic()
    try:
        for run in runs:
            agent = Interviewer.start(SessionConfig(track=config.track, n_questions=config.questions, user=run.user),
                                      db=db, backend=backend, llm=llm, grader=make_grader(), questions=questions,
                                      executor=pool, decide_timeout_s=config.decide_timeout_s, grading_queue=queue)
            run.session_id = agent.session.id
            agents.append(agent)
        # every candidate (and the abuse) begins at once: the load is concurrent from turn one
        start = threading.Barrier(len(runs) + config.wrong_sign_ins + (1 if config.bomb_bytes else 0))
        deadline = t0 + config.seconds if config.seconds else None
        threads = [threading.Thread(target=_drive, args=(a, r, bank, config, deadline, start), name=r.user)
                   for a, r in zip(agents, runs)]
        threads += [threading.Thread(target=_wrong_sign_in, args=(db, i, throttle, abuse, abuse_lock, start),
                                     name=f"wrong-sign-in-{i}") for i in range(config.wrong_sign_ins)]
        if config.bomb_bytes:
            threads.append(threading.Thread(target=_upload_bomb, args=(config.bomb_bytes, abuse, start), name="bomb"))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        grades_by = time.monotonic() + config.grades_wait_s
        for agent in agents:
            agent.wait_for_grades(timeout=max(0.0, grades_by - time.monotonic()))
    finally:
        pool.shutdown(wait=True)
        if config.wrong_sign_ins:
            accounts.remove(db, FLOOD_ACCOUNT)
    seconds = time.monotonic() - t0
    latencies = [ms for r in runs for ms in r.latencies_ms]
    return LoadReport(config=config, backend=backend, database=db.describe() if hasattr(db, "describe") else "",
                      findings=check_sessions(db, runs), errors=[r.error for r in runs if r.error],
                      p50_ms=_percentile(latencies, 50), p95_ms=_percentile(latencies, P95),
                      max_queue_position=queue.stats().peak_position, seconds=seconds, abuse=abuse,
                      peak_rss_mib=peak_rss_mib())
