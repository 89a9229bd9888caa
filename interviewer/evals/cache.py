"""The eval's grade cache: the project's one JSONL cache, holding only numbers and flags (never texts)."""

from __future__ import annotations

from interviewer.grading.cache import JsonlCache, text_key
from interviewer.llm.registry import backend_spec
from interviewer.settings import evals_dir

GradeCache = JsonlCache
CACHE_DIR = evals_dir() / "cache"


def judge_cache_for(backend: str) -> JsonlCache | None:
    """The committed cache of model judgements for a backend (probabilities only; no answer text is stored): the
    evals and the lever studies replay it. The toy model's judgements cost nothing to make again: none is kept."""
    if backend_spec(backend).scripted:
        return None
    return JsonlCache(CACHE_DIR / f"judge-{backend}.jsonl")


def cache_key(version: str, backend: str, model: str, question: str, reference: str, answer: str) -> str:
    return text_key(version, backend, model, question, reference, answer)


def grade_record(grade, seconds: float, question_id: str) -> dict:
    """What we keep of a Grade: score, features, flags and timings (no answer, feedback or quotes)."""
    return {"question_id": question_id, "score": float(grade.score),
            "features": {k: float(v) for k, v in (grade.features or {}).items()},
            "flags": list(grade.flags or []), "evidence_only": bool(grade.evidence_only),
            "judgement": grade.judgement,
            "statuses": [k.status for k in grade.key_points],
            "latency_s": {k: float(v) for k, v in (grade.latency_s or {}).items()},
            "seconds": round(float(seconds), 4)}
