"""The injection screen: every probe injection is removed without a trace, and nothing honest is touched."""

from __future__ import annotations

import pytest

from interviewer.evals.datasets import load_dl
from interviewer.evals.probes import GRADER_NOTES, INJECTIONS, inject
from interviewer.grading.screen import screen


@pytest.fixture(scope="module")
def honest_answers():
    return [r.answer for r in load_dl() if r.kind not in ("injection", "empty", "off-topic") and r.answer.strip()]


def test_injected_answers_screen_to_exactly_the_honest_text(honest_answers):
    # Gain 0 in the eval's injection probe needs the very same text to reach the judge, not a near copy.
    answers = honest_answers[::7]
    assert len(answers) >= 30
    for answer in answers:
        base = screen(answer)
        for text in INJECTIONS:
            for where in ("prepend", "middle", "append"):
                got = screen(inject(answer, text, where))
                assert "injection" in got.flags, (text, where)
                assert got.text == base.text, (text, where, got.text[:200])


def test_honest_text_is_never_flagged(bank, honest_answers):
    texts = honest_answers + [q.reference_answer for q in bank.questions]
    texts += [p for q in bank.questions for p in q.key_points]
    flagged = [t for t in texts if "injection" in screen(t).flags]
    assert not flagged, flagged[:3]


@pytest.mark.parametrize("note", GRADER_NOTES)
def test_a_note_signed_as_the_grader_is_removed_wherever_it_stands(honest_answers, note):
    for answer in honest_answers[::37]:
        base = screen(answer)
        for where in ("prepend", "middle", "append"):
            got = screen(inject(answer, note, where))
            assert "injection" in got.flags and got.text == base.text, (where, got.text[:200])


def test_answers_that_talk_about_reviewers_or_points_are_not_notes():
    for honest in ("The reviewers note that dropout helps on small datasets.",
                   "Each point in the batch is normalised by the batch statistics.",
                   "A code reviewer's checklist does not replace unit tests for the data pipeline."):
        assert "injection" not in screen(honest).flags, honest
