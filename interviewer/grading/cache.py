"""One append-only JSONL cache, for model judgements and for eval grades alike.

Each record is one line, flushed when written, so a killed run loses at most the line it was writing. A torn last
line is skipped on load, and the next write starts on a new line (else the first new record would be glued to the
torn one and lost on the next load). Only what callers put in is stored: judgements and scores, never answer texts,
so the eval caches can be committed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path


def text_key(*parts: str) -> str:
    """sha256 of a length-prefixed join: no choice of texts can make two different tuples collide."""
    return hashlib.sha256("".join(f"{len(s)}:{s}" for s in parts).encode("utf-8")).hexdigest()


class JsonlCache:
    """key -> record (a dict). `path=None` keeps it in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self.records: dict[str, dict] = {}
        self._torn = False
        self._lock = threading.Lock()
        self.hits = 0
        if self.path and self.path.is_file():
            text = self.path.read_text(encoding="utf-8")
            self._torn = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill mid-write
                if isinstance(rec, dict) and "key" in rec:
                    self.records[rec["key"]] = rec

    def get(self, key: str) -> dict | None:
        with self._lock:  # graders on several threads (the app's pool, `eval --concurrency`) share one cache
            rec = self.records.get(key)
            if rec is not None:
                self.hits += 1
        return rec

    def put(self, key: str, record: dict) -> dict:
        rec = {"key": key, **record, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        with self._lock:  # one writer at a time: two threads' lines never interleave
            self.records[key] = rec
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(("\n" if self._torn else "") + json.dumps(rec, ensure_ascii=False) + "\n")
                self._torn = False
        return rec

    def __len__(self) -> int:
        return len(self.records)
