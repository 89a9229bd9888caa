"""The report's next steps: practice questions named by their text, and one step to practise them (the app's
"Practise these", the terminal's command)."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from apptest import current_question, new_app, say, start
from interviewer.report import build_report, practice_plan, to_markdown
from interviewer.session import Session, SessionConfig
from tests.test_report import _graded


def test_the_study_plan_names_questions_by_their_text_not_their_ids(bank):
    s = Session(config=SessionConfig(track="mixed", n_questions=2), phase="finished")
    s.questions = [_graded(bank.get("guide-02"), 0, 1.0, 1), _graded(bank.get("guide-03"), 1, 1.5, 1)]
    report = build_report(s, bank.questions)
    ids = [i for item in report.study_plan for i in item.practice]
    assert ids and list(practice_plan(report)) == list(dict.fromkeys(ids))
    md = to_markdown(report).split("## Study plan")[1].split("##")[0]
    for item in report.study_plan:
        for qid, text in zip(item.practice, item.practice_questions):
            assert bank.get(qid).question.startswith(text.removesuffix("..."))
            assert f"“{text}”" in md and qid not in md  # read as a question, not as an id
    assert all(item.concept in why for item in report.study_plan
               for qid, why in practice_plan(report).items() if qid in item.practice)


def _terminal(tmp_path, monkeypatch):
    from interviewer.cli.interview import COMMANDS
    from interviewer.settings import get_settings

    monkeypatch.setenv("INTERVIEWER_BACKEND", "fake")
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    app = typer.Typer()
    for name, command in COMMANDS.items():
        app.command(name)(command)
    return app, CliRunner()


def test_the_terminal_report_prints_the_command_that_practises_its_questions(tmp_path, monkeypatch, bank):
    from interviewer.settings import get_settings

    app, runner = _terminal(tmp_path, monkeypatch)
    try:
        res = runner.invoke(app, ["interview", "--question", "guide-03", "--question", "guide-22", "--user", "cli"],
                            input="skip\nskip\n")
        assert res.exit_code == 0, res.output
        assert "Question 1 of 2" in res.output and bank.get("guide-03").question in res.output
        command = re.search(r"Practise these: (interviewer interview .+)", res.output).group(1).split()
        assert command[2:6] == ["--mode", "practice", "--user", "cli"]
        asked = command[command.index("--question") + 1::2]
        assert asked and not {"guide-03", "guide-22"} & set(asked)  # new questions on the weak concepts
        # The printed command runs: a practice session on exactly those questions.
        again = runner.invoke(app, command[1:], input="skip\n" * len(asked))
        assert again.exit_code == 0, again.output
        assert f"Question 1 of {len(asked)}" in again.output and bank.get(asked[0]).question in again.output
        wrong = runner.invoke(app, ["interview", "--question", "no-such-question"])
        assert wrong.exit_code == 2 and "no question 'no-such-question'" in wrong.output
    finally:
        get_settings.cache_clear()


def test_practise_these_in_the_app_starts_a_practice_session_on_the_plans_questions(app_env, bank):
    db = app_env
    at = new_app()
    sid = start(at, n=1)
    q = current_question(db, sid, bank)
    say(at, "skip")
    report = build_report(db.load(sid), bank.questions)
    plan = practice_plan(report)
    assert plan and any(text in m.value for m in at.markdown for item in report.study_plan
                        for text in item.practice_questions)
    at.button(key=f"practise-{sid}").click().run()
    assert not at.exception, at.exception
    new = at.query_params["sid"]
    session = db.load(new)
    assert new != sid and session.config.mode == "practice" and session.config.planned == list(plan)
    assert session.questions[0].question_id == next(iter(plan)) != q.id
    assert "your report's study plan" in session.config.plan_reasons[next(iter(plan))]


def test_practise_these_from_a_past_report_on_the_history_page(app_env, bank):
    db = app_env
    at = new_app()
    sid = start(at, n=1)
    say(at, "skip")
    at.radio(key="view").set_value("History").run()
    at.button(key="history_open").click().run()
    plan = practice_plan(build_report(db.load(sid), bank.questions))
    at.button(key=f"practise-history-{sid}").click().run()
    assert not at.exception, at.exception
    assert at.radio(key="view").value == "Interview"  # taken to the interview, which has started
    new = at.query_params["sid"]
    assert new != sid and db.load(new).config.planned == list(plan) and db.load(new).config.mode == "practice"
