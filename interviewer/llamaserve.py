"""The llama-cpp-python server with llama.cpp's own "grammar last" sampling for greedy, grammar-constrained replies.

llama-cpp-python's sampler chain runs the JSON grammar over all ~152k vocabulary entries for every output token,
which halves generation speed here (~10 tok/s instead of ~19). llama.cpp's native sampler (common/sampling.cpp)
first picks the token without the grammar and only asks the grammar about that one token; the full-vocabulary pass
runs only when it is rejected. For greedy decoding this picks exactly the same tokens: masking can only remove
candidates, so an allowed argmax is also the argmax of the masked logits. Everything else is the stock server.

Second, jump-forward (`GrammarDraft`): where the grammar leaves only one way to go on (the compact judge's `","2":"`
between two verdicts, the feedback headings), the sampler does not ask the model token by token. The forced text is
tokenized, checked against the grammar, handed to llama-cpp-python's speculative-decoding loop as a draft so it is read
in one batch (4 tokens: ~100 ms here, against 4 x 66 ms one by one), and the sampler returns those tokens as they are,
except the last of each run, which the model checks (it may join it to its own next choice: " The", not " " + "The").
The text is the same as without it (the grammar forces it); the tokens can differ, since under the grammar the model
sometimes spells forced text oddly (`":` + `"`, `\n` + `\n`), and a batched read gives slightly different logits, so a
verdict on a near tie can differ from the run without it. Measured on the evaluation sets before it became the default.

Run as `python -m interviewer.llamaserve [--no-jump-forward] <llama_cpp.server arguments>`.
"""

from __future__ import annotations

import ctypes
import json
import math
import re
import sys

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
        self.jumped = 0  # tokens returned by jump-forward, without asking the model
        self.plan = forced_plan(grammar._grammar)  # for GrammarDraft
        self.output: list[int] = []
        self.forced: list[int] = []

    @property
    def tokens(self) -> int:
        return len(self.output)

    def _array(self, data, size: int) -> C.llama_token_data_array:
        return C.llama_token_data_array(data=ctypes.cast(data, C.llama_token_data_p), size=size, selected=-1,
                                        sorted=False)

    def sample(self, ctx, idx: int = -1) -> int:
        if self.forced:  # jump-forward: text the grammar forces, as tokens GrammarDraft checked against it
            return self._accept(self.forced.pop(0), jumped=True)
        logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        self.view["logit"] = logits
        self.view["p"] = 0.0
        cur = self._array(self.buf, self.n_vocab)
        C.llama_sampler_apply(self.pre.sampler, ctypes.byref(cur))  # penalties, then greedy marks `selected`
        token = int(self.view["id"][cur.selected])
        if not self.allows(self.grammar, token):  # rejected: the stock path (grammar over everything, then argmax)
            self.full_passes += 1
            C.llama_sampler_apply(self.grammar, ctypes.byref(cur))
            token = int(self.view["id"][int(np.argmax(self.view["logit"]))])  # first maximum, as greedy does
        return self._accept(token)

    def allows(self, grammar, token: int) -> bool:
        self.one.id, self.one.logit, self.one.p = token, 1.0, 0.0
        C.llama_sampler_apply(grammar, ctypes.byref(self._array(ctypes.pointer(self.one), 1)))
        return not math.isinf(self.one.logit)

    def _accept(self, token: int, jumped: bool = False) -> int:
        self.jumped += jumped
        self.output.append(token)
        C.llama_sampler_accept(self.pre.sampler, token)
        C.llama_sampler_accept(self.grammar, token)
        return token

    def grammar_prefix(self, tokens: list[int]) -> list[int]:
        """The longest prefix of `tokens` the grammar accepts from its current state (tried on a copy of it)."""
        probe = C.llama_sampler_clone(self.grammar)
        try:
            for n, token in enumerate(tokens):
                if not self.allows(probe, token):
                    return tokens[:n]
                C.llama_sampler_accept(probe, token)
            return tokens
        finally:
            C.llama_sampler_free(probe)

    def close(self) -> None:
        if self.grammar:
            C.llama_sampler_free(self.grammar)
            self.grammar = None

    def __del__(self) -> None:
        self.close()


