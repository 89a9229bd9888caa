"""The practice schedule: grades map to FSRS ratings, every graded answer reschedules its question per user, and
today's plan puts due questions first (weakest concept first), then new ones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fsrs import Rating
from typer.testing import CliRunner

from interviewer.planning import practice
from interviewer.session import Session, SessionConfig

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(db_target):
    """The schedule's database, on each engine."""
    from interviewer.store import SessionDB

    opened = SessionDB(db_target)
    yield opened
    opened.close()


@pytest.mark.parametrize("score, rating", [(0.0, Rating.Again), (1.4, Rating.Again), (1.5, Rating.Hard),
                                           (2.4, Rating.Hard), (2.5, Rating.Good), (3.9, Rating.Good),
                                           (4.0, Rating.Easy), (5.0, Rating.Easy)])
def test_grades_map_to_ratings(score, rating):
    assert practice.rating_for(score) == rating


def test_a_weak_answer_comes_back_sooner_than_a_strong_one(db):
    weak = practice.review(db, "ann", "guide-02", 0.5, T0)
    strong = practice.review(db, "ann", "guide-03", 4.8, T0)
    assert T0 < weak.due < strong.due and weak.due - T0 <= timedelta(days=1)
    again = practice.review(db, "ann", "guide-03", 4.8, strong.due)
    assert again.reviews == 2 and again.due - strong.due > strong.due - T0  # known twice: a longer interval
    assert db.cards("bob") == {} and set(db.cards("ann")) == {"guide-02", "guide-03"}


def _graded(db, user, answers: dict[str, float], at: datetime, bank, job_topics: list[str] | None = None) -> None:
    """A finished session of `user` with these question scores (tailored to a job with these topics, if given), and
    the schedule updated as grading does."""
    from interviewer.grading.grade import Grade
    from interviewer.session import QuestionRecord

    s = Session(config=SessionConfig(user=user, n_questions=len(answers), job_topics=job_topics or []), created_at=at)
    db.create(s)
    for i, (qid, score) in enumerate(answers.items()):
        q = bank.get(qid)
        db.save_question(s.id, QuestionRecord(index=i, question_id=qid, tier=q.tier, concepts=q.concepts,
                                              question=q.question, closed=True))
        db.save_grade(s.id, i, Grade(question_id=qid, score=score))
        practice.review(db, user, qid, score, at)


def _two_concepts(bank) -> list[tuple[str, list[str]]]:
    """Two concepts that lead at least three questions each, with those questions' ids."""
    by_concept: dict[str, list[str]] = {}
    for q in bank.questions:
        by_concept.setdefault(q.concepts[0], []).append(q.id)
    return [(c, ids) for c, ids in by_concept.items() if len(ids) >= 3][:2]


def test_todays_plan_is_due_questions_weakest_concept_first_then_new_ones(db, bank):
    (weak_c, weak_ids), (strong_c, strong_ids) = _two_concepts(bank)
    _graded(db, "ann", {weak_ids[0]: 0.5, strong_ids[0]: 3.0}, T0, bank)
    plan = practice.todays_plan(db, "ann", bank.questions, n=4, now=T0 + timedelta(days=30))
    assert [i.kind for i in plan.items] == ["due", "due", "new", "new"]
    assert plan.items[0].question_id == weak_ids[0] and plan.items[1].question_id == strong_ids[0]
    assert plan.items[2].concept == weak_c  # new questions on the weakest concept first
    assert "due for review" in plan.items[0].reason and "weakest" in plan.items[2].reason
    assert plan.due_total == 2 and list(plan.concept_strength)[0] == weak_c
    early = practice.todays_plan(db, "ann", bank.questions, n=4, now=T0 + timedelta(hours=1))
    assert all(i.kind == "new" for i in early.items)  # nothing due yet
    assert practice.todays_plan(db, "bob", bank.questions, n=3, now=T0).due_total == 0  # per user


def test_target_topics_lead_the_new_questions(db, bank):
    topic = bank.questions[-1].concepts[0]
    plan = practice.todays_plan(db, "ann", bank.questions, n=3, now=T0, topics=[topic])
    assert all(topic in bank.get(i.question_id).concepts for i in plan.items)
    assert "target job" in plan.items[0].reason


