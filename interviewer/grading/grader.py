"""Rubric grading: screen -> embedding evidence -> one short judgement, read as probabilities -> score in code ->
feedback from the verdicts.

The model's judgement decides the grade: the expected credit of the key points and the expected correctness level,
with contradiction as a verdict of its own, so a confident wrong claim pulls the score down. Embedding similarity is
the second signal (and picks the quotes). See `interviewer.grading.score` for the formula and what its weights mean.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from interviewer.bank.anchors import Anchor
from interviewer.bank.bank import Question
from interviewer.settings import Settings, get_settings
from interviewer.grading import evidence as ev
from interviewer.grading import feedback as fb
from interviewer.grading.anchor_book import AnchorBook, AnchorScores
from interviewer.grading.anchored import AnchoredResult, anchored_score, nearest
from interviewer.grading.cache import JsonlCache, text_key
from interviewer.grading.judge import (DIGITS, Judgement, judge, judge_messages, prefix_messages, rubric_kind,
                                       verdict_letters)
from interviewer.grading.keypoints import derive
from interviewer.grading.grade import AnchorMatch, CriterionScore, Grade, KeyPointResult
from interviewer.grading.choices import expected, one_hot
from interviewer.grading.score import grounded_features, judge_features, load_calibration
from interviewer.grading.screen import normalise, screen
from interviewer.llm.base import LLM, LLMError
from interviewer.prompts import load_rubric, load_verdicts

GRADER_VERSION = "grader-2"  # bump when a code change alters a zero-anchor score (it keys the anchors' scores)
HINT_CAPS = (3.5, 2.5)  # the score's ceiling after one hint (a nudge), and after two (a pointer at the mechanism)
# Judgements kept in memory by prompt: the quick score and the full grade of one answer, a regrade after a resume,
# and repeated answers ("I don't know") ask the model once; a few hundred entries of ~1 kB cover a long session.
RECENT_JUDGEMENTS = 256
SHOWN_NEIGHBOURS = 3  # the nearest anchors a grade keeps (level, score, similarity, weight; never a person's text)
# Without a model, a key point this close to an answer sentence counts as stated (or partly): evidence-only statuses.
EVIDENCE_STATED, EVIDENCE_PARTLY = 0.6, 0.45
_PROMPT_FILES = ("grade.md", "grade_user.md", "rubric.yaml", "keypoints.md", "keypoints_user.md", "schema_repair.md")


def _status_of() -> dict[str, str]:
    return {v["letter"]: v["status"] for v in load_verdicts()}


def _credit() -> dict[str, float]:
    return {v["letter"]: float(v["credit"]) for v in load_verdicts()}


def _contradicted() -> str:
    return next(v["letter"] for v in load_verdicts() if v["status"] == "contradicted")


def authored_anchors(settings: Settings) -> dict[str, list[Anchor]]:
    """The bank's authored anchors, the references included (read once per knowledge folder)."""
    return _authored(settings.knowledge_dir)


@lru_cache(maxsize=4)
def _authored(knowledge_dir: Path) -> dict[str, list[Anchor]]:
    from interviewer.bank.anchors import load_anchors
    from interviewer.bank.bank import load_bank

    return load_anchors(knowledge_dir, load_bank(knowledge_dir))


