"""The llama-cpp-python server with llama.cpp's own "grammar last" sampling for greedy, grammar-constrained replies.

llama-cpp-python's sampler chain runs the JSON grammar over all ~152k vocabulary entries for every output token,
which halves generation speed here (~10 tok/s instead of ~19). llama.cpp's native sampler (common/sampling.cpp)
first picks the token without the grammar and only asks the grammar about that one token; the full-vocabulary pass
runs only when it is rejected. For greedy decoding this picks exactly the same tokens: masking can only remove
candidates, so an allowed argmax is also the argmax of the masked logits. Everything else is the stock server.

Run as `python -m interviewer.llamaserve <llama_cpp.server arguments>`.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np
from llama_cpp import llama as llama_mod
from llama_cpp import llama_cpp as C

_stock_init_sampler = llama_mod.Llama._init_sampler


class GrammarLastGreedy:
    """Drop-in for llama_cpp's LlamaSampler (only `.sample(ctx, idx)` is used by Llama.sample)."""

    def __init__(self, llama: llama_mod.Llama, **kwargs) -> None:
        grammar = kwargs["grammar"]
        # Penalties + greedy exactly as the stock chain builds them, minus the grammar.
        self.pre = _stock_init_sampler(llama, **{**kwargs, "grammar": None})
        self.grammar = C.llama_sampler_init_grammar(llama._model.vocab, grammar._grammar.encode("utf-8"),
                                                    grammar._root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp rejected the grammar")
        self.n_vocab = llama.n_vocab()
        self.buf = (C.llama_token_data * self.n_vocab)()
        self.view = np.ctypeslib.as_array(self.buf)  # structured: id, logit, p
        self.view["id"] = np.arange(self.n_vocab, dtype=np.int32)
        self.one = C.llama_token_data()
        self.full_passes = 0  # how often the grammar had to look at the whole vocabulary (for tests and benchmarks)
        self.tokens = 0

    def _array(self, data, size: int) -> C.llama_token_data_array:
        return C.llama_token_data_array(data=ctypes.cast(data, C.llama_token_data_p), size=size, selected=-1,
                                        sorted=False)

    def sample(self, ctx, idx: int = -1) -> int:
        logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        self.view["logit"] = logits
        self.view["p"] = 0.0
        cur = self._array(self.buf, self.n_vocab)
        C.llama_sampler_apply(self.pre.sampler, ctypes.byref(cur))  # penalties, then greedy marks `selected`
        token = int(self.view["id"][cur.selected])
        self.one.id, self.one.logit, self.one.p = token, 1.0, 0.0
        C.llama_sampler_apply(self.grammar, ctypes.byref(self._array(ctypes.pointer(self.one), 1)))
        if math.isinf(self.one.logit):  # rejected: the stock path (grammar over everything, then argmax)
            self.full_passes += 1
            C.llama_sampler_apply(self.grammar, ctypes.byref(cur))
            token = int(self.view["id"][int(np.argmax(self.view["logit"]))])  # first maximum, as greedy does
        self.tokens += 1
        C.llama_sampler_accept(self.pre.sampler, token)
        C.llama_sampler_accept(self.grammar, token)
        return token

    def close(self) -> None:
        if self.grammar:
            C.llama_sampler_free(self.grammar)
            self.grammar = None

    def __del__(self) -> None:
        self.close()


def _init_sampler(self, **kwargs):
    grammar = kwargs.get("grammar")
    if grammar is not None and kwargs.get("temp") == 0.0 and kwargs.get("logits_processor") is None \
            and not kwargs.get("mirostat_mode"):
        return GrammarLastGreedy(self, **kwargs)
    return _stock_init_sampler(self, **kwargs)


def install() -> None:
    llama_mod.Llama._init_sampler = _init_sampler


def main() -> None:
    install()
    from llama_cpp.server.__main__ import main as server_main

    server_main()


if __name__ == "__main__":
    main()
