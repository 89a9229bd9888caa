"""Anchors: the authored files, the anchored score's arithmetic, and how a grade reads and names its anchors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from checkout import PROJECT_ROOT
from interviewer.grading.anchor_book import AnchorBook, AnchorScores, write_shipped
from interviewer.grading.anchored import anchored_score, nearest
from interviewer.grading.grader import Grader
from interviewer.grading.score import AnchoredParams
from interviewer.bank.anchors import MIN_ANCHORS, Anchor, load_anchors, missing_levels
from interviewer.bank.bank import BankError
from interviewer.llm.fake import toy_llm

PARAMS = AnchoredParams(k=10, temperature=0.05, slope=0.6, prior=0.0)


def _anchor(score: float, level: str = "graded", text: str = "x", **kw) -> Anchor:
    return Anchor(question_id="q", text=text, score=score, level=level, **kw)


# --- the authored files -----------------------------------------------------------------------------------------

def test_every_bank_question_has_its_anchors_at_every_level(bank):
    anchors = load_anchors(PROJECT_ROOT / "interviewer" / "resources" / "knowledge", bank)
    assert set(anchors) == {q.id for q in bank.questions}
    incomplete = {qid: missing_levels(a) for qid, a in anchors.items() if missing_levels(a)}
    assert incomplete == {}
    for qid, items in anchors.items():
        assert len(items) >= MIN_ANCHORS and items[0].level == "reference" and items[0].score == 5
        for a in items:
            if a.level == "misconception":
                assert a.score <= 1 and a.claim and a.correction


@pytest.mark.parametrize("entry, message", [
    ({"level": "terse", "score": 5, "text": "t", "rationale": "because"}, "a terse anchor scores 2.5-3.5"),
    ({"level": "misconception", "score": 0.5, "text": "t", "rationale": "wrong claim"}, "claim and its correction"),
    ({"level": "tersely", "score": 3, "text": "t", "rationale": "because"}, "level"),
])
def test_a_bad_anchor_is_refused_naming_file_question_and_entry(tmp_path, bank, entry, message):
    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "a.yaml").write_text(json.dumps({"anchors": {"guide-22": [entry]}}))
    with pytest.raises(BankError, match=message) as err:
        load_anchors(tmp_path, bank)
    assert "a.yaml" in str(err.value) and "guide-22" in str(err.value) and "#1" in str(err.value)


def test_anchors_for_a_question_the_bank_lacks_are_refused(tmp_path, bank):
    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "a.yaml").write_text(json.dumps({"anchors": {"no-such-question": []}}))
    with pytest.raises(BankError, match="no-such-question"):
        load_anchors(tmp_path, bank)


# --- the arithmetic ----------------------------------------------------------------------------------------------

def test_each_neighbour_says_its_grade_adjusted_by_the_graders_difference():
    a, b = _anchor(4.0, text="a"), _anchor(1.0, text="b")
    one = anchored_score(3.0, [a], np.array([0.9]), [2.0], PARAMS)
    assert one.score == pytest.approx(4.0 + 0.6 * (3.0 - 2.0))
    # Equal similarity: the mean of what each says.
    two = anchored_score(3.0, [a, b], np.array([0.7, 0.7]), [2.0, 2.0], PARAMS)
    assert two.score == pytest.approx(0.5 * (4.6 + 1.6))
    # A near-identical anchor takes nearly all the weight at a small temperature.
    near = anchored_score(3.0, [a, b], np.array([0.98, 0.70]), [2.0, 2.0], PARAMS)
    assert near.neighbours[0].weight > 0.99 and near.score == pytest.approx(4.6, abs=0.05)


def test_the_anchored_score_is_monotone_in_the_grader_and_in_the_anchors():
    anchors = [_anchor(s, text=str(s)) for s in (1.0, 3.0, 4.5)]
    sims, gs = np.array([0.6, 0.7, 0.65]), [1.5, 2.5, 3.5]
    base = anchored_score(2.0, anchors, sims, gs, PARAMS).score
    assert anchored_score(2.5, anchors, sims, gs, PARAMS).score >= base
    better = [_anchor(s + 0.5, text=str(s)) for s in (1.0, 3.0, 4.5)]
    assert anchored_score(2.0, better, sims, gs, PARAMS).score >= base
    assert 0.0 <= anchored_score(9.0, anchors, sims, gs, PARAMS).score <= 5.0


def test_few_anchors_count_as_few_beside_the_graders_own_score():
    params = PARAMS.model_copy(update={"prior": 2.0})
    a = _anchor(5.0)
    # One anchor against a prior of two: a third of the way from the grader's 2.0 to what the anchor says (5.0).
    assert anchored_score(2.0, [a], np.array([0.8]), [2.0], params).score == pytest.approx(3.0)
    assert anchored_score(2.0, [], np.array([]), [], params) is None


def test_a_graded_answer_that_says_the_same_decides_alone():
    params = PARAMS.model_copy(update={"prior": 4.0, "same": 0.95})
    a, b = _anchor(4.5, text="a"), _anchor(0.0, text="b")
    same = anchored_score(1.0, [a, b], np.array([0.97, 0.90]), [1.2, 0.5], params)
    assert same.score == pytest.approx(4.5 + 0.6 * (1.0 - 1.2)) and same.neighbours[0].weight == 1.0
    # Just below `same`, the prior and the other neighbour count again.
    near = anchored_score(1.0, [a, b], np.array([0.94, 0.90]), [1.2, 0.5], params)
    assert near.score < same.score - 1.0


def test_nearest_orders_by_cosine():
    vecs = np.eye(3, dtype=np.float32)
    order, sims = nearest(np.array([0.1, 0.9, 0.4], dtype=np.float32), vecs, 2)
    assert list(order) == [1, 2] and sims[0] == pytest.approx(0.9)


# --- scores kept by scorer identity ---------------------------------------------------------------------------------

def test_shipped_anchor_scores_count_only_for_their_own_scorer(tmp_path):
    a = _anchor(3.0, text="kept")
    shipped = tmp_path / "shipped.json"
    write_shipped("model-A|v1", {a.text_id: 2.25}, shipped)
    assert AnchorScores("model-A|v1", tmp_path, shipped).get(a) == 2.25
    other = AnchorScores("model-B|v1", tmp_path, shipped)
    assert other.get(a) is None
    other.put(a, 1.5)
    assert AnchorScores("model-B|v1", tmp_path, shipped).get(a) == 1.5  # kept in the data directory
    assert AnchorScores("model-C|v1", tmp_path, shipped).get(a) is None


def test_the_shipped_anchor_scores_are_the_embedded_graders_own_for_every_authored_anchor(session_settings):
    """A change to the prompts, the rubric, the score formulas or the model makes every new install grade each
    question's anchors on first need (~20 s a question): rerun scripts/score_anchors.py when this fails."""
    from interviewer.grading.anchor_book import SHIPPED_SCORES
    from interviewer.grading.grader import authored_anchors
    from interviewer.llm.base import LLM
    from interviewer.llm.registry import LOCAL_CAPABILITIES, LOCAL_MODEL

    local = LLM(None, LOCAL_MODEL, backend="local", capabilities=LOCAL_CAPABILITIES, decoding="jump-forward")
    grader = Grader(local, settings=session_settings)
    assert json.loads(SHIPPED_SCORES.read_text())["scorer"] == grader.scorer_id
    missing = [a for anchors in authored_anchors(session_settings).values() for a in anchors
               if grader.anchor_scores.get(a) is None]
    assert not missing, f"{len(missing)} authored anchors without a shipped score, e.g. {missing[0].key}"


