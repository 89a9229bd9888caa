"""The grading line candidates share: positions in submission order, freed however a job ends, and grades that a
restart lost are queued again: when the session is opened, and by the sweep a process runs when it starts, claimed
in the database so that replicas grade each answer once (on SQLite and PostgreSQL). Jobs are held by events, never
timed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from interviewer.grading.grader import Grader
from interviewer.grades import jobs as grading_jobs
from interviewer.grades.jobs import GradingJobs
from interviewer.grades.recovery import sweep_lost_grades
from interviewer.interview.agent import Interviewer
from interviewer.store import SessionDB
from interviewer.grades.queue import GradingQueue, queue_line
from interviewer.session import QuestionRecord, Session, SessionConfig
from interviewer.llm.fake import toy_llm

HELD_LIMIT_S = 60  # a held job gives up after this, so a broken test fails instead of hanging the suite
GRADES_WAIT_S = 60


@pytest.fixture
def db(db_target):
    """The tests' sessions database, on each engine."""
    opened = SessionDB(db_target)
    yield opened
    opened.close()


def _claims_go_stale(monkeypatch) -> None:
    """From now on the grading clock reads just past GRADE_CLAIM_STALE_S: every claim taken so far is stale."""
    real_now = grading_jobs.now
    later = timedelta(seconds=grading_jobs.GRADE_CLAIM_STALE_S + 1)
    monkeypatch.setattr(grading_jobs, "now", lambda: real_now() + later)


