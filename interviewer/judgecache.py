"""A persistent cache of the model's judgements (verdicts and levels), keyed by model + exact prompt.

Re-scoring with new calibration weights, or re-running an eval, then costs no model calls. JSONL, append-only,
one line flushed per judgement, so a killed run loses at most one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path


def judge_key(model: str, messages: list[dict]) -> str:
    return hashlib.sha256(json.dumps([model, messages], sort_keys=True).encode()).hexdigest()


class JudgeCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    self._data[rec["key"]] = rec["value"]
                except (ValueError, KeyError):
                    continue  # a torn last line from a killed run
        self.hits = 0

    def get(self, key: str) -> dict | None:
        value = self._data.get(key)
        if value is not None:
            self.hits += 1
        return value

    def put(self, key: str, value: dict) -> None:
        with self._lock:
            self._data[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "value": value}) + "\n")

    def __len__(self) -> int:
        return len(self._data)
