"""The score: a short, signed linear formula over the judgement, with embedding similarity as a second signal.

Features, each in [0, 1]:
- coverage: the expected credit of the key points under the judge's probabilities (the rubric's credits: stated 1,
  partly 0.5, absent 0, contradicted -0.5), averaged over the key points;
- correctness: the judge's expected 0-5 "correct and complete" level, over 5;
- contradiction: the mean probability that a key point is contradicted (a confident wrong claim costs, it does not
  merely fail to add);
- grounded_coverage: each key point's expected credit times how close it comes to the answer's nearest sentence
  (MiniLM cosine), averaged: a point counts fully only where the model judged it stated *and* the answer has a
  sentence that says something like it (on the calib split it lifted the grouped-CV correlation on the rows that need
  a judgement from 0.80 to 0.82);
- grounded_root: the square root of grounded coverage. Concave, so the first points an answer states count for more
  than the last, as the rubric reads a short answer that gets the core right (3) against one with every detail (5),
  and with it the formula's floor, the score of an answer the judge credits nothing, falls (0.82 -> 0.26);
- emb_gain: how much closer, on average, the answer's nearest sentence comes to each key point than the bare question
  does (`interviewer.grading.evidence`): similarity the answer earned, not the topic's; an answer that says the
  question back gains nothing;
- emb_kp_mean: how close, on average, each key point comes to the answer's nearest sentence (the `evidence` formula
  only: with no judgement it carries what gain alone misses).

score = intercept + sum(weight * feature), clipped to 0-5. The weights are fitted on the DL set's calib split only
(`interviewer calibrate`), by least squares under sign constraints (coverage, correctness and similarity can only
raise a score, contradiction can only lower it), so the formula stays monotone in the verdicts and can be read: the
README says what each weight means. Three formulas share the file: `full`, `judge` (no embeddings: an answer in
another language, where English embeddings say nothing) and `evidence` (no model: the backend was down).

A user's own graders may be stricter or more lenient than ours: `interviewer calibrate --dataset file` fits a scale
(a monotone linear map of this score onto their labels, not a new judgement) and saves it as a named calibration,
chosen with INTERVIEWER_CALIBRATION.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from interviewer.grading.choices import Distribution, expected
from interviewer.resources import resource_path

CALIBRATION_FILE = resource_path("grading", "calibration.json")
MAX_SCORE = 5.0
Formula = Literal["full", "judge", "evidence"]
# Which way each feature may move the score.
SIGNS: dict[str, int] = {"coverage": 1, "correctness": 1, "contradiction": -1, "grounded_coverage": 1,
                         "grounded_root": 1, "emb_gain": 1, "emb_kp_mean": 1, "emb_ref": 1}
# Chosen by question-grouped CV on the DL calib split among the forms experiments/score_forms.py compares.
FORMULA_FEATURES: dict[str, tuple[str, ...]] = {
    "full": ("coverage", "correctness", "contradiction", "grounded_coverage", "grounded_root", "emb_gain"),
    "judge": ("coverage", "correctness", "contradiction"),
    "evidence": ("emb_gain", "emb_kp_mean", "emb_ref"),
}


class LinearScore(BaseModel):
    intercept: float
    weights: dict[str, float]

    def __call__(self, features: dict[str, float]) -> float:
        raw = self.intercept + sum(w * features[name] for name, w in self.weights.items())
        return float(np.clip(raw, 0.0, MAX_SCORE))


class Scale(BaseModel):
    """A user's graders' scale: score' = clip(offset + slope * score), slope >= 0 (monotone)."""

    offset: float = 0.0
    slope: float = Field(default=1.0, ge=0.0)

    def __call__(self, score: float) -> float:
        return float(np.clip(self.offset + self.slope * score, 0.0, MAX_SCORE))


class AnchoredParams(BaseModel):
    """How an answer is read against graded answers to the same question (`interviewer.grading.anchored`)."""

    k: int = Field(ge=1, description="neighbours read")
    temperature: float = Field(gt=0.0, description="softmax temperature over the neighbours' cosines")
    slope: float = Field(ge=0.0, le=1.0, description="how much of the grader's difference from a neighbour counts")
    prior: float = Field(default=0.0, ge=0.0, description="anchors the grader's own score counts as: with n anchors "
                                                          "the result is (prior * grader + n * anchored) / (prior + n)")
    same: float = Field(default=1.01, description="a graded answer at least this close (cosine) says the same as the "
                                                  "answer: its grade decides, adjusted by the grader's difference")


class Calibration(BaseModel):
    name: str = "default"
    fitted_on: dict = Field(default_factory=dict)
    full: LinearScore
    judge: LinearScore
    evidence: LinearScore
    scale: Scale = Field(default_factory=Scale)
    anchored: AnchoredParams | None = Field(default=None, description="None: anchors are not read")

    def score(self, features: dict[str, float], formula: Formula) -> float:
        return self.scale(getattr(self, formula)(features))


def judge_features(points: list[Distribution], levels: dict[str, Distribution], credit: dict[str, float],
                   contradicted: str) -> dict[str, float]:
    """coverage, correctness and contradiction from the judge's distributions (see the module docstring)."""
    coverage = float(np.mean([expected(d, credit) for d in points])) if points else 0.0
    contradiction = float(np.mean([d.get(contradicted, 0.0) for d in points])) if points else 0.0
    digits = {str(k): k / MAX_SCORE for k in range(6)}
    correctness = float(np.mean([expected(d, digits) for d in levels.values()])) if levels else coverage
    return {"coverage": coverage, "correctness": correctness, "contradiction": contradiction}


def grounded_features(points: list[Distribution], similarities: list[float],
                      credit: dict[str, float]) -> dict[str, float]:
    """grounded_coverage and grounded_root (see the module docstring)."""
    if not points:
        return {"grounded_coverage": 0.0, "grounded_root": 0.0}
    grounded = float(np.mean([expected(d, credit) * max(0.0, sim) for d, sim in zip(points, similarities)]))
    return {"grounded_coverage": grounded, "grounded_root": float(np.sqrt(max(0.0, grounded)))}


def calibrations_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "calibrations"


@lru_cache(maxsize=8)
def _read(path: Path, mtime: float) -> Calibration:
    return Calibration.model_validate(json.loads(path.read_text()))


def load_calibration(name: str = "default", data_dir: Path | None = None) -> Calibration:
    """The shipped calibration, or a user's named one (their scale on top of the shipped formulas)."""
    if name in ("", "default"):
        path = CALIBRATION_FILE
    else:
        path = calibrations_dir(data_dir) / f"{name}.json" if data_dir else Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"no calibration named {name!r} (looked for {path}); make one with "
                                    f"`interviewer calibrate --dataset file --path LABELS.csv --name {name}`")
    return _read(path, path.stat().st_mtime)


def save_calibration(calibration: Calibration, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration.model_dump_json(indent=2) + "\n")
