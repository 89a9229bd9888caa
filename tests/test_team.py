"""Team mode: accounts (on SQLite and PostgreSQL), who may open what, the cohort view, the `users` CLI, and the
app's sign-in, on the scripted model."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from interviewer.cli.main import app as cli
from interviewer.grading.grade import Grade
from interviewer.team import accounts
from interviewer.team.cohort import cohort, to_csv
from interviewer.store import SessionDB
from interviewer.store.forget import forget_user
from interviewer.session import QuestionRecord, Session, SessionConfig
from interviewer.voice import recordings

from apptest import APP, TIMEOUT

PASSWORD = "correct horse battery"


@pytest.fixture
def team_db(db_target):
    opened = SessionDB(db_target)
    yield opened
    opened.close()


def _graded_session(db: SessionDB, user: str, scores: list[float], concept: str = "cnns") -> Session:
    s = Session(config=SessionConfig(user=user))
    db.create(s)
    for i, score in enumerate(scores):
        db.save_question(s.id, QuestionRecord(index=i, question_id=f"q-{i}", tier="fresher", concepts=[concept],
                                              question="Q?"))
        db.save_grade(s.id, i, Grade(question_id=f"q-{i}", score=score))
    return s


def test_passwords_are_stored_only_as_argon2_hashes_and_verified(team_db):
    accounts.add(team_db, "ann", PASSWORD)
    stored = team_db.account("ann")
    assert PASSWORD not in stored.password_hash and stored.password_hash.startswith("$argon2id$")
    assert accounts.sign_in(team_db, "ann", PASSWORD) == accounts.Account(name="ann", role="candidate")
    assert accounts.sign_in(team_db, "ann", PASSWORD + "x") is None
    assert accounts.sign_in(team_db, "nobody", PASSWORD) is None


def test_account_rules(team_db):
    accounts.add(team_db, "ann", PASSWORD)
    with pytest.raises(accounts.AccountError, match="exists"):
        accounts.add(team_db, "ann", PASSWORD)
    with pytest.raises(accounts.AccountError, match="at least"):
        accounts.add(team_db, "bob", "short")
    with pytest.raises(accounts.AccountError, match="role"):
        accounts.add(team_db, "bob", PASSWORD, "admin")
    with pytest.raises(accounts.AccountError, match="name"):
        accounts.add(team_db, "bob smith", PASSWORD)
    accounts.add(team_db, "ann", "a new password", "instructor", replace=True)
    assert accounts.sign_in(team_db, "ann", PASSWORD) is None
    assert accounts.sign_in(team_db, "ann", "a new password").instructor


def test_removing_an_account_keeps_or_deletes_its_sessions_and_recordings(team_db, tmp_path):
    for name in ("ann", "bob"):
        accounts.add(team_db, name, PASSWORD)
        _graded_session(team_db, name, [3.0])
    kept = {name: recordings.keep(tmp_path, team_db.session_ids(name)[0], "q1.wav", b"RIFF") for name in ("ann", "bob")}
    accounts.remove(team_db, "ann")
    assert team_db.list_sessions("ann") and kept["ann"].exists()
    accounts.remove(team_db, "bob")
    assert forget_user(team_db, tmp_path, "bob") == 1 and not team_db.list_sessions("bob")
    assert not kept["bob"].exists() and kept["ann"].exists()
    assert [a.name for a in accounts.listing(team_db)] == []
    with pytest.raises(accounts.AccountError, match="no account"):
        accounts.remove(team_db, "ann")


def test_candidates_open_only_their_own_sessions_instructors_any():
    ann, teacher = accounts.Account(name="ann", role="candidate"), accounts.Account(name="t", role="instructor")
    assert accounts.may_open(ann, "ann", team_mode=True) and not accounts.may_open(ann, "bob", team_mode=True)
    assert accounts.may_open(teacher, "bob", team_mode=True)
    assert not accounts.may_open(None, "ann", team_mode=True)
    assert accounts.may_open(None, "anyone", team_mode=False)  # the laptop: one person owns everything
    assert not accounts.may_open(ann, "bob", team_mode=False)  # a signed-in account is held to its role regardless


def test_a_database_with_an_account_is_in_team_mode_whatever_the_setting(team_db):
    from interviewer.settings import Settings

    laptop, team = Settings(team_mode=False), Settings(team_mode=True)
    assert not accounts.team_mode(laptop, team_db) and accounts.team_mode(team, team_db)  # before any account
    accounts.add(team_db, "ann", PASSWORD)
    assert accounts.team_mode(laptop, team_db) and accounts.team_mode(team, team_db)


def test_cohort_rows_latest_score_and_trend(team_db):
    _graded_session(team_db, "ann", [1.0, 2.0])
    _graded_session(team_db, "ann", [4.0, 5.0])
    _graded_session(team_db, "bob", [3.0], concept="rnns")
    rows = {(r.candidate, r.concept): r for r in cohort(team_db)}
    ann = rows[("ann", "cnns")]
    assert ann.answers == 4 and ann.latest == 5.0 and ann.trend == 3.0  # mean(4, 5) - mean(1, 2)
    bob = rows[("bob", "rnns")]
    assert bob.answers == 1 and bob.trend is None
    csv = to_csv(list(rows.values())).splitlines()
    assert csv[0].startswith("candidate,concept,answers,latest") and len(csv) == 3


def test_csv_export_defuses_spreadsheet_formulas(tmp_path):
    db = SessionDB(tmp_path / "s.sqlite3")
    _graded_session(db, "=HYPERLINK(1)", [2.0])
    assert "\n'=HYPERLINK(1)," in to_csv(cohort(db))


def _cli(monkeypatch, tmp_path):
    """The CLI on a data directory of the test's own, with INTERVIEWER_TEAM_MODE unset."""
    from interviewer.settings import get_settings

    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INTERVIEWER_TEAM_MODE", raising=False)
    get_settings.cache_clear()
    return CliRunner()