_GBNF_PART = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\][?*+]?|[^\s"\[]+')
MAX_DRAFT = 16


def forced_plan(grammar: str) -> list[str | None]:
    """The root rule's leading plain sequence: literals (str) and one character of a class (None). It ends at the
    first rule name, group, alternative or repeated class, where the way on is no longer a fixed shape."""
    m = re.search(r"^root\s*::=(.*)$", grammar, re.M)
    plan: list[str | None] = []
    for part in _GBNF_PART.findall(m.group(1)) if m else []:
        if part.startswith('"'):
            try:
                plan.append(json.loads(part))  # our literals are JSON strings; anything else ends the plan
            except ValueError:
                break
        elif part.startswith("[") and part.endswith("]"):
            plan.append(None)
        else:
            break
    return plan


def forced_text(plan: list[str | None], text: str) -> str | None:
    """What the grammar forces after `text`: "" where the model chooses next, None once past the plan or off it.

    A draft stops before a literal that opens a new line, so that what precedes it (the judge's closing brace) reaches
    the client without waiting for the batch after it.
    """
    i = 0
    for k, part in enumerate(plan):
        if part is None:
            if i >= len(text):
                return ""
            i += 1
            continue
        rest = text[i:]
        if len(rest) >= len(part):
            if not rest.startswith(part):
                return None
            i += len(part)
            continue
        if not part.startswith(rest):
            return None
        out = part[len(rest):]
        for nxt in plan[k + 1:]:
            if nxt is None or nxt.startswith("\n"):
                break
            out += nxt
        return out
    return None


class GrammarDraft:
    """A llama-cpp-python draft model proposing the text the active grammar forces, which the sampler then returns."""

    def __init__(self, llama: llama_mod.Llama) -> None:
        self.llama = llama

    def __call__(self, input_ids: np.ndarray) -> np.ndarray:
        sampler = self.llama._sampler
        draft: list[int] = []
        if isinstance(sampler, GrammarLastGreedy) and sampler.plan:
            text = self.llama.detokenize(sampler.output).decode("utf-8", errors="replace")
            forced = forced_text(sampler.plan, text)
            if forced is None:
                sampler.plan = []  # past the fixed part: nothing more to propose in this generation
            elif forced:
                tokens = self.llama.tokenize(forced.encode("utf-8"), add_bos=False, special=False)[:MAX_DRAFT]
                draft = sampler.grammar_prefix(tokens)
                # All but the last are returned as they are. The last one, where the forced text meets the model's
                # next choice, is only a guess the model checks (token healing: it may prefer `":` + `"y` or " The"
                # to `":"` or " "), so the batch needs logits at its last two positions.
                sampler.forced = draft[:-1]
                self.llama._draft_outputs = 2
        return np.asarray(draft, dtype=np.intc)


_stock_eval = llama_mod.Llama.eval


def _eval(self, tokens) -> None:
    """Llama.eval, with logits at the last two positions of a draft batch (the stock one: at all, or only the last)."""
    outputs, self._draft_outputs = getattr(self, "_draft_outputs", 1), 1
    if outputs == 1 or self._logits_all or len(tokens) > self.n_batch:
        return _stock_eval(self, tokens)
    llama_batch = self._batch
    stock_set = llama_batch.set_batch

    def set_batch(batch, n_past, logits_all):  # noqa: the stock eval passes these by keyword
        stock_set(batch, n_past, logits_all)
        for i in range(max(0, len(batch) - outputs), len(batch)):
            llama_batch.batch.logits[i] = True

    llama_batch.set_batch = set_batch
    try:
        _stock_eval(self, tokens)
    finally:
        del llama_batch.set_batch


def _init_sampler(self, **kwargs):
    grammar = kwargs.get("grammar")
    if grammar is not None and kwargs.get("temp") == 0.0 and kwargs.get("logits_processor") is None \
            and not kwargs.get("mirostat_mode"):
        return GrammarLastGreedy(self, **kwargs)
    return _stock_init_sampler(self, **kwargs)


def _init_sampler_drafting(self, **kwargs):
    if self.draft_model is None:
        # Set after construction: a draft model given to the constructor turns on logits for every position (GBs of
        # scores). Forced tokens need none; _eval asks for the two positions that are sampled.
        self.draft_model = GrammarDraft(self)
    return _init_sampler(self, **kwargs)


def install(draft: bool = True) -> None:
    llama_mod.Llama._init_sampler = _init_sampler_drafting if draft else _init_sampler
    llama_mod.Llama.eval = _eval if draft else _stock_eval


def main() -> None:
    jump = "--no-jump-forward" not in sys.argv
    sys.argv = [a for a in sys.argv if a != "--no-jump-forward"]  # llama_cpp.server's parser would refuse it
    install(draft=jump)
    from llama_cpp.server.__main__ import main as server_main

    server_main()


if __name__ == "__main__":
    main()
