"""Rubric grading: screen -> embedding evidence -> one short LLM judgement -> score computed in code -> streamed prose.

Why this shape: a naive "score 0-5" prompt to the small local model tracks humans worse than embedding similarity,
so the score combines evidence (per-key-point similarity, the model's per-key-point verdicts, rubric levels) with
weights fitted on the project's own labelled data (interviewer/calibration.json, see `interviewer calibrate`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, conint, create_model

from interviewer.bank import Question
from interviewer.config import Settings, get_settings
from interviewer.embeddings import get_embedder
from interviewer.grade_models import CriterionScore, Grade, KeyPointResult
from interviewer.guard import screen
from interviewer.judgecache import judge_key
from interviewer.llm import LLM, LLMError, parse_json
from interviewer.prompts import load_prompt, load_rubric

GRADER_VERSION = "grader-1"
CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
# Each judge format has its own fitted weights: the features come from different replies.
# How each format spaces its JSON: the prompt's example, the grammar and the replayed reply must all agree.
JSON_SEPARATORS = {"json": (", ", ": "), "compact": (",", ":")}
CALIBRATION_FILES = {"json": CALIBRATION_FILE, "compact": Path(__file__).with_name("calibration-compact.json")}
VERDICT_VALUE = {"yes": 1.0, "partly": 0.5, "no": 0.0}
STATUS = {"yes": "covered", "partly": "partly", "no": "missing"}
LETTER = {"y": "yes", "p": "partly", "n": "no"}
OFF_TOPIC_SIM = 0.12  # answer-vs-(question+reference) cosine below which, with no key point near, the answer is off-topic
KP_SIM_FLOOR = 0.30   # a key point whose best answer sentence is below this has no supporting quote
_SENT = re.compile(r"(?<=[.!?;])\s+|\n+")

# Features, in the order the calibration weights use them.
# kp_x_correct: topical similarity only counts as far as the model judged the content correct (a fluent wrong answer
# on the right topic is close in embedding space; this product is not).
FULL_FEATURES = ("kp_llm", "criteria_llm", "correct_llm", "kp_x_correct", "emb_ref", "emb_kp_mean", "emb_kp_cov")
EVIDENCE_FEATURES = ("emb_ref", "emb_kp_mean", "emb_kp_cov")
DEFAULT_CALIBRATION = {
    # Hand-set until `interviewer calibrate` fits them on evals/datasets/dl (calib split only).
    "full": {"intercept": -0.4, "weights": {"kp_llm": 2.6, "criteria_llm": 2.2, "emb_ref": 0.0, "emb_kp_mean": 0.6,
                                             "emb_kp_cov": 0.4}},
    "evidence": {"intercept": -1.2, "weights": {"emb_ref": 2.0, "emb_kp_mean": 4.0, "emb_kp_cov": 1.5}},
    "fitted_on": None,
}


@lru_cache(maxsize=2)
def load_calibration(judge_format: str = "json") -> dict:
    path = CALIBRATION_FILES[judge_format]
    if path.exists():
        return json.loads(path.read_text())
    return DEFAULT_CALIBRATION


def combine(features: dict[str, float], kind: str, judge_format: str = "json") -> float:
    cal = load_calibration(judge_format)[kind]
    raw = cal["intercept"] + sum(w * features.get(name, 0.0) for name, w in cal["weights"].items())
    return float(np.clip(raw, 0.0, 5.0))


def rubric_kind(question: Question) -> str:
    return "scenario" if question.tier == "scenario" else "technical"


def asked_criteria(kind: str, judge_format: str = "json") -> list[dict]:
    """The criteria the model rates: not the computed ones, and in the compact format only those the score uses."""
    return [c for c in load_rubric(kind) if not c.get("computed")
            and (judge_format == "json" or c.get("compact", True))]


@lru_cache(maxsize=64)
def judge_schema(kind: str, n_points: int, judge_format: str = "json") -> type[BaseModel]:
    """The model's compact reply: "1".."n" = y/p/n per numbered key point, then a 0-5 integer per criterion code.

    Output tokens dominate latency on a CPU, so keys and values are short; numbered keys keep the small model aligned
    with the numbered key points (one string of letters made it repeat a fixed pattern). The compact format drops the
    criteria the score does not use, and on llama.cpp a grammar removes the whitespace (~22 tokens instead of ~42).
    """
    fields = {f"k{i}": (Literal["y", "p", "n"], Field(alias=str(i))) for i in range(1, n_points + 1)}
    for c in asked_criteria(kind, judge_format):
        fields[c["code"]] = (conint(ge=0, le=5), Field(...))
    return create_model(f"Judge_{kind}_{n_points}_{judge_format}", **fields)


# One-pass feedback: after the compact judge reply the grammar forces these headings (the ones parse_feedback reads),
# and the model fills them in, in the same generation: no second prompt to read before the first word of feedback.
FEEDBACK_HEADING = "Strengths:"  # where the shown feedback starts
# "Feedback:" steers the model to write to the candidate (measured: without it, it rambles about the rubric).
FEEDBACK_LEAD = f"\n\nFeedback:\n{FEEDBACK_HEADING} "
FEEDBACK_IMPROVE = "\nTo improve:\n"
FEEDBACK_TOKENS = 260


def _gbnf_literal(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid GBNF literal for this text


@lru_cache(maxsize=64)
def compact_grammar(kind: str, n_points: int, feedback: bool = False) -> str:
    """llama.cpp GBNF for the compact reply with no whitespace at all: ~22 output tokens instead of ~42-48.

    feedback=True continues the same reply with Strengths and 1-4 To-improve bullets (one-pass feedback).
    """
    parts = [f'"\\"{i}\\":\\"" [ypn] "\\""' for i in range(1, n_points + 1)]
    parts += [f'"\\"{c["code"]}\\":" [0-5]' for c in asked_criteria(kind, "compact")]
    judge = '"{" ' + ' "," '.join(parts) + ' "}"'
    if not feedback:
        return f"root ::= {judge}"
    return f"root ::= {judge} {_gbnf_literal(FEEDBACK_LEAD)} {_FEEDBACK_BODY}"


# Strengths line, then 1-4 To-improve bullets (the sections parse_feedback reads); the model answer is the bank's.
_FEEDBACK_BODY = (f"line {_gbnf_literal(FEEDBACK_IMPROVE)} item (item (item item?)?)?\n"
                  'line ::= [^\\n]+\n'
                  'item ::= "- " [^\\n]+ "\\n"')


def feedback_grammar() -> str:
    """The feedback as a turn of its own, in the same shape and with the same steering line as one-pass feedback."""
    return f"root ::= {_gbnf_literal(FEEDBACK_LEAD.lstrip())} {_FEEDBACK_BODY}"


def split_sentences(text: str) -> list[str]:
    parts = [s.strip() for s in _SENT.split(text) if len(s.strip()) > 2]
    # Long run-on answers: also window on ~25 words so a quote can be found inside a paragraph.
    out = []
    for s in parts or [text]:
        words = s.split()
        if len(words) <= 40:
            out.append(s)
        else:
            out.extend(" ".join(words[i:i + 25]) for i in range(0, len(words), 20))
    return out[:60]


@lru_cache(maxsize=512)
def _question_vectors(question: str, reference: str, key_points: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Every answer to one question shares these: embed them once (reference, question + reference, key points)."""
    vecs = get_embedder().embed([reference, f"{question} {reference}", *key_points])
    return vecs[0], vecs[1], vecs[2:]


