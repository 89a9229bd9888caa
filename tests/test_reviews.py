"""People's grades: an instructor's review (on SQLite and PostgreSQL), shown to the candidate as the instructor's, an
anchor the next grade reads; labelled files (`interviewer anchors add | list`); delete-my-data takes the anchors made
from a person's answers with it."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from interviewer.cli.main import app as cli
from interviewer.grading.grade import AnchorMatch, Grade
from interviewer.team import accounts
from interviewer.store import SessionDB
from interviewer.store.forget import forget_user
from interviewer.report import build_report, to_markdown
from interviewer.session import Review
from interviewer.store.reviews import ReviewError, Reviews, review_anchor_id
from interviewer.services import anchor_book
from interviewer.session import QuestionRecord, Session, SessionConfig
from interviewer.bank.anchors import Anchor

from apptest import APP, TIMEOUT

PASSWORD = "correct horse battery"
QID = "guide-22"  # "What is a dropout?"
ANSWER = "Dropout randomly turns off some neurons during training so the network does not overfit."
NEAR = "Dropout randomly switches off some neurons during training so the network does not overfit."  # a word changed
WHEN = datetime(2025, 3, 4, 10, 30, tzinfo=timezone.utc)


@pytest.fixture
def team_db(db_target):
    opened = SessionDB(db_target)
    yield opened
    opened.close()


def _answered(db: SessionDB, user: str, bank, answers: list[str], score: float | None = 1.5,
              skipped: bool = False) -> Session:
    """A session of one closed answer to QID, graded `score` by the grader (None: not graded yet)."""
    q = bank.by_id()[QID]
    s = Session(config=SessionConfig(user=user, n_questions=1))
    db.create(s)
    db.save_question(s.id, QuestionRecord(index=0, question_id=q.id, tier=q.tier, concepts=q.concepts,
                                          question=q.question, answers=answers, skipped=skipped, closed=True))
    if score is not None:
        db.save_grade(s.id, 0, Grade(question_id=q.id, score=score, backend="fake", model="toy"))
    return s


# -- the repository --------------------------------------------------------------------------------------------------
def test_a_review_is_kept_on_the_answer_and_becomes_an_anchor(team_db, bank):
    s = _answered(team_db, "ann", bank, [ANSWER, "And it is off at inference."])
    reviews = Reviews(team_db.database)
    stored = reviews.review(s.id, 0, 4.5, "  Clear and\ncorrect. ", by="teacher", at=WHEN)
    assert stored == Review(score=4.5, note="Clear and correct.", by="teacher", at=WHEN)

    record = team_db.load(s.id).questions[0]
    assert record.review == stored and record.grade.score == 1.5  # the grader's grade is kept beside it
    assert team_db.list_sessions("ann")[0].score == 4.5  # history and the cohort read the instructor's score
    assert [score for *_, score in team_db.graded_answers()] == [4.5]
    [anchor] = reviews.anchors_for(QID)
    assert anchor.text == f"{ANSWER} And it is off at inference."  # the answer and its follow-up, as graded
    assert (anchor.score, anchor.source, anchor.author, anchor.level) == (4.5, "instructor", "teacher", "graded")
    assert anchor.created == WHEN.isoformat() and anchor.rationale == "Clear and correct."
    assert reviews.anchors_for("guide-1") == [] and reviews.list() == [anchor]
    assert [(r.session_id, r.index, r.review) for r in reviews.reviewed("ann")] == [(s.id, 0, stored)]
    assert reviews.reviewed("bob") == []


def test_a_second_review_replaces_the_first(team_db, bank):
    s = _answered(team_db, "ann", bank, [ANSWER])
    reviews = Reviews(team_db.database)
    reviews.review(s.id, 0, 4.5, "first", by="teacher", at=WHEN)
    later = reviews.review(s.id, 0, 2.0, "on second thoughts", by="other", at=WHEN.replace(day=5))
    assert team_db.load(s.id).questions[0].review == later
    [anchor] = reviews.anchors_for(QID)
    assert (anchor.score, anchor.author, anchor.rationale) == (2.0, "other", "on second thoughts")
    assert team_db.list_sessions("ann")[0].score == 2.0


def test_a_regrade_keeps_the_instructors_score(team_db, bank):
    s = _answered(team_db, "ann", bank, [ANSWER])
    Reviews(team_db.database).review(s.id, 0, 4.5, "good", by="teacher", at=WHEN)
    team_db.save_grade(s.id, 0, Grade(question_id=QID, score=2.0, backend="fake", model="toy"))
    record = team_db.load(s.id).questions[0]
    assert record.grade.score == 2.0 and record.review.score == 4.5
    assert team_db.list_sessions("ann")[0].score == 4.5


def test_reviews_that_cannot_be_stored_are_refused_and_change_nothing(team_db, bank):
    reviews = Reviews(team_db.database)
    graded = _answered(team_db, "ann", bank, [ANSWER])
    pending = _answered(team_db, "ann", bank, [ANSWER], score=None)
    skipped = _answered(team_db, "ann", bank, [], skipped=True)
    for args, says in [((graded.id, 0, 3.3), "steps of 0.5"), ((graded.id, 0, 5.5), "less than or equal to 5"),
                       ((graded.id, 3, 3.0), "no answer 4"), ((pending.id, 0, 3.0), "not graded yet"),
                       ((skipped.id, 0, 3.0), "skipped")]:
        with pytest.raises(ReviewError, match=says):
            reviews.review(*args, note="", by="teacher")
    with pytest.raises(ReviewError, match="at most 1000"):
        reviews.review(graded.id, 0, 3.0, "x" * 1001, by="teacher")
    assert reviews.list() == [] and team_db.load(graded.id).questions[0].review is None
    assert team_db.list_sessions("ann")[-1].score == 1.5


def test_file_anchors_are_added_once(team_db):
    reviews = Reviews(team_db.database)
    one = Anchor(question_id=QID, text=ANSWER, score=3.0, level="graded", source="file", author="f.csv")
    same_text_other_score = one.model_copy(update={"score": 4.0})
    assert reviews.add([one, one, same_text_other_score]) == 2
    assert reviews.add([one]) == 0
    assert sorted(a.score for a in reviews.anchors_for(QID)) == [3.0, 4.0]
    assert all(a.created for a in reviews.anchors_for(QID))  # dated when added


def test_deleting_a_persons_data_deletes_the_anchors_made_from_their_answers(team_db, bank, tmp_path):
    reviews = Reviews(team_db.database)
    ann, bob = _answered(team_db, "ann", bank, [ANSWER]), _answered(team_db, "bob", bank, [NEAR])
    reviews.review(ann.id, 0, 4.5, "", by="teacher")
    reviews.review(bob.id, 0, 1.0, "", by="teacher")
    reviews.add([Anchor(question_id=QID, text="A file's answer.", score=2.0, source="file")])
    assert len(reviews.anchors_for(QID)) == 3
    assert forget_user(team_db, tmp_path, "ann") == 1
    assert sorted(a.text for a in reviews.anchors_for(QID)) == ["A file's answer.", NEAR]
    with team_db.database.connect() as con:
        assert con.execute("SELECT 1 FROM anchors WHERE id=?", (review_anchor_id(ann.id, 0),)).fetchone() is None


# -- the target: an instructor's grade moves the next grade of a near-identical answer -------------------------------
def test_an_instructors_grade_carries_to_a_near_identical_answer(team_db, bank, tmp_path):
    """The toy model grades ANSWER ~2; an instructor gives 4.5; an answer one word away is then graded within 0.5
    of 4.5 by a grader whose anchors come from the database (the shipped anchored parameters)."""
    from interviewer.settings import Settings
    from interviewer.grading.grader import Grader
    from interviewer.llm.fake import toy_llm

    settings = Settings(data_dir=tmp_path / "data", backend="fake")
    q = bank.by_id()[QID]
    grader = Grader(toy_llm(), None, settings, anchors=anchor_book(settings, team_db))
    before = grader.score(q, ANSWER)
    unreviewed_near = grader.score(q, NEAR).score
    assert before.score < 3.0 and unreviewed_near < 3.0  # far from the instructor's grade to come

    s = _answered(team_db, "ann", bank, [ANSWER], score=before.score)
    Reviews(team_db.database).review(s.id, 0, 4.5, "Correct and enough for a first answer.", by="teacher")
    after = Grader(toy_llm(), None, settings, anchors=anchor_book(settings, team_db)).score(q, NEAR)
    assert abs(after.score - 4.5) <= 0.5, (before.score, unreviewed_near, after.score)
    nearest = after.anchors[0]
    assert (nearest.source, nearest.score) == ("instructor", 4.5) and nearest.similarity > 0.95


# -- the candidate sees it as the instructor's -----------------------------------------------------------------------
def test_the_report_shows_the_instructors_grade_beside_the_graders(db, bank):
    s = _answered(db, "ann", bank, [ANSWER], score=1.5)
    Reviews(db.database).review(s.id, 0, 4.5, "Good: see ![x](http://e.test/p.png)", by="t_1", at=WHEN)
    report = build_report(db.load(s.id), bank.questions)
    [r] = report.questions
    assert (r.score, r.grader_score, report.overall) == (4.5, 1.5, 4.5)
    md = to_markdown(report)
    assert "**Instructor's grade: 4.5/5 (by t\\_1, 2025-03-04): Good: see \\!\\[x\\](http://e.test/p.png)**" in md
    assert "*Grader's score: 1.5/5*" in md and "![x]" not in md


def _signed_in(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def team_app(app_env, monkeypatch):
    monkeypatch.setenv("INTERVIEWER_TEAM_MODE", "1")
    accounts.add(app_env, "ann", PASSWORD)
    accounts.add(app_env, "teacher", PASSWORD, "instructor")
    return app_env


def test_the_candidate_sees_the_instructors_grade_in_the_history(team_app, bank):
    s = _answered(team_app, "ann", bank, [ANSWER], score=1.5)
    Reviews(team_app.database).review(s.id, 0, 4.5, "Good: ![x](http://e.test/p.png)", by="teacher", at=WHEN)
    at = _signed_in("ann")
    at.radio(key="view").set_value("History").run()
    assert at.dataframe[0].value.score.tolist() == [4.5]
    at.button(key="history_open").click().run()
    assert not at.exception, at.exception
    assert any(e.label.startswith("Q1 · 4.5/5 (instructor)") for e in at.expander)
    [info] = [i.value for i in at.info if "Instructor" in i.value]
    assert info == "Instructor's grade: 4.5/5 (by teacher, 2025-03-04): Good: \\!\\[x\\](http://e.test/p.png)"
    assert any(c.value == "Grader's score: 1.5/5" for c in at.caption)


def test_an_instructor_reviews_an_answer_in_the_cohort_view(team_app, bank):
    s = _answered(team_app, "ann", bank, [ANSWER + " ![x](http://e.test/p.png)"], score=1.5)
    read_against = [AnchorMatch(level="misconception", score=0.5, source="authored", similarity=0.82, weight=0.6),
                    AnchorMatch(level="graded", score=4.0, source="file", similarity=0.8, weight=0.4)]
    team_app.save_grade(s.id, 0, Grade(question_id=QID, score=1.5, anchors=read_against))
    at = _signed_in("teacher")
    at.radio(key="view").set_value("Cohort").run()
    assert not at.exception, at.exception
    [anchors] = [d.value for d in at.dataframe if "weight" in d.value.columns]
    assert anchors.to_dict("records") == [a.model_dump(include={"level", "score", "source", "similarity", "weight"})
                                          for a in read_against]
    assert at.selectbox(key="review_candidate").value == "ann" and at.selectbox(key="review_session").value == s.id
    assert any("Grader's grade: 1.5/5" in m.value for m in at.markdown)
    assert any("\\!\\[x\\](http://e.test/p.png)" in m.value for m in at.markdown)  # the answer, drawn escaped
    at.select_slider(key=f"review_score_{s.id}_0").set_value(4.0)
    at.text_area(key=f"review_note_{s.id}_0").set_value("Right idea; say what happens at inference.")
    at.button(key="review_save").click().run()
    assert not at.exception, at.exception
    review = team_app.load(s.id).questions[0].review
    assert (review.score, review.by, review.note) == (4.0, "teacher", "Right idea; say what happens at inference.")
    assert any("Saved. Instructor's grade: 4/5 (by teacher" in m.value for m in at.success)
    assert any("Instructor's grade: 4/5" in i.value for i in at.info)  # the form now shows the stored review


# -- the terminal ----------------------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(app_env, monkeypatch):
    """The CLI on the app's data directory, INTERVIEWER_TEAM_MODE unset; yields its database."""
    from interviewer.settings import get_settings

    monkeypatch.delenv("INTERVIEWER_TEAM_MODE", raising=False)
    get_settings.cache_clear()
    yield app_env
    get_settings.cache_clear()


