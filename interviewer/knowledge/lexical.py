"""Lexical search over the bank's question chunks (BM25 by `bm25s`, English Snowball stems), fused with the dense
hits by reciprocal rank. Dense embeddings miss the exact term a candidate types ("KV cache", "GELU", "NaN"); BM25
misses paraphrase and typos; the fusion keeps what each gets right.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

RRF_K = 60  # the usual reciprocal-rank-fusion constant: a rank's weight is 1 / (RRF_K + rank)


def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english").stemWords


class LexicalIndex:
    """BM25 over chunk texts; `search` ranks questions by their best chunk. Immutable: rebuild after an ingest."""

    def __init__(self, question_ids: list[str], texts: list[str], metadatas: list[dict]) -> None:
        import bm25s

        self.question_ids, self.metadatas = question_ids, metadatas
        self._stem = _stemmer()
        self._lock = threading.Lock()  # bm25s keeps scratch state per call
        self.bm25 = None  # an empty store: nothing to rank
        if texts:
            self.bm25 = bm25s.BM25()
            self.bm25.index(bm25s.tokenize(texts, stopwords="en", stemmer=self._stem, show_progress=False),
                            show_progress=False)

    def __len__(self) -> int:
        return len(self.question_ids)

    def ranked_questions(self, query: str, allowed: Iterable[int] | None = None) -> list[str]:
        """Question ids, best first, by their best-scoring chunk; only chunks in `allowed` (indices) count."""
        import bm25s

        if self.bm25 is None:
            return []
        words = bm25s.tokenize([query], stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False)[0]
        words = [w for w in words if w in self.bm25.vocab_dict]
        if not words:
            return []
        with self._lock:
            scores = np.asarray(self.bm25.get_scores(words))
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[list(allowed)] = True
            scores = np.where(mask, scores, 0.0)
        best: dict[str, float] = {}
        for i in np.flatnonzero(scores > 0):
            qid = self.question_ids[i]
            best[qid] = max(best.get(qid, 0.0), float(scores[i]))
        return sorted(best, key=lambda q: -best[q])


def fuse(*rankings: list[str]) -> list[str]:
    """Reciprocal rank fusion of rankings of question ids."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for rank, qid in enumerate(ranking, start=1):
            score[qid] = score.get(qid, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(score, key=lambda q: -score[q])
