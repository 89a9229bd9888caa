"""A resumable JSONL cache of grades. Only numbers and flags are stored, never the texts, so it can be committed."""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import time
from pathlib import Path


def cache_key(version: str, backend: str, model: str, question: str, reference: str, answer: str) -> str:
    # A length-prefixed join: no choice of texts can make two different tuples collide.
    parts = (version, backend, model, question, reference, answer)
    blob = "".join(f"{len(s)}:{s}" for s in parts)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def grader_version(grader) -> str:
    """What decides whether a cached grade is still valid.

    A `version` attribute on the grader is taken as is (its owner promises to bump it). Otherwise the module's
    GRADER_VERSION plus a hash of everything a score depends on that we can see: the module source, its
    CALIBRATION_FILE (fitted weights) and the prompt files it loads, so a recalibration or a prompt edit never
    reuses stale grades.
    """
    explicit = getattr(grader, "version", None)
    if isinstance(explicit, str) and explicit:
        return f"{type(grader).__name__}:{explicit}"
    module = inspect.getmodule(type(grader))
    declared = getattr(module, "GRADER_VERSION", "unversioned")
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return f"{type(grader).__name__}:{declared}"
    h = hashlib.sha256(source.encode())
    for dep in _project_imports(module):  # e.g. the answer screen in guard.py changes scores too
        h.update(inspect.getsource(dep).encode())
    # The grader's own calibration file where it has several (one per judge format), else the module's.
    calibration = getattr(grader, "calibration_file", None) or getattr(module, "CALIBRATION_FILE", None)
    if calibration and Path(calibration).is_file():
        h.update(Path(calibration).read_bytes())
    for path in _prompt_files(source):
        h.update(path.name.encode() + path.read_bytes())
    variant = getattr(grader, "variant", "")
    variant = f":{variant}" if isinstance(variant, str) and variant else ""
    return f"{type(grader).__name__}:{declared}{variant}:{h.hexdigest()[:12]}"


def _prompt_files(source: str) -> list[Path]:
    from interviewer.config import get_settings

    folder = get_settings().prompts_dir
    names = set(re.findall(r"load_prompt\(\s*[\"']([\w-]+)[\"']", source))
    files = {folder / f"{n}.md" for n in names} | {folder / f"{n}_user.md" for n in names}
    if "load_rubric" in source:
        files.add(folder / "rubric.yaml")
    return sorted(p for p in files if p.is_file())


def _project_imports(module) -> list:
    """The interviewer.* modules the grader module imports names from (one level deep), in a stable order."""
    import sys

    names = {getattr(obj, "__module__", None) or getattr(obj, "__name__", "") for obj in vars(module).values()}
    mods = [sys.modules[n] for n in sorted(names) if n and n.startswith("interviewer.") and n != module.__name__
            and not n.startswith("interviewer.evals") and n in sys.modules]
    out = []
    for m in mods:
        try:
            inspect.getsource(m)
            out.append(m)
        except (OSError, TypeError):
            pass
    return out


class GradeCache:
    """key -> record. Each new grade is appended and flushed at once, so a killed run loses at most one grade."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self.records: dict[str, dict] = {}
        self._cut_line = False
        if self.path and self.path.is_file():
            text = self.path.read_text(encoding="utf-8")
            self._cut_line = bool(text) and not text.endswith("\n")  # the next append must start a new line
            for line in text.splitlines():
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
                f.write(("\n" if self._cut_line else "") + json.dumps(rec, ensure_ascii=False) + "\n")
            self._cut_line = False
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
