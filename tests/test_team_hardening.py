"""A team instance read as a curious candidate would: who chooses the grading model, what a tab keeps after a
sign-out, how sign-ins are limited, what a removed account can still do, what Markdown in an answer makes a reader's
browser fetch, where the app listens, and what a database URL shows. On the scripted model."""

from __future__ import annotations

import subprocess
import sys
import threading
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from checkout import PROJECT_ROOT
from interviewer.settings import Settings
from interviewer.grading.grade import Grade
from interviewer.team import accounts
from interviewer.store import SessionDB
from interviewer.session import QuestionRecord, Session, SessionConfig

from test_team import PASSWORD, _signed_in, team_app  # noqa: F401  (team_app is a fixture)

HELD_LIMIT_S = 60.0  # bounds a failure of the gated tests: the gate is opened by the test, never by time


def _state(at: AppTest) -> dict:
    """Every value this browser session holds (widgets and the app's own keys)."""
    return dict(at.session_state._state.filtered_state)


# -- the model is the server's -----------------------------------------------------------------------------------------
def test_a_candidate_gets_no_model_form_an_instructor_does(team_app):
    ann = _signed_in("ann")
    assert not [w for w in ann.radio if w.key == "backend"]
    assert not [w for w in ann.text_input if (w.key or "").startswith(("compatible_", "openai_"))]
    teacher = _signed_in("teacher")
    assert [w for w in teacher.radio if w.key == "backend"]


def test_the_model_cache_is_bounded(monkeypatch, tmp_path):
    """Each typed base URL would otherwise keep a model (a client, probed capabilities) for the life of the process."""
    import streamlit as st

    from interviewer.ui import state

    built: list[str] = []
    monkeypatch.setattr(state, "make_llm", lambda settings, backend, on_progress=None: built.append(settings.base_url))
    st.cache_resource.clear()
    settings = Settings(data_dir=tmp_path, backend="fake")
    urls = [f"http://typed-{i}:1/v1" for i in range(state.LLM_CACHE_ENTRIES + 1)]
    try:
        for url in urls:
            state.get_llm("compatible", (("base_url", url),), str(tmp_path), settings)
        state.get_llm("compatible", (("base_url", urls[-1]),), str(tmp_path), settings)
        assert built == urls  # the latest is still held...
        state.get_llm("compatible", (("base_url", urls[0]),), str(tmp_path), settings)
        assert built == urls + [urls[0]]  # ...the first was let go, and is made again
    finally:
        st.cache_resource.clear()


def test_the_cohort_says_which_backend_and_model_made_the_grades(team_app):
    for user, backend, model in (("ann", "local", "qwen-embedded"), ("bob", "compatible", "served-model")):
        s = Session(config=SessionConfig(user=user))
        team_app.create(s)
        team_app.save_question(s.id, QuestionRecord(index=0, question_id="q-0", tier="fresher", concepts=["cnns"],
                                                    question="Q?"))
        team_app.save_grade(s.id, 0, Grade(question_id="q-0", score=3.0, backend=backend, model=model))
    at = _signed_in("teacher")
    at.radio(key="view").set_value("Cohort").run()
    assert not at.exception, at.exception
    [graded_by] = [d.value for d in at.dataframe if "backend" in d.value.columns]
    assert sorted(map(tuple, graded_by[["candidate", "backend", "model", "answers"]].values.tolist())) == [
        ("ann", "local", "qwen-embedded", 1), ("bob", "compatible", "served-model", 1)]


# -- signing out -------------------------------------------------------------------------------------------------------
def test_after_a_sign_out_the_next_person_in_the_tab_sees_nothing_of_the_last(team_app):
    canary = "TEACHER-4711"
    at = _signed_in("teacher")
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    teachers_session = at.query_params["sid"]
    at.radio(key="view").set_value("History").run()
    at.text_area(key="job_text").set_value(f"{canary} training large models with PyTorch on many GPUs")
    at.text_input(key="topic").set_value(f"{canary} topic")
    at.session_state["spoken_draft-0"] = f"{canary} spoken draft"
    at.checkbox(key="confirm_delete").check()
    at.radio(key="backend").set_value("compatible").run()
    at.text_input(key="compatible_api_key").set_value(f"sk-{canary}").run()
    assert not at.exception, at.exception
    held = _state(at)
    assert held["compatible_api_key"] == f"sk-{canary}" and held["confirm_delete"] and held["agent"]

    at.button(key="sign_out").click().run()
    assert not at.exception, at.exception
    assert at.header[0].value == "Sign in" and "sid" not in at.query_params
    at.text_input(key="sign_in_name").set_value("ann")
    at.text_input(key="sign_in_password").set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "ann" in " ".join(c.value for c in at.sidebar.caption)
    now = _state(at)
    assert canary not in repr(now), now
    assert not now.get("job_text") and not now.get("confirm_delete") and "agent" not in now
    shown = " ".join(str(e.value) for kind in ("markdown", "caption", "text_area", "text_input") for e in at.get(kind))
    assert canary not in shown and teachers_session not in shown


