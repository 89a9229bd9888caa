"""Answers off the question: the interviewer says what the answer was about and what the question asks, and asks
again, instead of following up on a claim that is off the question ("use a bigger learning rate", said to "What is
end-to-end learning?", drew a follow-up on learning rates). The redirect keeps the question open and sets the answer
aside (it is not graded; the next answer is), once per question.

An answer is off the question when the grader's judge credits none of its key points (none covered or partly), it is
not an unsure hedge (that gets a simpler stepping stone), and one of:
- the grader's evidence flags it off-topic;
- far from the question: its best similarity to the question's own store chunks (the question, the reference's
  pieces, the key points: the store's per-question score) is under ABOUT, and no sentence of it comes within
  KEY_POINT_NEAR of a key point (the grader's evidence);
- about another question: the store's nearest other bank question is ANOTHER_BY closer than this one, and no sentence
  comes within KEY_POINT_CLOSE of a key point.
On the labelled DL set (every answer, the embedded model's judgements replayed from the committed cache;
`python scripts/redirect_signals.py`) this redirects 38 of its 45 off-topic answers (most of the 7 kept answer a
namesake: batch normalization for batch gradient descent, forward chaining for forward propagation, a transfer
function for transfer learning), and of the others 0 of 111 misconceptions, 1 of 60 partial, 2 of 62 terse, 2 of 49
injections (both off the question) and none of the incomplete, excellent or padded ones.

The sentence names the nearest other question's concepts (or that question, when it shares a concept with this one:
"early stopping" to "what is dropout?" is about regularization too), else quotes the candidate; the last fallback uses only the question's words. The leak check reads what a line adds to
the question's ask (which restates the question, as any line may): read whole, a line that carries the whole ask sits
so close to the question that the check's meaning test rejects most additions to it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from interviewer.grading.grade import Grade
from interviewer.interview import conversation as conv
from interviewer.bank.bank import Question
from interviewer.bank.chunking import question_chunks
from interviewer.prompts import load_interview

ABOUT = 0.45            # an answer this similar to a question's best store chunk is about that question
KEY_POINT_NEAR = 0.45   # a sentence this close to a key point keeps the answer on the question (evidence's "partly")
ANOTHER_BY = 0.15       # the nearest other question this much closer than this one: the answer is about that one...
KEY_POINT_CLOSE = 0.55  # ...unless a sentence comes this close to a key point
MAX_REDIRECTS = 1       # a second answer off the question is graded as it is
OTHER_WORDS = 14        # the other question, when named, is cut to this many words
TOPIC_COUNT = 2         # concepts named at most

TOPICS: dict[str, str] = load_interview()["topics"]
Reason = Literal["flagged", "far", "another question"]


class OffQuestion(BaseModel):
    """Why an answer is off the question, and what it is closest to instead."""

    reason: Reason
    closeness: float | None = Field(default=None, description="best similarity to the question's own chunks")
    key_point: float = Field(default=0.0, description="the closest any sentence comes to a key point")
    other_id: str | None = None
    other_question: str | None = None
    other_concepts: list[str] = Field(default_factory=list)
    other_score: float | None = None


def credited(grade: Grade) -> bool:
    return any(k.status in ("covered", "partly") for k in grade.key_points)


def topic_name(concept: str) -> str:
    return TOPICS.get(concept, concept.replace("-", " "))


class Topics:
    """How close an answer comes to its question (in memory, from the question's chunks) and which other bank
    question it comes closest to (the store's search). Without embeddings only the grader's off-topic flag counts;
    without the store the redirect names no other question. A failure is kept, not retried per answer; a store still
    being built is asked again."""

    def __init__(self, embed: conv.Embed | None, store=None, bank: dict[str, Question] | None = None) -> None:
        self.embed, self.store, self.bank = embed, store, bank or {}
        self.error: str | None = None
        self._chunks: dict[str, np.ndarray] = {}

    def closeness(self, answer: str, q: Question) -> float | None:
        if self.embed is None:
            return None
        try:
            if q.id not in self._chunks:
                self._chunks[q.id] = self.embed([c.text for c in question_chunks(q)])
            vec = self.embed([answer])[0]
        except Exception as e:  # noqa: BLE001 - remembered: the off-topic flag still counts
            self.embed, self.error = None, f"{type(e).__name__}: {e}"
            return None
        return float(np.max(self._chunks[q.id] @ vec))

    def nearest_other(self, answer: str, q: Question):
        if self.store is None:
            return None
        try:
            hits = self.store.search(answer, k=1, exclude_question=q.id)
        except Exception as e:  # noqa: BLE001 - a store still opening is asked again; any other failure is kept
            opening = getattr(self.store, "opening", None)
            if opening is None or opening.done():
                self.store, self.error = None, f"{type(e).__name__}: {e}"
            return None
        return hits[0] if hits else None

    def off_question(self, answer: str, grade: Grade, q: Question) -> OffQuestion | None:
        """Why the answer is off the question, or None when it is on it (or nothing can tell)."""
        if credited(grade) or conv.unsure(answer):
            return None
        flagged = "off-topic" in grade.flags
        if not flagged and "emb_qr" not in grade.features:
            return None  # no embedding evidence (an answer in another language): nothing to tell the topic by
        closeness = self.closeness(answer, q)
        if closeness is None and not flagged:
            return None
        near = max((k.similarity for k in grade.key_points), default=0.0)
        other = self.nearest_other(answer, q)
        if flagged:
            reason: Reason = "flagged"
        elif closeness < ABOUT and near < KEY_POINT_NEAR:
            reason = "far"
        elif other is not None and other.score - closeness >= ANOTHER_BY and near < KEY_POINT_CLOSE:
            reason = "another question"
        else:
            return None
        found = self.bank.get(other.question_id) if other is not None else None
        return OffQuestion(reason=reason, closeness=closeness, key_point=near,
                           other_id=other.question_id if other else None,
                           other_question=found.question if found else None,
                           other_concepts=list(found.concepts if found else other.concepts if other else []),
                           other_score=other.score if other else None)


def _short(text: str, words: int = OTHER_WORDS) -> str:
    cut = text.split()
    return text.strip() if len(cut) <= words else " ".join(cut[:words]).rstrip(",;:") + "..."


def lines(off: OffQuestion, q: Question, answer: str) -> list[str]:
    """The redirect, strongest first: what the answer was about (the nearest other question's concepts, or that
    question, else the candidate's words) and what the question asks; the last uses only the question's words."""
    said, ask = conv.REDIRECT, conv.asked(q.question)
    out = []
    if off.other_id and (off.other_score or 0.0) >= ABOUT:
        if off.other_question and set(off.other_concepts) & set(q.concepts):  # a neighbour: named by its question
            out.append(said["other"].format(other=_short(off.other_question), ask=ask))
        elif not set(off.other_concepts) & set(q.concepts):
            topic = " and ".join(topic_name(c) for c in off.other_concepts[:TOPIC_COUNT])
            out.append(said["topic"].format(topic=topic, ask=ask))
    if quote := conv.pick_quote(answer, q.question):
        out.append(said["quote"].format(quote=quote, ask=ask))
    out.append(said["plain"].format(ask=ask))
    return [f"{line} {said['again']}" for line in out]


def beyond_the_question(line: str, q: Question) -> str:
    """What a redirect says besides the question's own ask: the part the leak check reads."""
    return line.replace(conv.asked(q.question), " ")


def choose(options: list[str], check: conv.LeakCheck, q: Question, answer: str) -> str:
    """The first option whose addition to the question gives no key point away; the last (the question's words
    alone) otherwise."""
    secrets = conv.secrets_of(q.reference_answer, q.key_points)
    for line in options[:-1]:
        if not check.leaks(beyond_the_question(line, q), secrets, q.question, answer):
            return line
    return options[-1]
