"""A resumable JSONL cache of grades. Only numbers and flags are stored, never the texts, so it can be committed."""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from pathlib import Path


def cache_key(version: str, backend: str, model: str, question: str, reference: str, answer: str) -> str:
    # A length-prefixed join: no choice of texts can make two different tuples collide.
    parts = (version, backend, model, question, reference, answer)
    blob = "".join(f"{len(s)}:{s}" for s in parts)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def grader_version(grader) -> str:
    """An explicit `version` (attribute or module GRADER_VERSION) wins; else a hash of the grader's source file,
    so an edit to the grader never reuses stale grades."""
    explicit = getattr(grader, "version", None) or getattr(inspect.getmodule(type(grader)), "GRADER_VERSION", None)
    if explicit:
        return f"{type(grader).__name__}:{explicit}"
    try:
        source = inspect.getsource(inspect.getmodule(type(grader)))
    except (OSError, TypeError):
        return type(grader).__name__
    return f"{type(grader).__name__}:src-{hashlib.sha256(source.encode()).hexdigest()[:12]}"


class GradeCache:
    """key -> record. Each new grade is appended and flushed at once, so a killed run loses at most one grade."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self.records: dict[str, dict] = {}
        if self.path and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill mid-write
                if isinstance(rec, dict) and "key" in rec:
                    self.records[rec["key"]] = rec

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def put(self, key: str, record: dict) -> dict:
        rec = {"key": key, **record, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.records[key] = rec
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return rec

    def __len__(self) -> int:
        return len(self.records)


def grade_record(grade, seconds: float, question_id: str) -> dict:
    """What we keep of a Grade: score, features, flags and timings (no answer, feedback or quotes)."""
    return {"question_id": question_id, "score": float(grade.score),
            "features": {k: float(v) for k, v in (getattr(grade, "features", None) or {}).items()},
            "flags": list(getattr(grade, "flags", None) or []),
            "evidence_only": bool(getattr(grade, "evidence_only", False)),
            "latency_s": {k: float(v) for k, v in (getattr(grade, "latency_s", None) or {}).items()},
            "seconds": round(float(seconds), 4)}