class Evidence(BaseModel):
    features: dict[str, float]
    kp_sims: list[float]
    quotes: list[str | None]


def gather_evidence(question: str, reference: str, key_points: list[str], answer: str) -> Evidence:
    sentences = split_sentences(answer)
    vecs = get_embedder().embed([answer, *sentences])
    a, s_vecs = vecs[0], vecs[1:]
    ref_vec, qr, kp_vecs = _question_vectors(question, reference, tuple(key_points))
    sims = kp_vecs @ s_vecs.T if len(s_vecs) else np.zeros((len(key_points), 1))
    best = sims.max(axis=1)
    quotes = [sentences[int(np.argmax(row))] if best[i] >= KP_SIM_FLOOR and sentences else None
              for i, row in enumerate(sims)]
    feats = {
        "emb_ref": float(a @ ref_vec),
        "emb_qr": float(a @ qr),
        "emb_kp_mean": float(best.mean()) if len(best) else 0.0,
        "emb_kp_cov": float((best >= 0.5).mean()) if len(best) else 0.0,
    }
    return Evidence(features=feats, kp_sims=[round(float(x), 4) for x in best], quotes=quotes)


def _criteria_lines(kind: str, judge_format: str = "json") -> tuple[str, str]:
    asked = asked_criteria(kind, judge_format)
    lines = "\n".join(f"  - {c['code']} = {c['name']}: {c['question']}" for c in asked)
    # A placeholder, not sample numbers: a small model copies concrete examples into its reply.
    sep, colon = JSON_SEPARATORS[judge_format]
    example = sep.join(f'"{c["code"]}"{colon}<0-5>' for c in asked)
    return lines, example