def test_users_cli_makes_the_first_account_then_asks_an_instructor(tmp_path, monkeypatch):
    """A new database: anyone who reaches it makes the first instructor; from then on accounts are managed by an
    instructor's sign-in (theirs on the first line of stdin, the new account's on the next), never echoing one."""
    from interviewer.settings import get_settings

    runner = _cli(monkeypatch, tmp_path)
    try:
        added = runner.invoke(cli, ["users", "add", "teacher", "--role", "instructor", "--password-stdin"],
                              input=PASSWORD + "\n")
        assert added.exit_code == 0, added.output
        unsigned = [runner.invoke(cli, args, input=PASSWORD + "\n") for args in (
            ["users", "list", "--json"], ["users", "add", "ann", "--password-stdin"], ["users", "remove", "teacher"])]
        assert all(r.exit_code != 0 and "--as NAME" in r.output for r in unsigned)
        listed = runner.invoke(cli, ["users", "list", "--json", "--as", "teacher", "--password-stdin"],
                               input=PASSWORD + "\n")
        assert '"teacher"' in listed.output and '"instructor"' in listed.output and "argon2" not in listed.output
        ann = runner.invoke(cli, ["users", "add", "ann", "--password-stdin", "--as", "teacher"],
                            input=f"{PASSWORD}\nann's own password\n")
        assert ann.exit_code == 0, ann.output
        by_a_candidate = runner.invoke(cli, ["users", "add", "bob", "--password-stdin", "--as", "ann"],
                                       input=f"ann's own password\n{PASSWORD}\n")
        assert by_a_candidate.exit_code != 0 and "for instructors" in by_a_candidate.output
        wrong = runner.invoke(cli, ["users", "list", "--as", "teacher", "--password-stdin"], input="not it at all\n")
        assert wrong.exit_code != 0 and "wrong name or password" in wrong.output
        short = runner.invoke(cli, ["users", "add", "x", "--password-stdin", "--as", "teacher"],
                              input=f"{PASSWORD}\nshort\n")
        assert short.exit_code != 0 and "at least" in short.output
        remove = ["users", "remove", "ann", "--as", "teacher", "--password-stdin"]
        assert runner.invoke(cli, remove, input=PASSWORD + "\n").exit_code == 0
        assert runner.invoke(cli, remove, input=PASSWORD + "\n").exit_code != 0
        outputs = [added, *unsigned, listed, ann, by_a_candidate, wrong, short]
        assert not any(secret in r.output for r in outputs for secret in (PASSWORD, "ann's own password"))
    finally:
        get_settings.cache_clear()
    for path in tmp_path.rglob("*"):  # the database, its WAL
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes() and b"ann's own password" not in path.read_bytes()


