from __future__ import annotations

import json

import pytest

from interviewer.interview.agent import skipped_grade
from interviewer.grading.grade import Grade, KeyPointResult
from interviewer.report import build_report, concept_chart, to_json, to_markdown
from interviewer.session import QuestionRecord, Session, SessionConfig


def _graded(q, index: int, score: float, covered: int, answer: str = "my answer", hint: bool = False):
    rec = QuestionRecord(index=index, question_id=q.id, tier=q.tier, concepts=list(q.concepts), question=q.question,
                         answers=[answer], closed=True, hints=["Hint: x"] if hint else [])
    rec.grade = Grade(question_id=q.id, score=score, hint_cap=3.5 if hint else None,
                      key_points=[KeyPointResult(point=p, status="covered" if i < covered else "missing",
                                                 similarity=0.5) for i, p in enumerate(q.key_points)],
                      improvements=["say more"], model_answer="The model answer.", feedback="fb")
    return rec


@pytest.fixture
def session(bank):
    by_id = bank.by_id()
    q1, q2, q3, q4 = (by_id[i] for i in ("guide-02", "guide-03", "guide-10", "guide-20"))
    s = Session(config=SessionConfig(track="mixed", n_questions=5, user="ann"), backend="fake", phase="finished")
    s.questions = [_graded(q1, 0, 4.5, 4), _graded(q2, 1, 1.0, 1, hint=True)]
    skipped = QuestionRecord(index=2, question_id=q3.id, tier=q3.tier, concepts=list(q3.concepts),
                             question=q3.question, skipped=True, closed=True)
    skipped.grade = skipped_grade(q3)
    pending = QuestionRecord(index=3, question_id=q4.id, tier=q4.tier, concepts=list(q4.concepts),
                             question=q4.question, answers=["waiting"], closed=True)
    s.questions += [skipped, pending]
    return s


def test_scores_overall_per_tier_and_concept(session, bank):
    r = build_report(session, bank.questions)
    assert r.overall == pytest.approx((4.5 + 1.0 + 0.0) / 3, abs=0.01)  # skipped counts 0, pending is not averaged
    assert (r.answered, r.skipped, r.pending) == (2, 1, 1)
    assert r.percent == round(r.overall * 20)
    tiers = {b.name: b for b in r.by_tier}
    assert set(tiers) == {q.tier for q in session.questions[:3]}
    concepts = {b.name: b.score for b in r.by_concept}
    with_nn = [s for rec, s in zip(session.questions, (4.5, 1.0, 0.0)) if "neural-network-basics" in rec.concepts]
    assert len(with_nn) >= 2 and concepts["neural-network-basics"] == pytest.approx(sum(with_nn) / len(with_nn), abs=0.01)
    assert [b.score for b in r.by_concept] == sorted(b.score for b in r.by_concept)  # weakest first
    q2 = r.questions[1]
    assert q2.covered == [bank.get("guide-03").key_points[0]] and len(q2.missing) == len(bank.get("guide-03").key_points) - 1
    assert r.questions[3].status == "pending" and r.questions[3].model_answer == bank.get("guide-20").reference_answer


def test_study_plan_merges_concepts_backed_by_the_same_questions(bank):
    s = Session(config=SessionConfig(track="mixed", n_questions=2), phase="finished")
    s.questions = [_graded(bank.get("guide-01"), 0, 1.0, 1), _graded(bank.get("guide-02"), 1, 2.0, 1)]
    r = build_report(s, bank.questions)
    concepts = [item.concept for item in r.study_plan]
    # guide-01's three concepts rest on one question: one item, not three identical ones
    assert set(concepts[0].split(" / ")) == set(bank.get("guide-01").concepts)
    assert concepts[1] == "neural-network-basics" and len(concepts) == 2


def test_study_plan_points_at_weakest_concepts_with_unasked_questions(session, bank):
    r = build_report(session, bank.questions, recent=["guide-04"])
    assert 1 <= len(r.study_plan) <= 3
    weakest = r.by_concept[0].name
    assert r.study_plan[0].concept.split(" / ")[0] == weakest
    asked = {q.question_id for q in session.questions}
    for item in r.study_plan:
        assert item.practice and not asked & set(item.practice)
        first = item.concept.split(" / ")[0]
        assert all(first in bank.get(p).concepts for p in item.practice)
    assert all(i.score < 3.5 for i in r.study_plan)


def test_markdown_and_json_exports(session, bank):
    r = build_report(session, bank.questions)
    md = to_markdown(r)
    assert md.startswith("# Mock interview report")
    assert f"**Overall: {r.overall:.1f} / 5" in md
    assert "| concept | score |" in md and "## Study plan" in md
    assert "score capped at 3.5" in md and "skipped" in md
    assert md.count("**Model answer:**") == 4
    data = json.loads(to_json(r))
    assert data["overall"] == r.overall and data["percent"] == r.percent
    assert [q["question_id"] for q in data["questions"]] == [q.question_id for q in session.questions]
    assert data["questions"][0]["covered"] and data["study_plan"][0]["practice"]


def test_empty_session_report(bank):
    s = Session(config=SessionConfig(track="fresher", n_questions=2))
    r = build_report(s, bank.questions)
    assert r.overall is None and r.questions == [] and r.study_plan == []
    assert "No graded answers yet" in to_markdown(r)


def test_concept_chart_is_a_bar_chart(session, bank):
    spec = concept_chart(build_report(session, bank.questions)).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "text"]  # bars with their values
    names = {row["name"] for row in next(iter(spec["datasets"].values()))}
    assert "neural-network-basics" in names
