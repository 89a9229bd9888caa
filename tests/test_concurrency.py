"""Two interviews at once share the database, the grading pool and the model, and must not see each other."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from streamlit.testing.v1 import AppTest

from interviewer.interview.agent import Interviewer
from interviewer.store import SessionDB
from interviewer.grading.grader import Grader
from interviewer.session import SessionConfig
from interviewer.llm.fake import toy_llm

from apptest import APP, TIMEOUT


def run_interview(agent: Interviewer, bank, marker: str, errors: list) -> None:
    try:
        for u in agent.opening():
            u.resolve()
        while agent.phase != "finished":
            q = bank.get(agent.current.question_id)
            for u in agent.handle(f"{marker}: " + " ".join(q.key_points)):
                u.resolve()
    except Exception as e:  # surfaced in the main thread
        errors.append(e)


def test_two_sessions_in_parallel_stay_isolated(tmp_path, bank, session_settings):
    db = SessionDB(tmp_path / "s.sqlite3")
    llm = toy_llm(delay_s=0.02)  # one shared model, like the app's singleton
    pool = ThreadPoolExecutor(max_workers=4)
    agents = {user: Interviewer.start(SessionConfig(track=track, n_questions=3, mode=mode, user=user), db=db,
                                      llm=llm, grader=Grader(llm, None, session_settings), questions=bank.questions,
                                      executor=pool)
              for user, track, mode in (("ann", "fresher", "interview"), ("bob", "advanced", "practice"))}
    errors: list = []
    threads = [threading.Thread(target=run_interview, args=(a, bank, f"MARK-{u}", errors)) for u, a in agents.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for a in agents.values():
        assert a.wait_for_grades(60)
    pool.shutdown(wait=True)

    for user, agent in agents.items():
        other = "bob" if user == "ann" else "ann"
        stored = db.load(agent.session.id)
        assert stored.phase == "finished" and len(stored.questions) == 3
        answers = [t.text for t in stored.turns if t.role == "candidate"]
        assert answers and all(t.startswith(f"MARK-{user}") for t in answers)
        assert not any(f"MARK-{other}" in t.text for t in stored.turns)
        for rec in stored.questions:
            assert rec.grade is not None and rec.grade.question_id == rec.question_id
            assert all(a.startswith(f"MARK-{user}") for a in rec.answers)
        assert [t.seq for t in stored.turns] == list(range(len(stored.turns)))  # no gaps, no interleaving
        assert set(db.recent_question_ids(user)) == {r.question_id for r in stored.questions}
    assert {r.tier for r in db.load(agents["ann"].session.id).questions} == {"fresher"}
    assert {r.tier for r in db.load(agents["bob"].session.id).questions} == {"advanced"}


def test_two_browser_sessions_interleaved(app_env, bank):
    db = app_env
    tabs = {}
    for user in ("ann", "bob"):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        at.text_input(key="user").set_value(user)
        at.slider(key="n_questions").set_value(2)
        at.button(key="start").click().run()
        assert not at.exception
        tabs[user] = at
    sids = {u: at.query_params["sid"] for u, at in tabs.items()}
    assert sids["ann"] != sids["bob"]
    for round_ in range(2):
        for user, at in tabs.items():
            at.chat_input(key="chat").set_value(f"skip, {user} here" if round_ else "skip").run()
            assert not at.exception
    for user, at in tabs.items():
        other = "bob" if user == "ann" else "ann"
        shown = [x.value for m in at.chat_message for x in m.markdown]
        assert f"skip, {user} here" in shown and f"skip, {other} here" not in shown
        stored = db.load(sids[user])
        assert stored.user == user and stored.finished
    assert [s.id for s in db.list_sessions("ann")] == [sids["ann"]]


def test_same_session_in_two_agents_loses_no_turn(tmp_path, bank, session_settings):
    """Two processes (or a stale tab) driving one session: every candidate message is kept, none overwritten."""
    db = SessionDB(tmp_path / "s.sqlite3")
    llm = toy_llm()
    make = dict(db=db, llm=llm, grader=Grader(llm, None, session_settings), questions=bank.questions)
    first = Interviewer.start(SessionConfig(track="fresher", n_questions=4, user="ann"), **make)
    for u in first.opening():
        u.resolve()
    second = Interviewer.resume(first.session.id, **make)  # same state, same next seq
    for agent, text in ((first, "skip, from the first"), (second, "skip, from the second")):
        for u in agent.handle(text):
            u.resolve()
    for a in (first, second):
        a.wait_for_grades(30)
    stored = db.load(first.session.id)
    texts = [t.text for t in stored.turns if t.role == "candidate"]
    assert texts == ["skip, from the first", "skip, from the second"]
    assert [t.seq for t in stored.turns] == sorted({t.seq for t in stored.turns})  # unique, ordered


def test_same_session_in_two_tabs_shares_one_agent(app_env, bank):
    db = app_env
    first = AppTest.from_file(APP, default_timeout=TIMEOUT)
    first.run()
    first.slider(key="n_questions").set_value(3)
    first.button(key="start").click().run()
    sid = first.query_params["sid"]
    second = AppTest.from_file(APP, default_timeout=TIMEOUT)
    second.query_params["sid"] = sid
    second.run()
    assert not first.exception and not second.exception
    first.chat_input(key="chat").set_value("skip, typed in tab one").run()
    second.chat_input(key="chat").set_value("skip, typed in tab two").run()
    assert not second.exception
    stored = db.load(sid)
    assert [t.text for t in stored.turns if t.role == "candidate"] == ["skip, typed in tab one",
                                                                        "skip, typed in tab two"]
    shown = [x.value for m in second.chat_message for x in m.markdown]
    assert "skip, typed in tab one" in shown  # the second tab shows the shared transcript
    assert len([r for r in stored.questions]) == 3  # two skips moved the one interview on twice, not two copies