# -- the terminal in team mode ---------------------------------------------------------------------------------------
@pytest.fixture
def team_cli(app_env, monkeypatch):
    """Team mode for the CLI: ann and bob (candidates) with a graded session each, and an instructor."""
    from interviewer.settings import get_settings

    monkeypatch.setenv("INTERVIEWER_TEAM_MODE", "1")
    get_settings.cache_clear()
    accounts.add(app_env, "ann", PASSWORD)
    accounts.add(app_env, "bob", PASSWORD)
    accounts.add(app_env, "teacher", PASSWORD, "instructor")
    sessions = {name: _graded_session(app_env, name, [3.0]).id for name in ("ann", "bob")}
    yield app_env, sessions
    get_settings.cache_clear()


def _as(name: str, *args: str, password: str = PASSWORD):
    result = CliRunner().invoke(cli, [*args, "--as", name, "--password-stdin"], input=password + "\n")
    assert password not in result.output
    return result


def test_the_terminal_asks_for_a_sign_in_and_a_candidate_opens_only_their_own(team_cli):
    db, sessions = team_cli
    unsigned = CliRunner().invoke(cli, ["history", "--json"])
    assert unsigned.exit_code != 0 and "--as NAME" in unsigned.output
    wrong = _as("ann", "history", password="not the password")
    assert wrong.exit_code != 0 and "wrong name or password" in wrong.output

    own = _as("ann", "history", "--json")
    assert own.exit_code == 0 and sessions["ann"] in own.output and sessions["bob"] not in own.output
    for args in (["history", "--user", "bob"], ["history", "--forget", "bob", "--yes"], ["practice", "--user", "bob"],
                 ["interview", "--resume", sessions["bob"], "--backend", "fake"]):
        refused = _as("ann", *args)
        assert refused.exit_code != 0 and "belongs to another candidate" in refused.output, args
    assert db.list_sessions("bob"), "a refused --forget deleted nothing"
    assert _as("ann", "practice", "--json").exit_code == 0

    cohort_refused = _as("ann", "cohort", "--json")
    assert cohort_refused.exit_code != 0 and "for instructors" in cohort_refused.output
    teacher = _as("teacher", "history", "--user", "bob", "--json")
    assert teacher.exit_code == 0 and sessions["bob"] in teacher.output
    assert _as("teacher", "cohort", "--json").exit_code == 0


def test_off_team_mode_the_terminal_asks_for_no_sign_in(app_env):
    from interviewer.settings import get_settings

    _graded_session(app_env, "bob", [3.0])
    get_settings.cache_clear()
    try:
        listed = CliRunner().invoke(cli, ["history", "--user", "bob", "--json"])
    finally:
        get_settings.cache_clear()
    assert listed.exit_code == 0 and '"bob"' in listed.output


def test_a_database_with_accounts_asks_the_terminal_for_a_sign_in_without_the_setting(app_env, monkeypatch):
    """INTERVIEWER_TEAM_MODE unset against a team's database: every command still asks, and a candidate still reads
    only their own."""
    from interviewer.settings import get_settings

    monkeypatch.delenv("INTERVIEWER_TEAM_MODE", raising=False)
    get_settings.cache_clear()
    accounts.add(app_env, "ann", PASSWORD)
    accounts.add(app_env, "bob", PASSWORD)
    sessions = {name: _graded_session(app_env, name, [3.0]).id for name in ("ann", "bob")}
    try:
        assert not get_settings().team_mode
        for args in (["history", "--user", "bob", "--json"], ["practice", "--user", "bob", "--json"], ["cohort"]):
            unsigned = CliRunner().invoke(cli, args)
            assert unsigned.exit_code != 0 and "--as NAME" in unsigned.output, args
            assert sessions["bob"] not in unsigned.output
        for args in (["history", "--user", "bob", "--json"], ["interview", "--resume", sessions["bob"], "--backend",
                                                               "fake"]):
            refused = _as("ann", *args)
            assert refused.exit_code != 0 and "belongs to another candidate" in refused.output, args
        own = _as("ann", "history", "--json")
        assert own.exit_code == 0 and sessions["ann"] in own.output and sessions["bob"] not in own.output
    finally:
        get_settings.cache_clear()


# -- the app in team mode ------------------------------------------------------------------------------------------
@pytest.fixture
def team_app(app_env, monkeypatch):
    monkeypatch.setenv("INTERVIEWER_TEAM_MODE", "1")
    accounts.add(app_env, "ann", PASSWORD)
    accounts.add(app_env, "bob", PASSWORD)
    accounts.add(app_env, "teacher", PASSWORD, "instructor")
    return app_env


