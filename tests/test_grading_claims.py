"""Grades that must not be lost, made twice, or written for someone who is gone: a practice grade stored though its
feedback is never drawn, claims kept alive by a heartbeat and swept from a replica that died on another machine, the
report's last grades claimed like any other and a failure retried once, and nothing of a deleted person written after
the delete (on SQLite and PostgreSQL). Jobs are held by events, never timed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from interviewer.settings import Settings
from interviewer.grades import jobs as grading_jobs
from interviewer.interview.agent import Interviewer
from interviewer.store import SessionDB
from interviewer.store.forget import forget_user
from interviewer.grades.queue import GradingQueue
from interviewer.session import SessionConfig
from interviewer.llm.fake import toy_llm

from test_grading_queue import GRADES_WAIT_S, GatedGrader, _lost_grade

ANOTHER_HOST = "replica-7f3c:1:0ld70ken:instance"  # a replica on another machine: its pid means nothing here


@pytest.fixture
def db(db_target):
    opened = SessionDB(db_target)
    yield opened
    opened.close()


def _agent(db, bank, grader, pool, user: str, mode: str = "interview") -> Interviewer:
    agent = Interviewer.start(SessionConfig(track="fresher", n_questions=2, user=user, mode=mode), db=db,
                              llm=toy_llm(), grader=grader, questions=bank.questions, executor=pool,
                              grading_queue=GradingQueue())
    for u in agent.opening():
        u.resolve()
    return agent


def _answer_and_close(agent: Interviewer) -> list:
    """A full answer to the open question, then "skip" past any follow-up: the question closes. The utterances are
    returned unread, as a page that was closed or switched away would leave them."""
    q = agent.question(agent.current)
    replies = agent.handle(" ".join(q.key_points))
    if agent.phase == "awaiting_followup":
        replies += agent.handle("skip")
    return replies


def _age_claim(db: SessionDB, session_id: str, index: int, seconds: float) -> None:
    """Date a claim `seconds` in the past, as if its holder had stopped renewing it then."""
    from interviewer.store.grades import _stamp

    with db.database.connect() as con:
        con.execute("UPDATE questions SET claimed_at=? WHERE session_id=? AND idx=?",
                    (_stamp(grading_jobs.now() - timedelta(seconds=seconds)), session_id, index))


# -- a practice grade --------------------------------------------------------------------------------------------------
def test_a_practice_grade_is_stored_though_its_feedback_is_never_drawn(db, bank, session_settings):
    grader = GatedGrader(session_settings)
    with ThreadPoolExecutor(max_workers=2) as pool:
        agent = _agent(db, bank, grader, pool, "ina", mode="practice")
        replies = _answer_and_close(agent)
        assert [u for u in replies if u.kind == "feedback" and u.streaming]  # the feedback, never read
        assert agent.wait_for_grades(GRADES_WAIT_S)
        stored = db.load(agent.session.id).questions[0]
        assert stored.grade is not None and db.cards("ina")[stored.question_id].reviews == 1
        for u in replies:  # the page drawn after all: the same grade, not a second review
            u.resolve()
        assert db.cards("ina")[stored.question_id].reviews == 1
        agent.close()


# -- claims: heartbeat and sweep ---------------------------------------------------------------------------------------
def test_a_live_graders_claim_is_renewed_while_its_grade_waits_and_let_go_once_stored(db, bank, session_settings):
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        agent = _agent(db, bank, GatedGrader(session_settings, gate), pool, "jo")
        try:
            _answer_and_close(agent)
            sid = agent.session.id
            owner, _ = db.grade_claim(sid, 0)
            assert owner == agent.grading.owner and (sid, 0, owner) in grading_jobs.HEARTBEAT.held(db)
            _age_claim(db, sid, 0, grading_jobs.GRADE_CLAIM_STALE_S + 1)  # beats missed...
            grading_jobs.HEARTBEAT.beat()  # ...and one made: the claim is fresh again
            stale_before = grading_jobs.now() - timedelta(seconds=grading_jobs.GRADE_CLAIM_STALE_S)
            assert not db.claim_grade(sid, 0, ANOTHER_HOST, stale_before)  # nobody takes a live claim
        finally:
            gate.set()
        assert agent.wait_for_grades(GRADES_WAIT_S)
        assert not [c for c in grading_jobs.HEARTBEAT.held(db) if c[0] == sid]  # stored: no longer renewed
        agent.close()


def test_the_periodic_sweep_grades_what_a_replica_on_another_machine_left(db, bank, tmp_path):
    """A replica died mid-grade on another host (a replacement container has a new host name): its claim is left
    while fresh, and graded by the next sweep once no heartbeat has renewed it for the stale time."""
    import streamlit as st

    from interviewer.ui import state

    settings = Settings(data_dir=tmp_path, backend="fake")
    lost = _lost_grade(db, bank, "kai")
    assert db.claim_grade(lost.id, 0, ANOTHER_HOST, grading_jobs.now())
    st.cache_resource.clear()
    try:
        assert state.sweep_once(db, settings) == [] and db.grade_claimant(lost.id, 0) == ANOTHER_HOST
        _age_claim(db, lost.id, 0, grading_jobs.GRADE_CLAIM_STALE_S + 1)
        [agent] = state.sweep_once(db, settings)
        assert agent.wait_for_grades(GRADES_WAIT_S)
    finally:
        st.cache_resource.clear()
    stored = db.load(lost.id).questions[0]
    assert db.grade_claimant(lost.id, 0) != ANOTHER_HOST and (stored.grade is not None or stored.grade_error)
    assert grading_jobs.GRADE_CLAIM_STALE_S < 600  # a replacement no longer waits ten minutes


# -- the report's last grades ------------------------------------------------------------------------------------------
def test_the_report_retries_a_failed_grade_once_on_the_pool_not_on_every_rerun(db, bank, session_settings):
    failing = GatedGrader(session_settings, fail=True)
    threads: list[str] = []
    real_score = failing.score

    def score(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real_score(*args, **kwargs)

    failing.score = score
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="grading") as pool:
        agent = _agent(db, bank, failing, pool, "lou")
        _answer_and_close(agent)
        agent.finish()
        assert agent.wait_for_grades(GRADES_WAIT_S)
        assert db.load(agent.session.id).questions[0].grade_error  # the grade failed
        calls = failing.calls
        agent.ensure_grades()  # the report's page: one more try...
        assert failing.calls == calls + 1 and all(name.startswith("grading") for name in threads)
        for _ in range(3):  # ...and not one per rerun of the page
            agent.ensure_grades()
        assert failing.calls == calls + 1
        agent.close()


def test_the_report_leaves_an_answer_another_grader_holds(db, bank, session_settings):
    lost = _lost_grade(db, bank, "max")
    assert db.claim_grade(lost.id, 0, ANOTHER_HOST, grading_jobs.now())
    grader = GatedGrader(session_settings)
    agent = Interviewer(db.load(lost.id), db=db, llm=toy_llm(), grader=grader, questions=bank.questions)
    try:
        agent.ensure_grades()
        assert grader.calls == 0 and db.grade_claimant(lost.id, 0) == ANOTHER_HOST
    finally:
        agent.close()


# -- deleting a person's data ------------------------------------------------------------------------------------------
def test_a_grade_finishing_after_the_delete_writes_nothing_of_the_person(db, bank, session_settings, tmp_path):
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        agent = _agent(db, bank, GatedGrader(session_settings, gate), pool, "nia")
        _answer_and_close(agent)
        assert agent.grading.running()  # the grade is being made...
        assert forget_user(db, tmp_path, "nia") == 1  # ...when the person deletes their data
        gate.set()
        agent.wait_for_grades(GRADES_WAIT_S)
        for job in agent.grading.jobs.values():
            job.exception(GRADES_WAIT_S)  # finished, however it ended
        agent.close()
    assert db.cards("nia") == {} and db.session_ids("nia") == [] and db.recent_question_ids("nia") == []


def test_a_recording_is_not_kept_for_a_session_whose_data_was_deleted(db, bank, session_settings, tmp_path):
    """A tab left open after "Delete my data" keeps recording: nothing is written for the deleted session."""
    from interviewer.voice import recordings
    from interviewer.ui import voice

    settings = Settings(data_dir=tmp_path, backend="fake")
    agent = _agent(db, bank, GatedGrader(session_settings), None, "ola")
    voice._keep(settings, agent, b"RIFF-before", "a" * 64, ".wav")
    assert len(list(recordings.folder(tmp_path, agent.session.id).iterdir())) == 1
    forget_user(db, tmp_path, "ola")
    voice._keep(settings, agent, b"RIFF-after", "b" * 64, ".wav")
    assert not recordings.folder(tmp_path, agent.session.id).exists()
    agent.close()


def test_deleted_answers_leave_no_bytes_in_the_sqlite_files(tmp_path, bank):
    from interviewer.session import QuestionRecord, Session

    import sqlite3

    path = tmp_path / "s.sqlite3"
    db = SessionDB(path)
    with db.database.connect() as con:
        assert con.execute("PRAGMA secure_delete").fetchone()[0] == 1  # deleted rows are overwritten, in any build
    other_reader = sqlite3.connect(path)  # another thread's connection, as in the app: the log is not removed on close
    other_reader.execute("SELECT COUNT(*) FROM sessions").fetchall()
    canary = "canary-answer-" + "x7" * 40
    for user in ("pat", "quinn"):
        s = Session(config=SessionConfig(user=user))
        db.create(s)
        q = bank.questions[0]
        db.save_question(s.id, QuestionRecord(index=0, question_id=q.id, tier=q.tier, concepts=q.concepts,
                                              question=q.question, answers=[f"{canary} {user}"], closed=True))
    try:
        forget_user(db, tmp_path, "pat")
        files = [p for p in tmp_path.iterdir() if p.name.startswith("s.sqlite3")]
        assert len(files) > 1 and not any(f"{canary} pat".encode() in p.read_bytes() for p in files)
        assert db.load(db.session_ids("quinn")[0]).questions[0].answers == [f"{canary} quinn"]  # the others' stay
    finally:
        other_reader.close()