def _as(name: str, *args: str):
    return CliRunner().invoke(cli, [*args, "--as", name, "--password-stdin"], input=PASSWORD + "\n")


def test_the_terminal_history_shows_the_instructors_grade(cli_env, bank):
    s = _answered(cli_env, "local", bank, [ANSWER], score=1.5)
    Reviews(cli_env.database).review(s.id, 0, 3.5, "Say more [bold]about[/bold] inference.", by="teacher", at=WHEN)
    shown = CliRunner().invoke(cli, ["history"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert (f"{s.id} Q1 ({QID}): Instructor's grade: 3.5/5 (by teacher, 2025-03-04): Say more [bold]about[/bold] "
            "inference.") in shown.output
    listed = json.loads(CliRunner().invoke(cli, ["history", "--json"]).output)
    assert listed[0]["score"] == 3.5 and listed[0]["reviews"][0]["by"] == "teacher"
    assert listed[0]["reviews"][0]["score"] == 3.5 and listed[0]["reviews"][0]["index"] == 0


def _write(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _row(qid: str = QID, answer: str = ANSWER, score: float = 8, max_score: float = 10) -> dict:
    return {"question_id": qid, "question": "What is a dropout?", "reference": "-", "answer": answer, "score": score,
            "max_score": max_score}


def test_anchors_add_and_list_from_a_labelled_file(cli_env, tmp_path):
    good = tmp_path / "graded.jsonl"
    _write(good, [_row(), _row(answer="It is a kind of pooling.", score=1), _row(answer="  ")])
    added = CliRunner().invoke(cli, ["anchors", "add", "--path", str(good), "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output) == {"added": 2, "already_there": 0, "empty_answers_skipped": 1,
                                        "questions": [QID]}
    again = CliRunner().invoke(cli, ["anchors", "add", "--path", str(good)])
    assert again.exit_code == 0 and "0 anchors added" in again.output and "2 already there" in again.output

    listed = json.loads(CliRunner().invoke(cli, ["anchors", "list", "--question", QID, "--json"]).output)
    people = [a for a in listed if a["source"] == "file"]
    assert sorted((a["score"], a["text"]) for a in people) == [(0.5, "It is a kind of pooling."), (4.0, ANSWER)]
    assert all(a["author"] == "graded.jsonl" and a["created"] for a in people)
    assert {a["level"] for a in listed} >= {"reference", "complete", "misconception", "graded"}  # the bank's too
    table = CliRunner().invoke(cli, ["anchors", "list", "--question", QID], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "It is a kind of pooling." in table.output and "graded.jsonl" in table.output

    unknown = tmp_path / "unknown.jsonl"
    _write(unknown, [_row(), _row(qid="no-such-1"), _row(qid="no-such-2")])
    refused = CliRunner().invoke(cli, ["anchors", "add", "--path", str(unknown)])
    assert refused.exit_code != 0 and "no-such-1, no-such-2" in refused.output and "nothing added" in refused.output
    bad = tmp_path / "bad.jsonl"
    _write(bad, [_row(score=12)])
    refused_score = CliRunner().invoke(cli, ["anchors", "add", "--path", str(bad)])
    assert refused_score.exit_code != 0 and "0 <= score <= max_score" in refused_score.output
    assert len(Reviews(cli_env.database).list()) == 2  # the refused files added nothing
    missing = CliRunner().invoke(cli, ["anchors", "list", "--question", "no-such-1"])
    assert missing.exit_code != 0 and "no question 'no-such-1'" in missing.output


def test_in_team_mode_anchors_are_added_and_listed_by_instructors(cli_env, bank, tmp_path):
    accounts.add(cli_env, "ann", PASSWORD)
    accounts.add(cli_env, "teacher", PASSWORD, "instructor")
    s = _answered(cli_env, "ann", bank, [ANSWER])
    Reviews(cli_env.database).review(s.id, 0, 4.5, "", by="teacher")
    good = tmp_path / "graded.csv"
    good.write_text("question_id,question,reference,answer,score,max_score\n"
                    f"{QID},What is a dropout?,-,It is a kind of pooling.,0,5\n", encoding="utf-8")
    for args in (["anchors", "add", "--path", str(good)], ["anchors", "list", "--question", QID]):
        unsigned = CliRunner().invoke(cli, args)
        assert unsigned.exit_code != 0 and "--as NAME" in unsigned.output
        by_candidate = _as("ann", *args)
        assert by_candidate.exit_code != 0 and "for instructors" in by_candidate.output
        assert ANSWER not in by_candidate.output
    assert _as("teacher", "anchors", "add", "--path", str(good)).exit_code == 0
    listed = _as("teacher", "anchors", "list", "--question", QID, "--json")
    people = {a["source"]: a for a in json.loads(listed.output) if a["source"] in ("file", "instructor")}
    assert people["file"]["author"] == "teacher" and people["instructor"]["text"] == ANSWER
