"""Key points for a question that has none (a user's CSV, Mohler): statements that restate the reference, never more.

A short reference is its own checklist: its sentences are the key points, with no model call (a one-line reference
gives one key point, so a correct one-line answer states all of it). A long one is split by the model into at most
one statement per ~15 words of reference; each statement is kept only if the reference supports it (most of its content
words occur there), so the checklist cannot grow claims the reference never made. Whatever comes out, the sentence
split included, is cached on disk by content, so a question is never derived twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from pydantic import BaseModel, Field, create_model

from interviewer.llm.base import LLM, LLMError
from interviewer.prompts import load_prompt
from interviewer.text import content_words, sentences

SHORT_REFERENCE_WORDS = 40  # up to this, the reference's own sentences are the key points
WORDS_PER_POINT = 15
MAX_POINTS = 6
MIN_POINT_WORDS = 3
MIN_MODEL_POINTS = 2  # a long reference asked of the model makes at least two points
# The model's reply budget: the reference restated in full (~2 tokens a word) and each point's JSON around it.
TOKENS_PER_REFERENCE_WORD, TOKENS_PER_POINT = 2, 60
SUPPORT = 0.6  # share of a derived point's content words that must occur in the reference
CACHE_FILE = "keypoints-cache.json"
_lock = threading.Lock()


class DerivedPoints(BaseModel):
    points: list[str]
    source: str = Field(description="reference sentences, or model")


def supported(point: str, reference: str) -> bool:
    own = set(content_words(point))
    return bool(own) and len(own & set(content_words(reference))) / len(own) >= SUPPORT


def sentence_points(reference: str) -> list[str]:
    found = [s for s in sentences(reference) if len(s.split()) >= MIN_POINT_WORDS]
    return (found or [reference.strip()])[:MAX_POINTS]


def point_budget(reference: str) -> int:
    return max(MIN_MODEL_POINTS, min(MAX_POINTS, len(reference.split()) // WORDS_PER_POINT))


def _ask_model(llm: LLM, question: str, reference: str) -> list[str]:
    n = point_budget(reference)
    schema = create_model("KeyPoints", key_points=(list[str], Field(min_length=1, max_length=n)))
    msgs = [{"role": "system", "content": load_prompt("keypoints", n=n)},
            {"role": "user", "content": load_prompt("keypoints_user", question=question, reference=reference)}]
    budget = TOKENS_PER_REFERENCE_WORD * len(reference.split()) + TOKENS_PER_POINT * n
    value, _ = llm.structured(msgs, schema, max_tokens=budget, task="keypoints")
    return [p.strip() for p in value.key_points if p.strip() and supported(p, reference)]


def derive(llm: LLM | None, question: str, reference: str, data_dir: Path) -> DerivedPoints:
    key = hashlib.sha256(f"{question}\n{reference}".encode()).hexdigest()[:24]
    path = Path(data_dir) / CACHE_FILE
    with _lock:
        cache = json.loads(path.read_text()) if path.exists() else {}
    if key in cache and isinstance(cache[key], dict):
        return DerivedPoints.model_validate(cache[key])
    result = DerivedPoints(points=sentence_points(reference), source="reference sentences")
    if llm is not None and len(reference.split()) > SHORT_REFERENCE_WORDS:
        try:
            points = _ask_model(llm, question, reference)
        except LLMError:
            points = []
        if points:
            result = DerivedPoints(points=points, source="model")
    with _lock:
        cache = json.loads(path.read_text()) if path.exists() else {}
        cache[key] = result.model_dump()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        tmp.replace(path)
    return result