def test_a_remembered_job_gets_new_questions_on_each_of_its_topics_after_the_due_ones(db, bank):
    # a question whose first concept is practised but whose second is the job's: the job put it in the plan
    both = next(q for q in bank.questions if len(q.concepts) > 1)
    weak, topic = both.concepts[:2]
    second = next(c for q in bank.questions for c in q.concepts if c not in (weak, topic))
    jobs = {topic, second}
    practised = [q.id for q in bank.questions if weak in q.concepts and not jobs & set(q.concepts)][:2]
    _graded(db, "ann", dict.fromkeys(practised, 0.5), T0, bank, job_topics=[topic, second])
    assert db.job_topics("ann") == [topic, second]
    on_job = [q for q in bank.questions if jobs & set(q.concepts) and q.id not in practised]
    plan = practice.todays_plan(db, "ann", bank.questions, n=len(practised) + len(on_job), now=T0 + timedelta(days=30))
    due, new = plan.items[:len(practised)], plan.items[len(practised):]
    assert {i.question_id for i in due} == set(practised) and all(i.kind == "due" for i in due)
    assert all(i.reason == f"due for review on {i.concept} (last score 0.5/5)" for i in due)
    assert [i.concept for i in new[:4]] == [topic, topic, second, second]  # the job's topics take turns
    assert {i.question_id for i in new} == {q.id for q in on_job}
    assert all(i.reason == f"new on {i.concept}, a topic of your target job" for i in new)
    assert next(i.concept for i in new if i.question_id == both.id) == topic


def test_new_questions_name_the_weakest_area_only_for_the_weakest(db, bank):
    (weak_c, weak_ids), (fair_c, fair_ids) = _two_concepts(bank)
    _graded(db, "ann", {weak_ids[0]: 0.5, fair_ids[0]: 3.0}, T0, bank)
    plan = practice.todays_plan(db, "ann", bank.questions, n=8, now=T0)  # nothing due yet
    reasons = {i.concept: i.reason for i in plan.items}
    assert reasons[weak_c] == f"new on {weak_c}, your weakest area (0.5/5)"
    assert "weakest" not in reasons[fair_c] and "3.0/5" in reasons[fair_c]


def test_deleting_ones_data_deletes_the_schedule(db, bank):
    _graded(db, "ann", {bank.questions[0].id: 2.0}, T0, bank)
    _graded(db, "bob", {bank.questions[0].id: 2.0}, T0, bank)
    db.delete_user("ann")
    assert db.cards("ann") == {} and db.cards("bob")


def test_every_graded_answer_reschedules_its_question_and_a_plan_runs_as_planned(db, bank, session_settings):
    from interviewer.grading.grader import Grader
    from interviewer.interview.agent import Interviewer
    from interviewer.llm.fake import toy_llm

    llm = toy_llm()
    plan = practice.todays_plan(db, "ann", bank.questions, n=2, now=T0)
    config = SessionConfig(user="ann", n_questions=2, planned=plan.question_ids,
                           plan_reasons={i.question_id: i.reason for i in plan.items})
    agent = Interviewer.start(config, db=db, llm=llm, grader=Grader(llm, None, session_settings),
                              questions=bank.questions, session_id="plan-1")
    try:
        first = [u.resolve() for u in agent.opening()][-1]
        assert agent.current.question_id == plan.question_ids[0] and "Why this question: new on " in first
        for _ in range(6):
            if agent.phase == "finished":
                break
            for u in agent.handle(" ".join(bank.get(agent.current.question_id).key_points)):
                u.resolve()
        assert agent.phase == "finished" and agent.wait_for_grades(timeout=60)
        assert [r.question_id for r in agent.session.questions] == plan.question_ids
        cards = db.cards("ann")
        assert set(cards) == set(plan.question_ids) and all(c.reviews == 1 for c in cards.values())
    finally:
        agent.close()


def test_practice_command_prints_the_plan(tmp_path, monkeypatch):
    import json

    from interviewer.cli.main import app
    from interviewer.settings import get_settings

    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["practice", "--user", "ann", "--n", "3", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["user"] == "ann" and len(out["items"]) == 3 and out["due_total"] == 0