def _signed_in(name: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_the_app_asks_for_a_sign_in_and_refuses_a_wrong_password(team_app):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert at.header[0].value == "Sign in" and not at.chat_input  # nothing of the app before signing in
    at = _signed_in("ann", "wrong password!")
    assert any("do not match" in e.value for e in at.error) and at.header[0].value == "Sign in"
    assert at.session_state["sign_in_password"] == ""  # not kept in the session state
    at = _signed_in("ann")
    assert at.header[0].value != "Sign in" and "ann" in " ".join(c.value for c in at.sidebar.caption)
    assert not any(w.key == "user" for w in at.sidebar.text_input)  # the name comes from the account


def test_a_database_with_accounts_shows_the_app_sign_in_without_the_setting(app_env, monkeypatch):
    monkeypatch.delenv("INTERVIEWER_TEAM_MODE", raising=False)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert at.header[0].value != "Sign in"  # no account yet: the laptop, nobody signs in
    accounts.add(app_env, "ann", PASSWORD)
    accounts.add(app_env, "bob", PASSWORD)
    at.run()
    assert at.header[0].value == "Sign in" and not at.chat_input and not at.sidebar.radio
    bobs = _graded_session(app_env, "bob", [4.0])
    at = _signed_in("ann")
    at.query_params["sid"] = bobs.id
    at.run()
    assert any("belongs to another candidate" in e.value for e in at.error)
    assert bobs.id not in " ".join(m.value for m in at.markdown)


def test_a_candidate_cannot_open_another_candidates_session_by_url(team_app):
    bobs = _graded_session(team_app, "bob", [4.0])
    at = _signed_in("ann")
    at.query_params["sid"] = bobs.id
    at.run()
    assert any("belongs to another candidate" in e.value for e in at.error)
    assert "sid" not in at.query_params
    assert bobs.id not in " ".join(m.value for m in at.markdown)
    at.radio(key="view").set_value("History").run()
    assert not at.dataframe or bobs.id not in at.dataframe[0].value.to_string()  # ann's history has only ann's


def test_an_instructor_sees_the_cohort_and_anyones_history(team_app):
    _graded_session(team_app, "ann", [2.0, 3.0])
    _graded_session(team_app, "bob", [4.0], concept="rnns")
    at = _signed_in("teacher")
    assert "Cohort" in at.radio(key="view").options
    at.radio(key="view").set_value("Cohort").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table.candidate) == {"ann", "bob"}
    at.radio(key="view").set_value("History").run()
    at.selectbox(key="history_candidate").set_value("bob").run()
    assert not at.exception and at.dataframe[0].value.session.tolist() == [s.id for s in team_app.list_sessions("bob")]


def test_a_candidate_has_no_cohort_page(team_app):
    at = _signed_in("ann")
    assert "Cohort" not in at.radio(key="view").options


def _said(utterances) -> None:
    for u in utterances:
        u.resolve()


def test_a_second_replica_resumes_a_session_from_the_shared_database(db_target, bank, session_settings):
    """Two app replicas behind a load balancer: one starts the interview, the other continues it."""
    from test_agent import FakeLLM, Grader, Interviewer, current_question, on_topic, scripted

    first, second = SessionDB(db_target), SessionDB(db_target)
    llm = FakeLLM(task_script=scripted)
    agent = Interviewer.start(SessionConfig(track="fresher", n_questions=2, user="ann"), db=first, llm=llm,
                              grader=Grader(llm, None, session_settings), questions=bank.questions,
                              session_id="replica-test")
    try:
        _said(agent.opening())
        _said(agent.handle("STRONG. " + current_question(agent, bank).reference_answer))
        agent.wait_for_grades()
    finally:
        agent.close()
    again = Interviewer.resume("replica-test", db=second, llm=llm, grader=Grader(llm, None, session_settings),
                               questions=bank.questions)
    try:
        assert [t.text for t in again.session.turns] == [t.text for t in agent.session.turns]
        _said(again.handle(on_topic(current_question(again, bank), "STRONG")))
        again.wait_for_grades()
    finally:
        again.close()
    stored = first.load("replica-test")  # what the other replica wrote, seen from the first
    assert stored.finished and len(stored.questions) == 2 and all(q.grade is not None for q in stored.questions)
    assert [t.seq for t in stored.turns] == list(range(len(stored.turns)))
    first.close()
    second.close()


