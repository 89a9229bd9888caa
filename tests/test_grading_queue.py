"""The grading line candidates share: positions in submission order, freed however a job ends, and grades that a
restart lost are queued again when the session is opened. Jobs are held by events, never timed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from interviewer.grading.grader import Grader
from interviewer.interview.agent import Interviewer
from interviewer.interview.grading_queue import GradingQueue, queue_line
from interviewer.interview.session import SessionConfig
from interviewer.models.fake import toy_llm

HELD_LIMIT_S = 60  # a held job gives up after this, so a broken test fails instead of hanging the suite
GRADES_WAIT_S = 60


class GatedGrader:
    """The fake model's grader, whose `score` waits for `gate` (and then raises, with `fail`)."""

    def __init__(self, settings, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.inner = Grader(toy_llm(), None, settings)
        self.gate, self.fail = gate, fail
        self.started = threading.Event()

    def score(self, *args, **kwargs):
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


def test_a_grade_lost_with_the_process_is_queued_again_on_resume(db, bank, session_settings):
    """Answer, 'crash' before the grade is stored (the job is held and its process never writes), open the session
    again: the grade arrives from the new process."""
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


def test_the_interview_page_says_how_many_answers_are_ahead(app_env, bank, monkeypatch):
    """Another candidate's answer holds the line and this one's grade is under way: the page says so; once both are
    graded it says nothing."""
    import re

    from streamlit.testing.v1 import AppTest

    from apptest import APP, TIMEOUT
    from interviewer.interview.grading_queue import GRADING_QUEUE

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
    from ui.state import live_agents

    assert live_agents()[sid].wait_for_grades(GRADES_WAIT_S)
    at.run()
    assert not [c for c in at.caption if ahead_line.match(c.value)]
    assert db.load(sid).questions[0].grade is not None


def test_practice_feedback_placeholder_counts_down_while_its_grade_waits(monkeypatch):
    from ui import views

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