def shows_reference(reference: str) -> bool:
    """A short reference goes into the judge prompt as well as the key points; a long one would only slow it down."""
    return len(reference.split()) <= 60


def judge_messages(kind: str, question: str, reference: str, key_points: list[str], answer: str,
                   include_reference: bool, judge_format: str = "json") -> list[dict]:
    """Rubric and instructions first, then question and key points, the answer last: llama.cpp reuses the prefix."""
    criteria, example = _criteria_lines(kind, judge_format)
    if judge_format == "json":
        system = load_prompt("grade", criteria=criteria, criteria_example=example)
    else:
        asked = asked_criteria(kind, judge_format)
        rate = asked[0]["name"] if len(asked) == 1 else "each criterion"
        system = load_prompt("grade_compact", criteria=criteria, criteria_example=example, rate=rate)
    ref = f"REFERENCE ANSWER: {reference}\n" if include_reference else ""
    user = load_prompt("grade_user", question=question, reference=ref, n_points=len(key_points),
                       key_points="\n".join(f"{i}. {p}" for i, p in enumerate(key_points, 1)), answer=answer)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class PendingFeedback:
    """The prose part of a one-pass judge reply, still streaming. Iterate once; close() stops the generation."""

    def __init__(self, head: str, stream: Iterator[str], on_done) -> None:
        self.head, self.stream, self.on_done, self.done = head, stream, on_done, False

    def __iter__(self) -> Iterator[str]:
        try:
            if self.head:
                yield self.head
            yield from self.stream
        finally:
            self.close()

    def close(self) -> None:
        if not self.done:
            self.done = True
            self.stream.close()  # closing the HTTP stream makes llama.cpp's server stop generating
            self.on_done()

    def __del__(self) -> None:
        self.close()