# -- sign-in limits ----------------------------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _CountingHasher:
    """argon2's hasher, counting the password checks (each costs 64 MiB in the real one)."""

    def __init__(self, real) -> None:
        self.real, self.verified = real, 0

    def verify(self, hashed, password):
        self.verified += 1
        return self.real.verify(hashed, password)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def counting(monkeypatch):
    hasher = _CountingHasher(accounts._hasher())
    monkeypatch.setattr(accounts, "_hasher", lambda: hasher)
    return hasher


def test_failed_sign_ins_back_off_per_name_and_per_client_without_checking_a_password(db, counting):
    from interviewer.team.throttle import FREE_FAILURES, SignInThrottle

    accounts.add(db, "ann", PASSWORD)
    clock = _Clock()
    throttle = SignInThrottle(clock=clock)
    for _ in range(FREE_FAILURES):
        assert accounts.sign_in(db, "ann", "wrong guess!", client="10.0.0.9", throttle=throttle) is None
    checked = counting.verified
    with pytest.raises(accounts.AccountError, match="Too many failed sign-ins: try again in 2 s"):
        accounts.sign_in(db, "ann", PASSWORD, client="10.0.0.7", throttle=throttle)  # the name waits, any client
    with pytest.raises(accounts.AccountError, match="Too many failed sign-ins"):
        accounts.sign_in(db, "bob", "another guess", client="10.0.0.9", throttle=throttle)  # so does the client
    assert counting.verified == checked  # refused before any password check
    clock.now += 2.5
    assert accounts.sign_in(db, "ann", "wrong again!", client="10.0.0.9", throttle=throttle) is None
    with pytest.raises(accounts.AccountError, match="try again in 4 s"):  # each failure doubles the wait
        accounts.sign_in(db, "ann", PASSWORD, client="10.0.0.7", throttle=throttle)
    clock.now += 4.5
    assert accounts.sign_in(db, "ann", PASSWORD, client="10.0.0.7", throttle=throttle) == accounts.Account(
        name="ann", role="candidate")
    assert accounts.sign_in(db, "ann", "wrong guess!", client="10.0.0.7", throttle=throttle) is None  # counts anew


def test_random_names_do_not_grow_the_failure_counts_without_bound(db, counting):
    from interviewer.team.throttle import SignInThrottle

    throttle = SignInThrottle(tracked=50)
    for i in range(200):
        assert accounts.sign_in(db, f"nobody-{i}", "guess", throttle=throttle) is None
    assert throttle.tracked_keys() == 50


def test_only_a_few_password_checks_run_at_once(db, monkeypatch):
    """Ten sign-ins at once: two argon2 checks run, the others wait their turn; none is lost."""
    from interviewer.team.throttle import SignInThrottle

    accounts.add(db, "ann", PASSWORD)
    real = accounts._hasher()
    gate, both_in, lock = threading.Event(), threading.Event(), threading.Lock()
    inside = {"now": 0, "peak": 0}

    class Gated:
        def verify(self, hashed, password):
            with lock:
                inside["now"] += 1
                inside["peak"] = max(inside["peak"], inside["now"])
                if inside["now"] == 2:
                    both_in.set()
            try:
                assert gate.wait(HELD_LIMIT_S), "the test never opened the gate"
                return real.verify(hashed, password)
            finally:
                with lock:
                    inside["now"] -= 1

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(accounts, "_hasher", lambda: Gated())
    throttle = SignInThrottle(concurrent=2, wait_s=HELD_LIMIT_S)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(accounts.sign_in(db, "ann", PASSWORD,
                                                                               throttle=throttle)))
               for _ in range(10)]
    for t in threads:
        t.start()
    assert both_in.wait(HELD_LIMIT_S)
    throttle.wait_s = 0  # one more, unwilling to wait: both slots are held
    with pytest.raises(accounts.AccountError, match="Many people are signing in"):
        accounts.sign_in(db, "ann", PASSWORD, throttle=throttle)
    gate.set()
    for t in threads:
        t.join()
    assert inside["peak"] == 2 and len(results) == 10 and all(r is not None for r in results)


