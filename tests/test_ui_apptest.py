"""The Streamlit app end to end in-process (AppTest), on the scripted toy model: no real LLM, no browser."""

from __future__ import annotations

import streamlit as st
from streamlit.testing.v1 import AppTest

from apptest import APP, TIMEOUT, current_question, messages, new_app, say, start


def weak_answer(q) -> str:
    """On topic (it restates the question), but makes none of the key points: earns a follow-up."""
    return f"I think that {q.question.rstrip('?')} is an interesting topic that I have heard about."


def strong_answer(q) -> str:
    return " ".join(q.key_points)


def test_full_interview_flow_with_hint_followup_skip_and_report(app_env, bank):
    db = app_env
    at = new_app()
    assert "Deep-learning mock interview" in at.header[0].value
    sid = start(at, n=3)
    got = messages(at)
    assert [r for r, _ in got] == ["assistant", "assistant"]
    assert "interviewer" in got[0][1].lower() and "Question 1 of 3" in got[1][1]

    q1 = current_question(db, sid, bank)
    say(at, "hint")
    assert messages(at)[-1][1].startswith("Hint:")
    say(at, weak_answer(q1))
    assert db.load(sid).phase == "awaiting_followup"  # a weak answer earns a follow-up...
    followup = messages(at)[-1][1]
    assert "?" in followup and q1.key_points[0] not in followup  # ...that does not give the point away
    say(at, "skip")  # leave the follow-up: the first question is graded on what was said
    assert "Question 2 of 3" in messages(at)[-1][1]

    q2 = current_question(db, sid, bank)
    say(at, "Could you repeat the question?")
    assert q2.question in messages(at)[-1][1]
    say(at, strong_answer(q2))
    assert "Question 3 of 3" in messages(at)[-1][1]  # a strong answer: no follow-up
    say(at, "skip")

    stored = db.load(sid)
    assert stored.phase == "finished"
    assert [q.skipped for q in stored.questions] == [False, False, True]
    assert stored.questions[0].hints and stored.questions[0].grade.hint_cap is not None
    assert stored.questions[1].grade.score > stored.questions[0].grade.score
    # the report: overall metric, per-question expanders, downloads
    assert any(m.label == "Overall" for m in at.metric)
    assert len(at.expander) >= 3 and "Q1" in at.expander[0].label
    at.run()  # the next run: the chat input is closed, the report stays
    assert at.chat_input(key="chat").disabled and any(m.label == "Overall" for m in at.metric)
    downloads = at.get("download_button")
    assert len(downloads) == 2
    assert [m.value for m in at.metric if m.label == "Skipped"] == ["1"]


def test_practice_mode_streams_feedback_after_each_answer(app_env, bank):
    db = app_env
    at = new_app()
    sid = start(at, n=2, mode="practice")
    say(at, strong_answer(current_question(db, sid, bank)))
    texts = [t for _, t in messages(at)]
    feedback = next(t for t in texts if t.startswith("**Feedback on question 1. Score:"))
    assert "Model answer" in feedback and "Strengths" in feedback
    assert "Question 2 of 2" in texts[-1]
    assert db.load(sid).questions[0].grade.feedback  # saved with the grade


def test_resume_after_refresh_and_restart(app_env, bank):
    db = app_env
    at = new_app()
    sid = start(at, n=2)
    q1 = current_question(db, sid, bank)
    say(at, weak_answer(q1))
    before = messages(at)

    st.cache_resource.clear()  # an app restart: no singletons, no session state, only the URL and SQLite
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.query_params["sid"] = sid
    again.run()
    assert not again.exception
    assert messages(again) == before  # the same transcript, in order
    say(again, "skip")
    assert "Question 2 of 2" in messages(again)[-1][1]
    assert len(db.load(sid).questions) == 2


def test_unknown_session_in_url_starts_clean(app_env):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["sid"] = "doesnotexist"
    at.run()
    assert not at.exception
    assert any("no longer exists" in w.value for w in at.warning)
    assert "sid" not in at.query_params


def test_model_errors_keep_the_session(app_env, bank, monkeypatch):
    db = app_env
    monkeypatch.setenv("INTERVIEWER_CHROMA_HOST", "127.0.0.1")  # the grounding store is unreachable too
    monkeypatch.setenv("INTERVIEWER_CHROMA_PORT", "9")
    at = new_app()
    sid = start(at, n=2)
    at.radio(key="backend").set_value("openai").run()  # no API key anywhere: loading fails
    assert not at.exception
    assert any("not available" in e.value for e in at.error)
    assert len(messages(at)) == 2  # the transcript is still there

    at.radio(key="backend").set_value("compatible").run()
    at.text_input(key="compatible_base_url").set_value("http://127.0.0.1:9/v1").run()  # nothing listens there
    say(at, weak_answer(current_question(db, sid, bank)))
    assert not at.error or all("went wrong" not in e.value for e in at.error)
    stored = db.load(sid)
    assert stored.questions[0].answers  # the answer was kept and the interview went on
    assert stored.phase in ("awaiting_followup", "awaiting_answer")


def test_history_page_lists_sessions_and_deletes_my_data(app_env, bank):
    db = app_env
    at = new_app()
    sid = start(at, n=1)
    say(at, strong_answer(current_question(db, sid, bank)))
    assert db.load(sid).finished

    at.radio(key="view").set_value("History").run()
    assert not at.exception
    assert at.header[0].value == "History"
    assert sid in at.dataframe[0].value["session"].tolist()
    at.button(key="history_open").click().run()
    assert any(m.label == "Overall" for m in at.metric)  # the past session's report

    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete_data").click().run()
    assert not at.exception
    assert db.list_sessions("local") == [] and db.load(sid) is None
    assert any("Deleted 1 session" in s.value for s in at.success)


def test_todays_practice_starts_from_the_plan_and_the_history_shows_progress(app_env, bank):
    from interviewer.planning.practice import todays_plan

    db = app_env
    expected = todays_plan(db, "local", bank.questions, n=2).question_ids
    at = new_app()
    at.slider(key="n_questions").set_value(2)
    at.button(key="start_plan").click().run()
    assert not at.exception, at.exception
    sid = at.query_params["sid"]
    assert "Why this question" in messages(at)[-1][1]
    for _ in range(6):
        session = db.load(sid)
        if session.finished:
            break
        say(at, strong_answer(current_question(db, sid, bank)) if session.phase == "awaiting_answer" else "skip")
    session = db.load(sid)
    assert session.finished and [r.question_id for r in session.questions] == expected
    assert set(db.cards("local")) == set(expected)  # graded answers went into the schedule
    at.radio(key="view").set_value("History").run()
    assert not at.exception, at.exception
    assert any("Progress per concept" in m.value for m in at.markdown)
    assert any("Due for review today: 0" in m.value for m in at.markdown)


def test_a_topic_search_starts_an_interview_on_its_questions(app_env, bank, store, tmp_path):
    import shutil

    shutil.copytree(store.settings.chroma_dir, tmp_path / "chroma")
    db = app_env
    at = new_app()
    at.text_input(key="topic").set_value("practise questions about KV caches")
    sid = start(at, n=2)
    planned = db.load(sid).config.planned
    assert len(planned) == 2 and any("cache" in bank.get(q).question.lower() for q in planned)
    assert "it matches your topic" in messages(at)[-1][1]