class GatedGrader:
    """The fake model's grader, whose `score` waits for `gate` (and then raises, with `fail`)."""

    def __init__(self, settings, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.inner = Grader(toy_llm(), None, settings)
        self.gate, self.fail = gate, fail
        self.started = threading.Event()
        self.calls = 0

    def score(self, *args, **kwargs):
        self.calls += 1
        self.started.set()
        if self.gate is not None and not self.gate.wait(HELD_LIMIT_S):
            raise TimeoutError("the test never released this job")
        if self.fail:
            raise RuntimeError("the model went away mid-grade")
        return self.inner.score(*args, **kwargs)

    def __getattr__(self, name):  # prepare, hint_cap, stream_feedback...
        return getattr(self.inner, name)


def held(queue: GradingQueue, pool, gate: threading.Event, fail: bool = False):
    def job():
        assert gate.wait(HELD_LIMIT_S)
        if fail:
            raise RuntimeError("grading failed")
        return "graded"
    return queue.submit(pool, job)


def test_positions_follow_submission_order_and_drop_as_jobs_end():
    queue = GradingQueue()
    gates = [threading.Event() for _ in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [held(queue, pool, g) for g in gates]
        assert [queue.position(t) for t, _ in jobs] == [0, 1, 2]
        gates[0].set()
        assert jobs[0][1].result() == "graded"
        assert [queue.position(t) for t, _ in jobs] == [None, 0, 1]
        gates[2].set()  # a later job ending moves nobody ahead of it
        jobs[2][1].result()
        assert [queue.position(t) for t, _ in jobs] == [None, 0, None]
        gates[1].set()
        jobs[1][1].result()
    assert queue.stats().unfinished == 0 and queue.stats().peak_position == 2


def test_a_failing_job_frees_its_place():
    queue = GradingQueue()
    gates = [threading.Event() for _ in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        failing, *rest = [held(queue, pool, g, fail=(i == 0)) for i, g in enumerate(gates)]
        gates[0].set()
        with pytest.raises(RuntimeError):
            failing[1].result()
        assert queue.position(failing[0]) is None
        assert [queue.position(t) for t, _ in rest] == [0, 1]
        for g in gates:
            g.set()


def test_a_job_cancelled_before_it_ran_frees_its_place():
    queue = GradingQueue()
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = held(queue, pool, gate)
        waiting = held(queue, pool, gate)
        assert waiting[1].cancel()
        assert queue.position(waiting[0]) is None and queue.position(running[0]) == 0
        gate.set()


def _agent(db, bank, settings, pool, queue, grader, user: str, **kwargs) -> Interviewer:
    agent = Interviewer.start(SessionConfig(track="fresher", n_questions=2, user=user, **kwargs), db=db,
                              llm=toy_llm(), grader=grader, questions=bank.questions, executor=pool,
                              decide_timeout_s=0, grading_queue=queue, session_id=f"queue-{user}")
    for u in agent.opening():
        u.resolve()
    return agent


def _answer(agent: Interviewer, bank, marker: str) -> None:
    q = bank.get(agent.current.question_id)
    for u in agent.handle(f"{marker}: " + " ".join(q.key_points)):
        u.resolve()


def test_three_candidates_see_their_place_in_line(db, bank, session_settings):
    """Three sessions on one pool and one line: each sees how many answers are ahead of its own, the count drops as
    grades arrive, and a grade that fails frees its place and is stored as an error."""
    queue = GradingQueue()
    gates = {u: threading.Event() for u in ("ann", "bob", "cat")}
    graders = {u: GatedGrader(session_settings, gates[u], fail=(u == "bob")) for u in gates}
    with ThreadPoolExecutor(max_workers=4) as pool:
        agents = {}
        for user in gates:
            agents[user] = _agent(db, bank, session_settings, pool, queue, graders[user], user)
            _answer(agents[user], bank, f"MARK-{user}")
        assert {u: a.queue_position() for u, a in agents.items()} == {"ann": 0, "bob": 1, "cat": 2}
        assert [queue_line(a.queue_position()) for a in agents.values()] == [
            None, "Grading: 1 answer ahead of yours", "Grading: 2 answers ahead of yours"]

        gates["ann"].set()
        assert agents["ann"].wait_for_grades(GRADES_WAIT_S)
        assert {u: a.queue_position() for u, a in agents.items()} == {"ann": None, "bob": 0, "cat": 1}

        gates["bob"].set()  # bob's grading fails: his place is freed, the failure is his question's grade error
        agents["bob"].wait_for_grades(GRADES_WAIT_S)
        assert "went away" in agents["bob"].session.questions[0].grade_error
        assert {u: a.queue_position() for u, a in agents.items()} == {"ann": None, "bob": None, "cat": 0}

        gates["cat"].set()
        assert agents["cat"].wait_for_grades(GRADES_WAIT_S)
        assert agents["cat"].queue_position() is None
        for user in ("ann", "cat"):
            stored = db.load(agents[user].session.id).questions[0]
            assert stored.grade is not None and stored.answers[0].startswith(f"MARK-{user}")
        for a in agents.values():
            a.close()
    assert queue.stats().unfinished == 0


def test_a_grade_lost_with_the_process_is_queued_again_on_resume(db, bank, session_settings, monkeypatch):
    """Answer, 'crash' before the grade is stored (the job is held and its process never writes), open the session
    again: the dead process's claim is respected while it is fresh, and once it is stale the grade arrives from the
    new process."""
    queue, gate = GradingQueue(), threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = _agent(db, bank, session_settings, pool, queue, GatedGrader(session_settings, gate), "dan")
        _answer(first, bank, "MARK-dan")
        assert first.grading.grader.started.wait(HELD_LIMIT_S)  # the grade is under way...
        first.grading.set_grade = lambda *a, **k: None  # ...and its process dies: nothing it does is stored
        stored = db.load(first.session.id)
        assert stored.questions[0].closed and stored.questions[0].grade is None
        assert stored.questions[0].grade_error is None

        again = Interviewer.resume(first.session.id, db=db, llm=toy_llm(),
                                   grader=GatedGrader(session_settings), questions=bank.questions, executor=pool,
                                   grading_queue=queue)
        try:
            assert again.grading.jobs == {}  # its claim is fresh: as far as anyone can tell, it is still grading
            _claims_go_stale(monkeypatch)
            assert again.requeue_lost_grades() == [0]
            assert again.wait_for_grades(GRADES_WAIT_S)
            grade = db.load(first.session.id).questions[0].grade
            assert grade is not None and grade.question_id == stored.questions[0].question_id
            assert again.requeue_lost_grades() == []  # graded: nothing is left to queue
        finally:
            gate.set()
            again.close()
            first.close()


def test_resume_stores_a_lost_skip_and_leaves_stored_errors_alone(db, bank, session_settings):
    agent = _agent(db, bank, session_settings, None, GradingQueue(), GatedGrader(session_settings), "eve")
    skipped = agent.current
    skipped.skipped = skipped.closed = True  # closed and saved, then the process ended before the skip's grade
    db.save_question(agent.session.id, skipped)
    agent.close()
    errored = db.load(agent.session.id).questions[0].model_copy(update={"index": 1, "skipped": False})
    db.save_question(agent.session.id, errored)
    db.save_grade(agent.session.id, 1, None, "RuntimeError: the model went away")

    again = Interviewer.resume(agent.session.id, db=db, llm=toy_llm(), grader=GatedGrader(session_settings),
                               questions=bank.questions)
    try:
        stored = db.load(agent.session.id).questions
        assert stored[0].grade is not None and stored[0].grade.flags == ["skipped"]
        assert stored[1].grade is None and stored[1].grade_error.startswith("RuntimeError")
        assert 1 not in again.grading.jobs
    finally:
        again.close()


def _lost_grade(db: SessionDB, bank, user: str) -> Session:
    """A session whose first question was answered and closed, and whose grade no process ever stored."""
    q = bank.questions[0]
    session = Session(config=SessionConfig(track="fresher", n_questions=2, user=user))
    db.create(session)
    db.save_question(session.id, QuestionRecord(index=0, question_id=q.id, tier=q.tier, concepts=q.concepts,
                                                question=q.question, answers=[" ".join(q.key_points)], closed=True))
    return session


def _sweep(db, bank, grader, pool, queue) -> list[GradingJobs]:
    return sweep_lost_grades(db, grader=grader, questions=bank.questions, executor=pool, grading_queue=queue)


def test_the_sweep_grades_a_lost_answer_without_its_session_being_opened(db, bank, session_settings):
    lost = _lost_grade(db, bank, "fay")
    grader = GatedGrader(session_settings)
    with ThreadPoolExecutor(max_workers=2) as pool:
        swept = _sweep(db, bank, grader, pool, GradingQueue())
        for agent in swept:
            assert agent.wait_for_grades(GRADES_WAIT_S)
            agent.close()
    stored = db.load(lost.id).questions[0]
    assert stored.grade is not None and stored.grade.question_id == bank.questions[0].id
    assert grader.calls == 1 and db.cards("fay")[stored.question_id].reviews == 1
    assert _sweep(db, bank, grader, None, GradingQueue()) == [] and grader.calls == 1  # nothing is left to sweep


def test_two_replicas_sweeping_at_once_grade_an_answer_once(db_target, bank, session_settings):
    """Two processes start together on one database: both find the lost answer, one claim wins, one grade is
    stored and the practice schedule counts one review."""
    replicas = [SessionDB(db_target), SessionDB(db_target)]
    lost = _lost_grade(replicas[0], bank, "gus")
    gate, ready = threading.Event(), threading.Barrier(len(replicas))
    graders = [GatedGrader(session_settings, gate) for _ in replicas]
    swept: list[list[GradingJobs]] = [[] for _ in replicas]
    with ThreadPoolExecutor(max_workers=2) as pool:
        def replica(i: int) -> None:
            ready.wait(HELD_LIMIT_S)  # both sweeps start together
            swept[i] = _sweep(replicas[i], bank, graders[i], pool, GradingQueue())
        threads = [threading.Thread(target=replica, args=(i,)) for i in range(len(replicas))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HELD_LIMIT_S)
        try:
            assert sum(len(a.jobs) for agents in swept for a in agents) == 1  # one claim won
        finally:
            gate.set()
        for agents in swept:
            for agent in agents:
                assert agent.wait_for_grades(GRADES_WAIT_S)
                agent.close()
    assert sum(g.calls for g in graders) == 1
    stored = replicas[1].load(lost.id).questions[0]
    assert stored.grade is not None and replicas[1].cards("gus")[stored.question_id].reviews == 1
    for opened in replicas:
        opened.close()


def test_the_sweep_leaves_a_fresh_claim_and_takes_over_a_stale_one(db, bank, session_settings, monkeypatch):
    lost = _lost_grade(db, bank, "hal")
    assert db.claim_grade(lost.id, 0, "a-replica-that-died", grading_jobs.now())
    grader = GatedGrader(session_settings)
    assert _sweep(db, bank, grader, None, GradingQueue()) == [] and grader.calls == 0
    _claims_go_stale(monkeypatch)
    with ThreadPoolExecutor(max_workers=2) as pool:
        [agent] = _sweep(db, bank, grader, pool, GradingQueue())
        assert agent.wait_for_grades(GRADES_WAIT_S)
        agent.close()
    assert grader.calls == 1 and db.load(lost.id).questions[0].grade is not None


def _claimant(pid: int, token: str = "0ld70ken") -> str:
    """A claim's owner as grading_jobs names it: this host, that pid, a process token, an instance."""
    return f"{socket.gethostname()}:{pid}:{token}:instance"


def test_a_claim_whose_process_is_gone_is_taken_over_at_once_and_a_live_ones_is_left(db, bank, session_settings):
    """One machine, the app restarted: the claim of the process that died is no obstacle (no stale wait); a claim
    held by a process that still runs is left to it; this pid under another token is an earlier process."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    running = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert grading_jobs.orphaned(_claimant(dead.pid)) and not grading_jobs.orphaned(_claimant(running.pid))
        assert grading_jobs.orphaned(_claimant(os.getpid()))  # this pid, another token: a process before this one
        assert not grading_jobs.orphaned(f"{grading_jobs.PROCESS}:a-sibling-agent")
        assert not grading_jobs.orphaned("another-host:1:token:instance") and not grading_jobs.orphaned("garbled")

        held = _lost_grade(db, bank, "jon")
        gone = _lost_grade(db, bank, "kim")
        assert db.claim_grade(held.id, 0, _claimant(running.pid), grading_jobs.now())
        assert db.claim_grade(gone.id, 0, _claimant(dead.pid), grading_jobs.now())
        grader = GatedGrader(session_settings)
        with ThreadPoolExecutor(max_workers=2) as pool:
            swept = _sweep(db, bank, grader, pool, GradingQueue())
            assert [a.session.id for a in swept] == [gone.id]
            assert swept[0].wait_for_grades(GRADES_WAIT_S)
            swept[0].close()
        assert db.load(gone.id).questions[0].grade is not None and db.load(held.id).questions[0].grade is None
        assert grader.calls == 1
    finally:
        running.communicate(b"")


def test_a_sweep_whose_model_does_not_load_says_so_once_and_leaves_the_grade_to_the_session(db, bank, session_settings,
                                                                                         monkeypatch, caplog):
    from interviewer.ui import state

    lost = _lost_grade(db, bank, "lea")

    def no_model(*args, **kwargs):
        raise RuntimeError("the model file is damaged")

    monkeypatch.setattr(state, "get_llm", no_model)
    with caplog.at_level("WARNING", logger="interviewer.ui.state"):
        assert state._sweep(db, session_settings, db.ungraded_answers()) == []
    [record] = [r for r in caplog.records if r.name == "interviewer.ui.state"]
    assert "the model file is damaged" in record.getMessage() and "opened again" in record.getMessage()
    assert db.load(lost.id).questions[0].grade is None and db.grade_claimant(lost.id, 0) is None  # nothing claimed


def test_the_app_sweeps_lost_grades_when_its_process_starts(app_env, bank):
    """The first page of a fresh process queues the lost grade; nobody opens the session."""
    from streamlit.testing.v1 import AppTest

    from apptest import APP, TIMEOUT
    from interviewer.settings import Settings
    from interviewer.ui import state

    lost = _lost_grade(app_env, bank, "ivy")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    assert "sid" not in at.query_params
    settings = Settings()
    sweep = state.sweep_lost_grades(settings.database, state.get_db(settings.database), settings)  # the cached one
    [agent] = sweep.result(timeout=GRADES_WAIT_S)
    assert agent.session.id == lost.id and state.live_agents()[lost.id] is agent
    assert agent.wait_for_grades(GRADES_WAIT_S)
    assert app_env.load(lost.id).questions[0].grade is not None


def test_the_interview_page_says_how_many_answers_are_ahead(app_env, bank, monkeypatch):
    """Another candidate's answer holds the line and this one's grade is under way: the page says so; once both are
    graded it says nothing."""
    import re

    from streamlit.testing.v1 import AppTest

    from apptest import APP, TIMEOUT
    from interviewer.grades.queue import GRADING_QUEUE

    db, gate = app_env, threading.Event()
    score = Grader.score

    def held_score(self, question, answer, **kwargs):  # the grade of an answer that ends its question is held
        if answer.endswith("I don't know.") and not gate.wait(HELD_LIMIT_S):
            raise TimeoutError("the test never released this grade")
        return score(self, question, answer, **kwargs)

    monkeypatch.setattr(Grader, "score", held_score)
    ahead_line = re.compile(r"^Grading: \d+ answers? ahead of yours$")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.radio(key="mode").set_value("interview")
    at.slider(key="n_questions").set_value(2)
    at.button(key="start").click().run()
    sid = at.query_params["sid"]
    first = bank.get(db.load(sid).current.question_id)
    at.chat_input(key="chat").set_value(f"I think {first.question.rstrip('?')} is a topic I have heard of.").run()
    assert db.load(sid).phase == "awaiting_followup"
    assert not [c for c in at.caption if ahead_line.match(c.value)]  # nothing of this session's waits

    other = GRADING_QUEUE.take()  # another candidate's answer, ahead in the line
    try:
        at.chat_input(key="chat").set_value("I don't know.").run()  # the question closes; its grade is held
        assert not at.exception, at.exception
        assert [c.value for c in at.caption if ahead_line.match(c.value)]
    finally:
        GRADING_QUEUE.done(other)
        gate.set()
    from interviewer.ui.state import live_agents

    assert live_agents()[sid].wait_for_grades(GRADES_WAIT_S)
    at.run()
    assert not [c for c in at.caption if ahead_line.match(c.value)]
    assert db.load(sid).questions[0].grade is not None


def test_practice_feedback_placeholder_counts_down_while_its_grade_waits(monkeypatch):
    from interviewer.ui import views

    class Slot:
        def __init__(self):
            self.drawn: list[str] = []

        def markdown(self, text):
            self.drawn.append(text)

    positions = iter([2, 1, 0])
    monkeypatch.setattr(views.time, "sleep", lambda s: None)
    slot = Slot()
    views.wait_in_line(slot, lambda: next(positions))
    assert slot.drawn == ["_Grading: 2 answers ahead of yours; the feedback will appear here..._",
                          "_Grading: 1 answer ahead of yours; the feedback will appear here..._",
                          views.GRADING_PLACEHOLDER]