# --- the grade ----------------------------------------------------------------------------------------------------

def _grader(session_settings, anchors: list[Anchor]) -> Grader:
    return Grader(toy_llm(), settings=session_settings, anchors=AnchorBook({anchors[0].question_id: anchors}))


def test_a_near_identical_graded_answer_carries_its_grade(bank, session_settings):
    q = bank.get("guide-22")
    said = "Dropout randomly switches off neurons during training so they cannot co-adapt, and it is off at test time."
    plain = Grader(toy_llm(), settings=session_settings, anchors=AnchorBook()).score(q, said)
    graded = Anchor(question_id=q.id, text=said.replace("randomly", "stochastically"), score=round(min(5.0, plain.score + 2.5) * 2) / 2, level="graded",
                    source="instructor", author="teacher")
    others = [Anchor(question_id=q.id, text=t, score=s, level="graded", source="file") for t, s in
              (("Dropout lowers the learning rate over time.", 0.0),
               ("It is a regularizer that removes units at random while training.", 3.0))]
    grade = _grader(session_settings, [graded, *others]).score(q, said)
    assert abs(grade.score - graded.score) <= 0.5
    assert "grader_score" in grade.features  # the zero-anchor score is kept beside the anchored one
    assert grade.anchors[0].source == "instructor" and grade.anchors[0].weight > 0.5
    # A person's graded answer is named by its grade only: its words are another candidate's.
    assert "stochastically" not in grade.feedback
    assert any("an instructor graded" in line for line in grade.improvements)


def test_the_nearest_misconception_is_named_with_its_correction(bank, session_settings):
    q = bank.get("guide-22")
    wrong = Anchor(question_id=q.id, text="Dropout permanently deletes neurons to shrink the network for deployment.",
                   score=0.5, level="misconception", claim="Dropout permanently removes neurons.",
                   correction="Dropout zeroes random units only during training; the full network runs at inference.",
                   rationale="wrong mechanism")
    right = Anchor(question_id=q.id, text=q.reference_answer, score=5.0, level="reference")
    grade = _grader(session_settings, [right, wrong]).score(
        q, "Dropout permanently deletes some neurons so the network is smaller when you deploy it.")
    assert grade.anchors[0].level == "misconception"
    first = grade.improvements[0]
    assert first.startswith("Closest to a common misconception, that dropout permanently removes neurons")
    assert "in fact, dropout zeroes random units only during training" in first


def test_a_question_without_anchors_is_graded_as_before(bank, session_settings):
    q = bank.get("guide-22")
    answer = "Dropout zeroes random activations while training."
    zero = Grader(toy_llm(), settings=session_settings, anchors=AnchorBook()).score(q, answer)
    assert zero.anchors == [] and "grader_score" not in zero.features
    other = Grader(toy_llm(), settings=session_settings,
                   anchors=AnchorBook({"guide-14": [_anchor(5.0).model_copy(update={"question_id": "guide-14"})]}))
    assert other.score(q, answer).score == zero.score