def test_a_removed_or_demoted_account_loses_its_access_at_the_next_page(team_app):
    ann = _signed_in("ann")
    teacher = _signed_in("teacher")
    assert "Cohort" in teacher.radio(key="view").options
    accounts.remove(team_app, "ann")
    accounts.add(team_app, "teacher", PASSWORD, "candidate", replace=True)
    ann.run()
    assert ann.header[0].value == "Sign in" and any("no longer exists" in e.value for e in ann.error)
    assert "account" not in _state(ann)
    teacher.run()
    assert not teacher.exception, teacher.exception
    assert "Cohort" not in teacher.radio(key="view").options
    assert "(candidate)" in " ".join(c.value for c in teacher.sidebar.caption)


# -- candidate text is text --------------------------------------------------------------------------------------------
IMAGE = "![](http://attacker.example/p.png)"


def test_an_image_in_an_answer_is_shown_as_text_in_the_app_and_the_markdown_export(app_env, bank):
    from interviewer.report import build_report, to_markdown

    from apptest import new_app, say, start

    escaped = "\\!\\[\\](http://attacker.example/p.png)"
    at = new_app()
    start(at, n=1)
    say(at, f"Dropout zeroes activations at random. {IMAGE}")
    drawn = [x.value for m in at.chat_message for x in m.markdown]
    assert any(escaped in text for text in drawn) and not any("![" in text for text in drawn)

    q = bank.questions[0]
    stored = Session(config=SessionConfig(user="local"))
    app_env.create(stored)
    app_env.save_question(stored.id, QuestionRecord(index=0, question_id=q.id, tier=q.tier, concepts=q.concepts,
                                                    question=q.question, answers=[f"My answer. {IMAGE}"],
                                                    closed=True))
    exported = to_markdown(build_report(app_env.load(stored.id), bank.questions))
    assert escaped in exported and "![" not in exported
    at.radio(key="view").set_value("History").run()
    at.selectbox(key="history_pick").set_value(stored.id)
    at.button(key="history_open").click().run()
    assert not at.exception, at.exception
    report = [m.value for m in at.markdown]
    assert any(escaped in text for text in report) and not any("![" in text for text in report)
    from interviewer.ui.views import as_drawn

    assert as_drawn("candidate", "a_b * [x](y) <b>") == "a\\_b \\* \\[x\\](y) \\<b\\>"
    assert as_drawn("interviewer", f"**Question 1** You said {IMAGE}").startswith("**Question 1**")  # ours stays
    assert "![" not in as_drawn("interviewer", f"You said {IMAGE}")


# -- where the app listens ---------------------------------------------------------------------------------------------
def test_the_shipped_streamlit_config_binds_this_machine_and_limits_uploads():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1" and config["server"]["maxUploadSize"] <= 50
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=PROJECT_ROOT, text=True,
                           capture_output=True, timeout=120).stdout
    assert 'address = "127.0.0.1"' in shown and "maxUploadSize = 50" in shown  # `streamlit run` reads it
    from interviewer.cli.interview import app_command

    cmd = app_command("localhost", 8501)
    options = dict(zip(cmd[5::2], cmd[6::2]))
    assert options["--server.maxUploadSize"] == "50" and options["--server.address"] == "localhost"


# -- database URLs -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "postgresql://someone@db.internal/team?password=hunter2-secret",
    "postgresql://someone:hunter2-secret@db.internal:5432/team?sslmode=require",
    "postgresql://someone@db.internal/team?sslmode=require&PASSWORD=hunter2-secret",
])
def test_a_database_url_is_shown_without_its_password_wherever_it_sits(url):
    from interviewer.store.database import redact

    shown = redact(url)
    assert "hunter2" not in shown and "someone" in shown and "db.internal" in shown


def test_a_query_string_password_reaches_the_server_not_what_doctor_prints(postgres_url):
    """libpq reads a password given as ?password= too: the connection works, and the description `doctor` prints
    (SessionDB.describe) says ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(postgres_url)
    netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    query = "&".join(p for p in (parts.query, f"password={parts.password}") if p)
    db = SessionDB(urlunsplit(parts._replace(netloc=netloc, query=query)))
    try:
        assert db.schema()  # connected with it
        assert f"password={parts.password}" not in db.describe() and "password=***" in db.describe()
    finally:
        db.close()