def test_the_api_key_is_sent_to_the_server_but_never_shown_or_stored(app_env, tmp_path):
    """A key typed into the set-up reaches the model server and nothing else: not the page, not the database."""
    from fake_openai import Behaviour, FakeServer

    secret = "sk-test-DO-NOT-STORE-4711"
    with FakeServer(Behaviour(honours={"json_schema"})) as server:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        at.radio(key="backend").set_value("compatible").run()
        at.text_input(key="compatible_base_url").set_value(server.url)
        at.text_input(key="compatible_model").set_value("fake-model")
        at.text_input(key="compatible_api_key").set_value(secret)
        at.slider(key="n_questions").set_value(1)
        at.button(key="start").click().run()
        assert not at.exception, at.exception
        at.chat_input(key="chat").set_value("Dropout zeroes activations at random during training.").run()
        if app_env.load(at.query_params["sid"]).phase == "awaiting_followup":  # a follow-up, if the score came in time
            at.chat_input(key="chat").set_value("skip").run()
        assert not at.exception, at.exception
    assert f"Bearer {secret}" in server.behaviour.authorizations  # the key was used...
    shown = [e.value for kind in ("markdown", "caption", "error", "warning", "info") for e in getattr(at, kind)]
    assert shown and not any(secret in str(v) for v in shown)  # ...never shown...
    for path in tmp_path.rglob("*"):  # ...and never written: the database, its WAL, transcripts, caches
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_an_unreachable_database_is_reported_without_its_password(app_env, monkeypatch):
    monkeypatch.setenv("INTERVIEWER_TEAM_MODE", "1")
    monkeypatch.setenv("INTERVIEWER_DATABASE_URL", "postgresql://someone:hunter2-secret@127.0.0.1:9/nowhere")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    [error] = at.error
    assert "cannot be opened" in error.value and "someone:***@127.0.0.1" in error.value
    assert "hunter2" not in error.value and not at.chat_input


def test_a_password_never_reaches_the_logs_or_the_output(app_env, monkeypatch, caplog, capfd):
    """Every logger at DEBUG and both file descriptors captured while an account is made, signed in to in the app
    (wrongly, then rightly) and in the terminal: the password is nowhere."""
    import logging

    from interviewer.settings import get_settings

    secret = "hunter2-never-logged-4711"
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("INTERVIEWER_TEAM_MODE", "1")
    get_settings.cache_clear()
    try:
        added = CliRunner().invoke(cli, ["users", "add", "kim", "--role", "instructor", "--password-stdin"],
                                   input=secret + "\n")
        assert added.exit_code == 0, added.output
        refused = _signed_in("kim", secret + "!")
        assert refused.header[0].value == "Sign in"
        at = _signed_in("kim", secret)
        assert at.header[0].value != "Sign in"  # signed in: the whole path ran
        shown = [e.value for kind in ("markdown", "caption", "error", "text") for e in getattr(at, kind)]
        terminal = CliRunner().invoke(cli, ["history", "--json", "--as", "kim", "--password-stdin"],
                                      input=secret + "\n")
        assert terminal.exit_code == 0, terminal.output
    finally:
        get_settings.cache_clear()
    out, err = capfd.readouterr()
    for where, text in {"logs": caplog.text, "stdout": out, "stderr": err, "users add": added.output,
                        "history": terminal.output, "the page": " ".join(map(str, shown))}.items():
        assert secret not in text, where


def test_probed_capabilities_are_kept_under_the_url_without_its_credentials(tmp_path, monkeypatch):
    import json

    from interviewer.llm import probe
    from interviewer.llm.base import Capabilities

    asked: list[str] = []
    monkeypatch.setattr(probe, "probe", lambda client, model: asked.append(model) or Capabilities(grammar=True))
    said: list[str] = []
    caps = probe.capabilities_for(None, "http://someone:hunter2-secret@llm.internal:8080/v1/", "m", tmp_path,
                                  on_progress=said.append)
    assert caps.grammar and asked == ["m"]
    saved = (tmp_path / probe.PROBE_FILE).read_text()
    assert "hunter2" not in saved and "someone" not in saved and list(json.loads(saved)) == [
        "http://llm.internal:8080/v1|m"]
    assert said and not any("hunter2" in line or "someone" in line for line in said)
    assert probe.capabilities_for(None, "http://llm.internal:8080/v1", "m", tmp_path).grammar
    assert asked == ["m"]  # the same server, with or without credentials: probed once
