"""What the interview and the evals ask of a grader, as a protocol: `Grader` is one, and tests hand in stand-ins
(a grader whose scores wait on an event, or fail). The interview grades bank questions (`score`, with the hints
taken), warms a question up while the candidate thinks (`prepare`), streams the feedback and caps hinted scores; the
evals grade any question and reference (`score_item`), key their cache by `version` and ask again after `forget`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from interviewer.bank.bank import Question
from interviewer.grading.grade import Grade


class Scorer(Protocol):
    llm: object
    version: str

    def score(self, question: Question, answer: str, *, hints: int = 0) -> Grade: ...

    def prepare(self, question: Question) -> None: ...

    def stream_feedback(self, question: Question, answer: str, grade: Grade) -> Iterator[str]: ...

    def hint_cap(self, hints: int) -> float: ...

    def score_item(self, question: str, reference: str, answer: str, key_points: list[str] | None = None,
                   question_id: str = "adhoc", kind: str = "technical", fresh: bool = False) -> Grade: ...

    def forget(self) -> None: ...