class Grader:
    def __init__(self, llm: LLM | None, store=None, settings: Settings | None = None,
                 judge_cache: JsonlCache | None = None, anchors: AnchorBook | None = None) -> None:
        """`anchors`: where `score` finds a question's graded answers; by default the bank's authored ones (and the
        store's vectors of them). `score_item` takes its anchors as an argument instead."""
        self.llm = llm
        self.store = store
        self.settings = settings or get_settings()
        self.judge_cache = judge_cache  # judgements on disk: re-scoring costs no model calls
        self.calibration = load_calibration(self.settings.calibration, self.settings.data_dir)
        if not self.settings.anchors:
            anchors = AnchorBook()
        self.anchors = anchors if anchors is not None else AnchorBook(authored_anchors(self.settings), store=store)
        self.anchor_scores = AnchorScores(self.scorer_id, self.settings.data_dir)
        # Judgements made in this process, by exact prompt: an answer judged again (the same text, or the same text once
        # instructions to the grader are stripped) gets the same verdicts. Asking again would not be a repeat: the
        # server's KV cache is read along another path, and near ties can tip.
        self._recent: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """What a cached eval grade depends on: this package's code, the prompts and rubric, the calibration."""
        h = hashlib.sha256(GRADER_VERSION.encode())
        for path in sorted(Path(__file__).parent.glob("*.py")):
            h.update(path.read_bytes())
        for name in _PROMPT_FILES:
            path = self.settings.prompts_dir / name
            h.update(name.encode() + (path.read_bytes() if path.is_file() else b""))
        h.update(self.calibration.model_dump_json().encode())
        return f"{GRADER_VERSION}:{h.hexdigest()[:12]}"

    @property
    def scorer_id(self) -> str:
        """What a zero-anchor score depends on: the model, the prompts and rubric, the score formulas (code changes
        that alter it bump GRADER_VERSION). The anchors' own scores are kept under it."""
        h = hashlib.sha256(GRADER_VERSION.encode())
        for name in _PROMPT_FILES:
            path = self.settings.prompts_dir / name
            h.update(name.encode() + (path.read_bytes() if path.is_file() else b""))
        h.update(self.calibration.model_dump_json(include={"full", "judge", "evidence", "scale"}).encode())
        return f"{getattr(self.llm, 'cache_id', 'none')}|{h.hexdigest()[:12]}"

    # -- public API ------------------------------------------------------------------------------------------------
    @staticmethod
    def hint_cap(hints: int) -> float:
        return HINT_CAPS[min(hints, len(HINT_CAPS)) - 1]

    def score(self, question: Question, answer: str, *, hints: int = 0) -> Grade:
        """The grade of one answer to a bank question, feedback included (it needs no further model call).
        `hints`: how many hints the candidate took; each caps the score lower."""
        grade = self._score(question.id, question.question, question.reference_answer, list(question.key_points),
                            answer, kind=rubric_kind(question.tier), hints=hints,
                            anchors=self.anchors.anchors(question.id))
        grade.references = [f"{question.id}::reference"] + self._related(question)
        return grade


    def score_item(self, question: str, reference: str, answer: str, key_points: list[str] | None = None,
                   question_id: str = "adhoc", kind: str = "technical", fresh: bool = False,
                   anchors: list[Anchor] | None = None) -> Grade:
        """Any question and reference; key points are derived when none are given. fresh: ask the model again.
        `anchors`: graded answers to this question to read the answer against (none: the zero-anchor grade)."""
        points = key_points or derive(self.llm, question, reference, self.settings.data_dir).points
        return self._score(question_id, question, reference, points, answer, kind=kind, fresh=fresh,
                           anchors=anchors)

    def prepare(self, question: Question) -> None:
        """While the candidate is still thinking: the question's vectors, its anchors' vectors and the grader's own
        scores of them (made once per model and grader), and the judge prompt read up to the answer."""
        ev.question_vectors(question.question, question.reference_answer, tuple(question.key_points))
        anchors = self.anchors.anchors(question.id)
        if anchors:
            self.anchors.vectors(anchors)
            self._anchor_grader_scores(question.id, question.question, question.reference_answer,
                                       list(question.key_points), rubric_kind(question.tier), anchors)
        if self.llm is None or not self.llm.capabilities.grammar:  # a server with a prefix cache of its own
            return
        msgs = prefix_messages(rubric_kind(question.tier), question.question, question.reference_answer,
                               list(question.key_points))
        try:
            self.llm.complete(msgs, max_tokens=1)
        except LLMError:
            pass

    def stream_feedback(self, question: Question, answer: str, grade: Grade) -> Iterator[str]:
        """The feedback text, line by line (it is complete when the score is)."""
        for line in grade.feedback.splitlines(keepends=True):
            yield line

    def forget(self) -> None:
        """Drop the judgements remembered in this process (a fresh grade then asks the model again)."""
        with self._lock:
            self._recent.clear()

    # -- the steps ---------------------------------------------------------------------------------------------------
    def _related(self, question: Question) -> list[str]:
        if self.store is None:
            return []
        try:
            hits = self.store.search(question.question, k=self.settings.related_chunks, exclude_question=question.id)
        except Exception:  # grounding is a nicety; never fail a grade over it
            return []
        return [h.chunk_id for h in hits]

    def _score(self, qid: str, question: str, reference: str, key_points: list[str], answer: str, *, kind: str,
               hints: int = 0, fresh: bool = False, anchors: list[Anchor] | None = None) -> Grade:
        t0 = time.perf_counter()
        languages = self.llm.capabilities.languages if self.llm is not None else None
        s = screen(answer, self.settings.max_answer_chars, languages=frozenset(languages) if languages else None,
                   context=" ".join([question, reference, *key_points]))
        grade = Grade(question_id=qid, score=0.0, flags=list(s.flags), notes=list(s.notes), language=s.language,
                      calibration=self.calibration.name, backend=getattr(self.llm, "backend", "none"),
                      model=getattr(self.llm, "model", "none"))
        evidence = None
        if not s.is_void and s.language == "en":
            evidence = ev.gather(question, reference, key_points, s.text)
            grade.features = {k: round(v, 4) for k, v in evidence.features.items()}
            grade.latency_s["evidence"] = round(time.perf_counter() - t0, 3)
            if evidence.off_topic:
                grade.flags.append("off-topic")
                grade.notes.append("The answer does not address the question: nothing to grade.")
        if s.is_void or "off-topic" in grade.flags:
            return self._finish(grade, key_points, reference, kind, [None] * len(key_points), evidence, 0.0, t0)
        judgement = self._judgement(kind, question, reference, key_points, s.text, grade, fresh)
        if judgement is None:
            grade.evidence_only = True
            grade.notes.append("The language model was unavailable, so this grade uses embedding evidence only "
                               "(less reliable; re-grade later for full feedback).")
            if evidence is None:
                grade.notes.append("Without the model, an answer in another language cannot be graded yet.")
                return self._finish(grade, key_points, reference, kind, [None] * len(key_points), None, 0.0, t0)
            return self._finish(grade, key_points, reference, kind, self._evidence_points(evidence), evidence,
                                self.calibration.score(grade.features, "evidence"), t0, written=answer)
        feats = self._judge_features(judgement)
        if evidence is not None:
            feats.update(grounded_features(judgement.points, evidence.kp_sims, _credit()))
        grade.features.update({k: round(v, 4) for k, v in feats.items()})
        grade.judgement = judgement.source
        grade.latency_s["judge"] = judgement.seconds
        formula = "full" if evidence is not None else "judge"
        score = self.calibration.score({**grade.features, **feats}, formula)
        if anchors and evidence is not None and self.calibration.anchored is not None:
            t_anchors = time.perf_counter()
            result = self._anchored(qid, question, reference, key_points, kind, anchors, evidence, score)
            grade.latency_s["anchors"] = round(time.perf_counter() - t_anchors, 4)
            if result is not None:
                grade.features["grader_score"] = round(score, 4)
                grade.anchors = [AnchorMatch.of(n) for n in result.neighbours[:SHOWN_NEIGHBOURS]]
                score = result.score
        if hints:
            grade.hint_cap = self.hint_cap(hints)
            grade.notes.append(f"{hints} hint(s) used, so the score is capped at {grade.hint_cap:g}.")
            score = min(score, grade.hint_cap)
        return self._finish(grade, key_points, reference, kind, judgement.points, evidence, score, t0, judgement,
                            answer=s.text, written=answer)

    def _anchored(self, qid: str, question: str, reference: str, key_points: list[str], kind: str,
                  anchors: list[Anchor], evidence: ev.Evidence, score: float) -> AnchoredResult | None:
        """The score read against the nearest anchors (`anchored.py`); None when none could be used."""
        params = self.calibration.anchored
        vectors = self.anchors.vectors(anchors)
        order, sims = nearest(np.asarray(evidence.vector, dtype=np.float32), vectors, params.k)
        near = [anchors[int(i)] for i in order]
        scores = self._anchor_grader_scores(qid, question, reference, key_points, kind, near)
        usable = [i for i, g in enumerate(scores) if g is not None]
        if not usable:
            return None
        return anchored_score(score, [near[i] for i in usable], sims[usable], [scores[i] for i in usable], params)

    def _anchor_grader_scores(self, qid: str, question: str, reference: str, key_points: list[str], kind: str,
                              anchors: list[Anchor]) -> list[float | None]:
        """The grader's own zero-anchor score of each anchor: kept, else made now (None where the model failed: a
        score without the model is not the one the answer's is compared with, and is not kept)."""
        out: list[float | None] = []
        for a in anchors:
            known = self.anchor_scores.get(a)
            if known is None:
                grade = self._score(qid, question, reference, key_points, a.text, kind=kind)
                if grade.evidence_only:
                    out.append(None)
                    continue
                known = grade.score
                self.anchor_scores.put(a, known)
            out.append(known)
        return out

    def _judge_features(self, judgement: Judgement) -> dict[str, float]:
        return judge_features(judgement.points, judgement.levels, _credit(), _contradicted())

    def _judgement(self, kind: str, question: str, reference: str, key_points: list[str], answer: str, grade: Grade,
                   fresh: bool) -> Judgement | None:
        if self.llm is None:
            return None
        msgs = judge_messages(kind, question, reference, key_points, answer)
        key = text_key(GRADER_VERSION, self.llm.cache_id, json.dumps(msgs, sort_keys=True))
        if not fresh:
            with self._lock:
                known = self._recent.get(key)
            if known is None and self.judge_cache is not None:
                known = (self.judge_cache.get(key) or {}).get("judgement")
            if known is not None:
                grade.latency_s["judge_replayed"] = 1.0
                return Judgement.model_validate(known)
        try:
            judgement = judge(self.llm, msgs, kind, len(key_points))
        except LLMError as e:
            grade.notes.append(f"Model error: {e}")
            return None
        with self._lock:
            self._recent[key] = judgement.model_dump()
            self._recent.move_to_end(key)
            while len(self._recent) > RECENT_JUDGEMENTS:
                self._recent.popitem(last=False)
        if self.judge_cache is not None and not fresh:
            self.judge_cache.put(key, {"judgement": judgement.model_dump(exclude={"reply"})})
        return judgement

    def _evidence_points(self, evidence: ev.Evidence) -> list[dict[str, float]]:
        letters = {v["status"]: v["letter"] for v in load_verdicts()}
        out = []
        for sim in evidence.kp_sims:
            status = "covered" if sim >= EVIDENCE_STATED else "partly" if sim >= EVIDENCE_PARTLY else "missing"
            out.append(one_hot(letters[status], verdict_letters()))
        return out

    def _finish(self, grade: Grade, key_points: list[str], reference: str, kind: str, points, evidence, score: float,
                t0: float, judgement: Judgement | None = None, answer: str = "", written: str = "") -> Grade:
        """`answer` is the screened text the judge read; `written` what the candidate wrote. A quote is kept only
        where it is the candidate's own words (the screen may have cut an instruction out of the middle of a
        sentence, which would join words they never wrote side by side)."""
        status_of = _status_of()
        said = " ".join(normalise(written).split())
        results = []
        for i, point in enumerate(key_points):
            dist = points[i]
            status = status_of[max(dist, key=dist.get)] if dist else "missing"
            sim = evidence.kp_sims[i] if evidence is not None else 0.0
            quote = evidence.quotes[i] if evidence is not None and status != "missing" else None
            quote = quote if quote and " ".join(quote.split()) in said else None
            results.append(KeyPointResult(point=point, status=status, similarity=sim, quote=quote,
                                          probabilities={status_of[c]: round(p, 4) for c, p in (dist or {}).items()}))
        grade.key_points = results
        credit = _credit()
        coverage = float(np.mean([expected(d, credit) if d else 0.0 for d in points])) if points else 0.0
        grade.criteria = self._criteria(kind, judgement, coverage)
        grade.score = round(float(score), 2)
        whole = answer if answer and evidence is None and " ".join(answer.split()) in said else ""
        feedback = fb.write(grade, reference, whole)
        grade.strengths, grade.improvements = feedback.strengths, feedback.improvements
        grade.model_answer, grade.feedback = feedback.model_answer, feedback.text()
        grade.latency_s["score"] = round(time.perf_counter() - t0, 3)
        return grade

    def _criteria(self, kind: str, judgement: Judgement | None, coverage: float) -> list[CriterionScore]:
        out = []
        for c in load_rubric(kind):
            if c.get("computed"):
                value = 5 * max(0.0, coverage)
            elif judgement is not None and c["code"] in judgement.levels:
                value = expected(judgement.levels[c["code"]], {d: int(d) for d in DIGITS})
            else:
                continue  # no model rated it, and we do not invent it
            level = int(np.floor(value + 0.5))
            out.append(CriterionScore(name=c["name"], score=round(float(value), 2),
                                      justification=f"{level}/5: {c['levels'][level]}"))
        return out


__all__ = ["Grader"]
