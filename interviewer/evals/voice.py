"""Speech-to-text measurement: the spoken-answer fixture (evals/voice/answers.yaml) synthesised by Piper, and word
error rate after a normalisation that forgives spelling, not words: case, punctuation, hyphens, and number words
written as digits ("eight bit" = "8-bit"). jiwer computes the WER over the whole corpus (errors / reference words).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from interviewer import PROJECT_ROOT

FIXTURE = PROJECT_ROOT / "evals" / "voice" / "answers.yaml"
_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_SPELLING = {"regularizer": "regulariser", "normalizes": "normalises", "normalization": "normalisation",
             "stabilizes": "stabilises", "initialization": "initialisation", "memorizes": "memorises",
             "quantization": "quantisation", "zeros": "zeroes"}


class SpokenAnswer(BaseModel):
    question: str
    answer: str


def load_fixture(path: Path = FIXTURE) -> list[SpokenAnswer]:
    return [SpokenAnswer.model_validate(x) for x in yaml.safe_load(path.read_text(encoding="utf-8"))]


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ").replace("_", " ").replace("minibatch", "mini batch")
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)  # "8bit" -> "8 bit", "l1" stays (letter first)
    words = re.findall(r"[a-z0-9']+", text)
    return " ".join(_SPELLING.get(_NUMBERS.get(w, w), _NUMBERS.get(w, w)) for w in words)


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    return float(jiwer.wer([normalize(r) for r in references], [normalize(h) for h in hypotheses]))