class Grader:
    def __init__(self, llm: LLM | None, store=None, settings: Settings | None = None, judge_cache=None) -> None:
        self.llm = llm
        self.store = store
        self.settings = settings or get_settings()
        self.judge_cache = judge_cache  # a JudgeCache: re-scoring costs no model calls
        self.judge_format = self.settings.judge_format
        self._kp_lock = threading.Lock()
        # One-pass feedback streams still being written: llama.cpp's server cuts a stream short when another request
        # arrives, so the warm-up of the next question waits for them.
        self._idle = threading.Condition()
        self._open_streams = 0
        # Judgements made in this process, by exact prompt: an answer judged again (the same text, or the same text once
        # instructions to the grader are stripped) gets the same verdicts. Asking again would not be a repeat: the
        # server's KV cache is read along another path, and near ties can tip.
        self._recent: OrderedDict[str, dict] = OrderedDict()
        self._recent_lock = threading.Lock()

    def _stream_done(self) -> None:
        with self._idle:
            self._open_streams -= 1
            self._idle.notify_all()

    def discard_feedback(self, grade: Grade) -> None:
        """The caller will not show this grade's feedback (e.g. it asks a follow-up instead): stop writing it."""
        pending, grade._feedback_stream = grade._feedback_stream, None
        if pending is not None:
            pending.close()

    @property
    def calibration_file(self) -> Path:
        return CALIBRATION_FILES[self.judge_format]

    @property
    def variant(self) -> str:
        """Part of the eval cache's grader version: grades from the two judge formats never mix."""
        return "" if self.judge_format == "json" else self.judge_format

    # -- public API ------------------------------------------------------------------------------------------------
    def score(self, question: Question, answer: str, *, hint_used: bool = False, feedback: bool = False) -> Grade:
        """feedback=True: the caller will call stream_feedback next, so the judge may start writing it right away."""
        return self._score(question.id, question.question, question.reference_answer, list(question.key_points),
                           answer, kind=rubric_kind(question), hint_used=hint_used, related=self._related(question),
                           feedback=feedback)

    def score_item(self, question: str, reference: str, answer: str, key_points: list[str] | None = None,
                   question_id: str = "adhoc", kind: str = "technical") -> Grade:
        points = key_points or self.derive_key_points(question, reference)
        return self._score(question_id, question, reference, points, answer, kind=kind)

    def grade(self, question: Question, answer: str, *, hint_used: bool = False) -> Grade:
        g = self.score(question, answer, hint_used=hint_used, feedback=True)
        for _ in self.stream_feedback(question, answer, g):
            pass
        return g

    def prepare(self, question: Question) -> None:
        """Evaluate the judge prompt up to the answer once, while the candidate is still thinking."""
        _question_vectors(question.question, question.reference_answer, tuple(question.key_points))
        if self.llm is None or self.llm.backend != "local":
            return
        with self._idle:
            self._idle.wait_for(lambda: self._open_streams == 0, timeout=self.settings.request_timeout_s)
        msgs = judge_messages(rubric_kind(question), question.question, question.reference_answer,
                              list(question.key_points), "",
                              include_reference=shows_reference(question.reference_answer),
                              judge_format=self.judge_format)
        user = msgs[-1]["content"]
        msgs[-1]["content"] = user[:user.rindex("<answer>\n") + len("<answer>\n")]  # all the real prompt shares
        try:
            self.llm.complete(msgs, max_tokens=1)
        except LLMError:
            pass

    # -- the fast phase ----------------------------------------------------------------------------------------------
    def _related(self, question: Question) -> list[str]:
        if self.store is None:
            return []
        try:
            hits = self.store.search(question.question, k=self.settings.related_chunks, exclude_question=question.id)
        except Exception:  # grounding is a nicety; never fail a grade over it
            return []
        return [h.chunk_id for h in hits]

    def _score(self, qid: str, question: str, reference: str, key_points: list[str], answer: str, *, kind: str,
               hint_used: bool = False, related: list[str] | None = None, feedback: bool = False) -> Grade:
        t0 = time.perf_counter()
        s = screen(answer, self.settings.max_answer_chars)
        grade = Grade(question_id=qid, score=0.0, flags=list(s.flags), notes=list(s.notes),
                      references=[f"{qid}::reference"] + (related or []),
                      backend=getattr(self.llm, "backend", "none"), model=getattr(self.llm, "model", "none"))
        if s.is_void:
            grade.key_points = [KeyPointResult(point=p, status="missing", similarity=0.0) for p in key_points]
            grade.criteria = self._criteria(kind, {c["name"]: 0 for c in load_rubric(kind)}, key_points_cov=0.0)
            grade.latency_s["score"] = round(time.perf_counter() - t0, 3)
            return grade
        ev = gather_evidence(question, reference, key_points, s.text)
        grade.features = {k: round(v, 4) for k, v in ev.features.items()}
        grade.latency_s["evidence"] = round(time.perf_counter() - t0, 3)
        if ev.features["emb_qr"] < OFF_TOPIC_SIM and max(ev.kp_sims, default=0) < KP_SIM_FLOOR:
            grade.flags.append("off-topic")
            grade.notes.append("The answer does not address the question: nothing to grade.")
            grade.key_points = [KeyPointResult(point=p, status="missing", similarity=sim)
                                for p, sim in zip(key_points, ev.kp_sims)]
            grade.criteria = self._criteria(kind, {c["name"]: 0 for c in load_rubric(kind)}, key_points_cov=0.0)
            grade.latency_s["score"] = round(time.perf_counter() - t0, 3)
            return grade
        verdicts, levels = self._judge(kind, question, reference, key_points, s.text, grade, feedback=feedback)
        if verdicts is None:
            grade.evidence_only = True
            grade.notes.append("The language model was unavailable, so this grade uses embedding evidence only "
                               "(less reliable; re-grade later for full feedback).")
            verdicts = ["yes" if sim >= 0.6 else "partly" if sim >= 0.45 else "no" for sim in ev.kp_sims]
            score = combine(ev.features, "evidence", self.judge_format)
            levels = {}
        else:
            feats = dict(ev.features)
            feats["kp_llm"] = float(np.mean([VERDICT_VALUE[v] for v in verdicts]))
            feats["criteria_llm"] = float(np.mean(list(levels.values()))) / 5.0 if levels else feats["kp_llm"]
            feats["correct_llm"] = levels["correctness"] / 5.0 if "correctness" in levels else feats["criteria_llm"]
            feats["kp_x_correct"] = feats["emb_kp_mean"] * feats["correct_llm"]
            grade.features.update({k: round(feats[k], 4) for k in ("kp_llm", "criteria_llm", "correct_llm",
                                                                    "kp_x_correct")})
            score = combine(feats, "full", self.judge_format)
        grade.key_points = [KeyPointResult(point=p, status=STATUS[v], similarity=sim,
                                           quote=q if v != "no" else None)
                            for p, v, sim, q in zip(key_points, verdicts, ev.kp_sims, ev.quotes)]
        cov = float(np.mean([VERDICT_VALUE[v] for v in verdicts])) if verdicts else 0.0
        grade.criteria = self._criteria(kind, levels, key_points_cov=cov)
        if hint_used:
            grade.hint_cap = 3.5
            grade.notes.append("A hint was used, so the score is capped at 3.5.")
            score = min(score, grade.hint_cap)
        grade.score = round(score, 2)
        grade.latency_s["score"] = round(time.perf_counter() - t0, 3)
        return grade

    def one_pass(self, feedback: bool) -> bool:
        """Judge and feedback in one generation: needs the compact format's grammar (llama.cpp) and a live model."""
        return (feedback and self.judge_format == "compact" and self.settings.one_pass_feedback
                and self._takes_grammar() and self.judge_cache is None)

    def _takes_grammar(self) -> bool:
        """A GBNF grammar in the request is honoured: the embedded llama.cpp server."""
        return self.llm is not None and self.llm.backend == "local"

    def _judge(self, kind, question, reference, key_points, answer, grade,
               feedback: bool = False) -> tuple[list[str] | None, dict]:
        if self.llm is None:
            return None, {}
        fmt = self.judge_format
        schema = judge_schema(kind, len(key_points), fmt)
        msgs = judge_messages(kind, question, reference, key_points, answer,
                              include_reference=shows_reference(reference), judge_format=fmt)
        grammar = compact_grammar(kind, len(key_points)) if fmt == "compact" else None
        t = time.perf_counter()
        key = judge_key(getattr(self.llm, "cache_id", self.llm.model), msgs)
        data = self.judge_cache.get(key) if self.judge_cache is not None else None
        if data is None:
            with self._recent_lock:
                data = self._recent.get(key)
        if data is None and self.one_pass(feedback):
            data = self._judge_then_feedback(msgs, schema, kind, len(key_points), grade)
            if data is not None:
                grade.latency_s["judge"] = round(time.perf_counter() - t, 3)
                self._remember(key, {**data, "_seconds": grade.latency_s["judge"]})
        if data is None:
            try:
                data = self.llm.structured(msgs, schema, max_tokens=30 + 6 * len(key_points),
                                           grammar=grammar).model_dump(by_alias=True)
            except LLMError as e:
                grade.notes.append(f"Model error: {e}")
                return None, {}
            # The reply as the model wrote it (same keys, order and spacing): the feedback turn reuses its KV cache.
            reply = json.dumps(data, ensure_ascii=False, separators=JSON_SEPARATORS[fmt])
            grade._judge_turn = msgs + [{"role": "assistant", "content": reply}]
            data["_seconds"] = round(time.perf_counter() - t, 3)
            if self.judge_cache is not None:
                self.judge_cache.put(key, data)
            self._remember(key, data)
            grade.latency_s["judge"] = data["_seconds"]
        elif "judge" not in grade.latency_s:  # replayed: report the time the model took when it was asked
            grade.latency_s["judge"] = data.get("_seconds", 0.0)
            grade.latency_s["judge_replayed"] = 1.0
        data = {k: v for k, v in data.items() if not k.startswith("_")}
        verdicts = [LETTER[data.pop(str(i))] for i in range(1, len(key_points) + 1)]
        names = {c.get("code"): c["name"] for c in load_rubric(kind)}
        return verdicts, {names[k]: int(v) for k, v in data.items() if k in names}

    def forget(self) -> None:
        """Drop the judgements remembered in this process (a fresh grade then asks the model again)."""
        with self._recent_lock:
            self._recent.clear()

    def _remember(self, key: str, data: dict) -> None:
        with self._recent_lock:
            self._recent[key] = data
            self._recent.move_to_end(key)
            while len(self._recent) > 256:
                self._recent.popitem(last=False)

    def _judge_then_feedback(self, msgs, schema, kind: str, n_points: int, grade: Grade) -> dict | None:
        """Stream one reply: the compact JSON, then (same generation) the feedback prose, kept open on the grade.

        The judge tokens are the ones the score-only grammar gives (same prompt, greedy, and the grammars agree up to
        the closing brace), so calibration and evals, which score without feedback, hold for this path too.
        None: fall back to the plain judge call.
        """
        stream = self.llm.stream(msgs, max_tokens=30 + 6 * n_points + FEEDBACK_TOKENS, temperature=0.0,
                                 grammar=compact_grammar(kind, n_points, feedback=True))
        text = ""
        try:
            for piece in stream:
                text += piece
                if "}" in text:
                    break
            head, brace, rest = text.partition("}")
            data = parse_json(head + brace, schema).model_dump(by_alias=True)
        except (LLMError, ValueError, ValidationError):
            stream.close()
            return None

        grade._feedback_stream = PendingFeedback(rest, stream, self._stream_done)
        with self._idle:
            self._open_streams += 1
        return data

    def _criteria(self, kind: str, levels: dict, key_points_cov: float) -> list[CriterionScore]:
        out = []
        for c in load_rubric(kind):
            if c.get("computed"):
                value = round(5 * key_points_cov)
            elif c["name"] in levels:
                value = int(levels[c["name"]])
            else:
                continue  # evidence-only: the model did not rate it, and we do not invent it
            out.append(CriterionScore(name=c["name"], score=value,
                                      justification=f"{value}/5: {c['levels'][value]}"))
        return out

    # -- the prose phase -----------------------------------------------------------------------------------------------
    def stream_feedback(self, question: Question, answer: str, grade: Grade) -> Iterator[str]:
        t0 = time.perf_counter()
        pending, grade._feedback_stream = grade._feedback_stream, None
        if "empty" in grade.flags or "gibberish" in grade.flags or "off-topic" in grade.flags:
            text = ("Strengths: None yet.\nTo improve:\n- Answer the question asked; start from the definition and "
                    "then explain the mechanism.\nModel answer: " + question.reference_answer)
            yield from self._emit(text, grade, t0)
            return
        if self.llm is None or grade.evidence_only:
            yield from self._emit(self._templated_feedback(question, grade), grade, t0)
            return
        source = from_heading(pending, FEEDBACK_HEADING) if pending is not None else self._feedback_turn(
            self._feedback_messages(question, answer, grade))
        buf = []
        try:
            for piece in source:
                if not buf:
                    piece = piece.lstrip()  # the first token counted is the first one a reader sees
                    if not piece:
                        continue
                    grade.latency_s["feedback_first_token"] = round(time.perf_counter() - t0, 3)
                buf.append(piece)
                yield piece
        except LLMError as e:
            note = f"\n\n(Feedback was cut short: {e})\n"
            buf.append(note)
            yield note
        if not parse_feedback("".join(buf))["model_answer"]:
            # The bank's reference is the model answer: authored and checked, and no tokens to wait for.
            tail = f"\nModel answer: {question.reference_answer}"
            buf.append(tail)
            yield tail
        self._finish(grade, "".join(buf), question, t0)

    def _feedback_turn(self, messages: list[dict]) -> Iterator[str]:
        if self._takes_grammar():
            # A grammar makes the sections certain (sampled free text sometimes dropped "To improve:"); greedy, so
            # the server's fast grammar sampler and jump-forward apply, as on the one-pass path.
            return from_heading(self.llm.stream(messages, max_tokens=FEEDBACK_TOKENS, temperature=0.0,
                                                grammar=feedback_grammar()), FEEDBACK_HEADING)
        return self.llm.stream(messages, max_tokens=320, temperature=0.2)

    def _feedback_messages(self, question: Question, answer: str, grade: Grade) -> list[dict]:
        gaps = [f"- [{k.status}] {k.point}" for k in grade.key_points if k.status != "covered"][:4]
        if grade._judge_turn is not None:  # continue the judge conversation: its prompt is already in the KV cache
            return grade._judge_turn + [{"role": "user", "content": load_prompt(
                "feedback_followup", gaps="\n".join(gaps) or "- none: every key point was covered")}]
        verdicts = "\n".join(f"- [{k.status}] {k.point}" for k in grade.key_points)
        return [{"role": "system", "content": load_prompt("feedback")},
                {"role": "user", "content": load_prompt("feedback_user", question=question.question,
                                                        reference=question.reference_answer, verdicts=verdicts,
                                                        answer=screen(answer, self.settings.max_answer_chars).text)}]

    def _emit(self, text: str, grade: Grade, t0: float) -> Iterator[str]:
        grade.latency_s["feedback_first_token"] = round(time.perf_counter() - t0, 3)
        yield text
        self._finish(grade, text, None, t0)

    def _templated_feedback(self, question: Question, grade: Grade) -> str:
        covered = grade.covered
        todo = [k.point for k in grade.key_points if k.status != "covered"]
        lines = ["Strengths: " + ("You covered: " + "; ".join(covered[:2]) + "." if covered else "None yet."),
                 "To improve:"] + [f"- Add: {p}" for p in todo[:4]] + ["Model answer: " + question.reference_answer]
        return "\n".join(lines)

    def _finish(self, grade: Grade, text: str, question: Question | None, t0: float) -> None:
        grade.feedback = text.strip()
        sections = parse_feedback(text)
        grade.strengths = sections["strengths"]
        grade.improvements = sections["improvements"]
        grade.model_answer = sections["model_answer"] or (question.reference_answer if question else "")
        grade.latency_s["feedback_total"] = round(time.perf_counter() - t0, 3)

    # -- key points for user-supplied references --------------------------------------------------------------------
    def derive_key_points(self, question: str, reference: str) -> list[str]:
        """Ask the model to split the reference into checkable statements; cached on disk by content hash."""
        key = hashlib.sha256(f"{question}\n{reference}".encode()).hexdigest()[:24]
        path = self.settings.data_dir / "keypoints-cache.json"
        with self._kp_lock:
            cache = json.loads(path.read_text()) if path.exists() else {}
            if key in cache:
                return cache[key]
        points = None
        if self.llm is not None:
            schema = create_model("KeyPoints", key_points=(list[str], Field(min_length=1, max_length=6)))
            msgs = [{"role": "system", "content": load_prompt("keypoints")},
                    {"role": "user", "content": load_prompt("keypoints_user", question=question, reference=reference)}]
            try:
                points = [p.strip() for p in self.llm.structured(msgs, schema, max_tokens=200).key_points if p.strip()]
            except LLMError:
                points = None
        if not points:
            points = [s for s in split_sentences(reference) if len(s.split()) >= 3] or [reference]
            return points[:6]  # the fallback is not cached: a later run with a model should do better
        with self._kp_lock:
            cache = json.loads(path.read_text()) if path.exists() else {}
            cache[key] = points[:6]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cache, indent=1))
        return points[:6]


def from_heading(pieces, heading: str) -> Iterator[str]:
    """The text from `heading` on: the line the grammar forced before it was there to steer the model, not to show."""
    it, buf = iter(pieces), ""
    for piece in it:
        buf += piece
        if heading in buf:
            yield buf[buf.index(heading):]
            break
    else:
        if buf:
            yield buf
        return
    yield from it


_HEAD = re.compile(r"^\s*(strengths|to improve|model answer)\s*:\s*", re.IGNORECASE | re.MULTILINE)


def parse_feedback(text: str) -> dict:
    parts = _HEAD.split(text)
    found = {"strengths": "", "to improve": "", "model answer": ""}
    for i in range(1, len(parts) - 1, 2):
        found[parts[i].lower()] = parts[i + 1].strip()
    bullets = [b.strip(" -*•\t") for b in found["to improve"].splitlines() if b.strip(" -*•\t")]
    strengths = [b.strip(" -*•\t") for b in found["strengths"].splitlines() if b.strip(" -*•\t")]
    strengths = [] if [s.lower() for s in strengths] in ([], ["none yet."], ["none yet"]) else strengths
    return {"strengths": strengths, "improvements": bullets, "model_answer": found["model answer"]}
