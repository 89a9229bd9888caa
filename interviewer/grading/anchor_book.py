"""Where a grade finds its anchors: each question's graded answers, their vectors, and the grader's own score of each.

- Authored anchors ship with the bank (`interviewer/resources/knowledge/anchors/`, loaded by `interviewer.bank.anchors`); `interviewer
  ingest` embeds them into the store beside the bank, so a store that has them gives their vectors without
  re-embedding. People's anchors (an instructor's review, a labelled file) come from an `AnchorSource`, the sessions
  database in the app and the CLI.
- The anchored score compares the answer's grader score with the grader's score of each neighbour (`anchored.py`).
  Those scores depend on the model and the grader, so they are kept by a scorer identity: the embedded default's
  are shipped (`anchor_scores.json`, made by `python scripts/score_anchors.py`), any other backend's are made on
  first need (while the candidate reads the question) and kept in the data directory.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np

from interviewer.grading.cache import JsonlCache, text_key
from interviewer.bank.anchors import Anchor
from interviewer.resources import resource_path

SHIPPED_SCORES = resource_path("grading", "anchor_scores.json")
VECTORS_KEPT = 8192  # anchor vectors held in memory (~1.5 KB each): the bank's 1,413 and people's


class AnchorSource(Protocol):
    """People's anchors for a question (the sessions database)."""

    def anchors_for(self, question_id: str) -> list[Anchor]: ...


class AnchorBook:
    """A question's anchors (authored, then people's) and their unit vectors."""

    def __init__(self, authored: dict[str, list[Anchor]] | None = None, people: AnchorSource | None = None,
                 store=None) -> None:
        self.authored = authored or {}
        self.people = people
        self.store = store  # a Store whose anchors collection may hold the authored anchors' vectors
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def anchors(self, question_id: str) -> list[Anchor]:
        people = self.people.anchors_for(question_id) if self.people is not None else []
        return [*self.authored.get(question_id, []), *people]

    def vectors(self, anchors: list[Anchor]) -> np.ndarray:
        """Unit vectors in the anchors' order: from memory, else the store, else embedded now."""
        from interviewer.bank.embeddings import get_embedder

        with self._lock:
            known = {a.text_id: self._vectors[a.text_id] for a in anchors if a.text_id in self._vectors}
        missing = [a for a in anchors if a.text_id not in known]
        if missing and self.store is not None:
            known.update(self.store.anchor_vectors([a.text_id for a in missing]))
            missing = [a for a in missing if a.text_id not in known]
        if missing:
            unique = list({a.text_id: a for a in missing}.values())
            known.update(zip([a.text_id for a in unique], get_embedder().embed([a.text for a in unique])))
        with self._lock:
            for key, vec in known.items():
                self._vectors[key] = vec
                self._vectors.move_to_end(key)
            while len(self._vectors) > VECTORS_KEPT:
                self._vectors.popitem(last=False)
        return np.array([known[a.text_id] for a in anchors], dtype=np.float32).reshape(len(anchors), -1)


class AnchorScores:
    """The grader's own score of each anchor, by scorer identity (a model and a grader version)."""

    def __init__(self, scorer_id: str, data_dir: Path | None = None, shipped: Path = SHIPPED_SCORES) -> None:
        self.scorer_id = scorer_id
        self._shipped: dict[str, float] = {}
        if shipped.is_file():
            data = json.loads(shipped.read_text(encoding="utf-8"))
            if data.get("scorer") == scorer_id:
                self._shipped = {k: float(v) for k, v in data["scores"].items()}
        self._kept = JsonlCache(Path(data_dir) / "anchor-scores.jsonl" if data_dir else None)

    def _key(self, anchor: Anchor) -> str:
        return text_key(self.scorer_id, anchor.text_id)

    def get(self, anchor: Anchor) -> float | None:
        if anchor.text_id in self._shipped:
            return self._shipped[anchor.text_id]
        rec = self._kept.get(self._key(anchor))
        return None if rec is None else float(rec["score"])

    def put(self, anchor: Anchor, score: float) -> None:
        self._kept.put(self._key(anchor), {"score": round(float(score), 4)})


def write_shipped(scorer_id: str, scores: dict[str, float], path: Path = SHIPPED_SCORES) -> None:
    path.write_text(json.dumps({"scorer": scorer_id, "scores": dict(sorted(scores.items()))}, indent=0) + "\n",
                    encoding="utf-8")
