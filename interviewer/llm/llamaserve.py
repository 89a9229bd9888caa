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

Third, probabilities without logits for every position: the stock server returns `logprobs` only when it keeps the
output layer for every prompt position (`logits_all`, n_ctx x n_vocab float32: 2.5 GB of its 3.6 GB here). Our sampler
already holds the logits of each position it samples, so it records the top alternatives there (OpenAI's
`top_logprobs` shape, from the raw logits before penalties) and the server runs with `--logits_all false`. A token
jump-forward returns without asking the model is recorded with logprob 0 and no alternatives: the grammar forced it.

Fourth, a key proof (`with_key_proof`): the server takes a key (API_KEY in its environment) and proves it holds it
without anyone sending it, so a client never hands prompts or the key to whatever else answers on the port.

Run as `python -m interviewer.llm.llamaserve [--no-jump-forward | --stock-sampler] <llama_cpp.server arguments>`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import sys

import numpy as np
from llama_cpp import llama as llama_mod
from llama_cpp import llama_cpp as C

from interviewer.llm.jumpforward import MAX_DRAFT, forced_plan, forced_text

_stock_init_sampler = llama_mod.Llama._init_sampler


class GrammarLastGreedy:
    """Drop-in for llama_cpp's LlamaSampler (only `.sample(ctx, idx)` is used by Llama.sample)."""

    def __init__(self, llama: llama_mod.Llama, top_logprobs: int = 0, **kwargs) -> None:
        grammar = kwargs["grammar"]
        self.llama = llama
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
        self.top_logprobs = top_logprobs  # >0: record that many alternatives per sampled token (OpenAI logprobs)
        self.records: list[dict] = []

    @property
    def tokens(self) -> int:
        return len(self.output)

    def _array(self, data, size: int) -> C.llama_token_data_array:
        return C.llama_token_data_array(data=ctypes.cast(data, C.llama_token_data_p), size=size, selected=-1,
                                        sorted=False)

    def sample(self, ctx, idx: int = -1) -> int:
        if self.forced:  # jump-forward: text the grammar forces, as tokens GrammarDraft checked against it
            token = self.forced.pop(0)
            if self.top_logprobs:
                self.records.append({**self._entry(token, 0.0), "top_logprobs": []})
            return self._accept(token, jumped=True)
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
        if self.top_logprobs and not C.llama_vocab_is_eog(self.llama._model.vocab, token):
            self.records.append(self._record(logits, token))  # end of generation is no token of the text (as stock)
        return self._accept(token)

    def _entry(self, token: int, logprob: float) -> dict:
        raw = self.llama.detokenize([token])
        return {"token": raw.decode("utf-8", errors="replace"), "logprob": logprob, "bytes": list(raw)}

    def _record(self, logits: np.ndarray, token: int) -> dict:
        """OpenAI's logprobs entry for one sampled position: the chosen token and the most likely alternatives."""
        top = np.argpartition(-logits, self.top_logprobs)[:self.top_logprobs]
        top = top[np.argsort(-logits[top], kind="stable")]
        peak = float(logits.max())
        norm = peak + math.log(float(np.exp(logits - peak).sum()))
        return {**self._entry(token, float(logits[token]) - norm),
                "top_logprobs": [self._entry(int(t), float(logits[t]) - norm) for t in top]}

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
        self._recorder = GrammarLastGreedy(self, top_logprobs=getattr(self, "_top_logprobs", 0), **kwargs)
        return self._recorder
    return _stock_init_sampler(self, **kwargs)


_stock_chat = llama_mod.Llama.create_chat_completion
MAX_TOP_LOGPROBS = 20  # OpenAI's limit


def _find_malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, TypeError, AttributeError):  # not glibc: nothing to trim
        return None


_malloc_trim = _find_malloc_trim()


def _release_freed_memory() -> None:
    """Hand back to the system the heap glibc keeps after a call (it releases only memory already freed): after 15-40
    fresh grades the server held 1,394-1,411 MiB with it, 1,427-1,447 without."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _trimmed(chunks):
    try:
        yield from chunks
    finally:
        _release_freed_memory()


def create_chat_completion(self, *args, **kwargs):
    """Every completion, then the freed heap released (streamed: once the stream ends)."""
    if kwargs.get("stream"):
        return _trimmed(_chat_completion(self, *args, **kwargs))
    try:
        return _chat_completion(self, *args, **kwargs)
    finally:
        _release_freed_memory()


def _chat_completion(self, *args, logprobs: bool | None = None, top_logprobs: int | None = None, **kwargs):
    """The stock call, with `logprobs` taken from our sampler's records instead of the stock path (which needs
    logits_all). Only grammar-constrained greedy calls get our sampler; any other call answers logprobs as null."""
    want = min(MAX_TOP_LOGPROBS, max(1, top_logprobs or 1)) if logprobs else 0
    if not want:
        return _stock_chat(self, *args, **kwargs)
    if kwargs.get("stream"):
        return _streamed_with_logprobs(self, want, args, kwargs)
    self._top_logprobs, self._recorder = want, None
    try:
        out = _stock_chat(self, *args, **kwargs)
    finally:
        self._top_logprobs = 0
    recorder, self._recorder = self._recorder, None
    out["choices"][0]["logprobs"] = {"content": recorder.records, "refusal": None} if recorder else None
    return out


def _streamed_with_logprobs(self, want: int, args, kwargs):
    """Each chunk carries the records of the tokens sampled since the previous chunk (a chunk's text may lag them)."""
    self._top_logprobs, self._recorder = want, None
    sent = 0
    try:
        for chunk in _stock_chat(self, *args, **kwargs):
            self._top_logprobs = 0  # the sampler of this generation exists now
            recorder = self._recorder
            if chunk.get("choices"):
                new = recorder.records[sent:] if recorder else []
                sent += len(new)
                chunk["choices"][0]["logprobs"] = {"content": new, "refusal": None} if recorder else None
            yield chunk
    finally:
        self._top_logprobs, self._recorder = 0, None


def _init_sampler_drafting(self, **kwargs):
    if self.draft_model is None:
        # Set after construction: a draft model given to the constructor turns on logits for every position (GBs of
        # scores). Forced tokens need none; _eval asks for the two positions that are sampled.
        self.draft_model = GrammarDraft(self)
    return _init_sampler(self, **kwargs)


def install(draft: bool = True) -> None:
    llama_mod.Llama._init_sampler = _init_sampler_drafting if draft else _init_sampler
    llama_mod.Llama.eval = _eval if draft else _stock_eval
    llama_mod.Llama.create_chat_completion = create_chat_completion


def with_key_proof(create_app):
    """llama_cpp.server's app, plus GET /v1/interviewer/proof?nonce=N answering HMAC-SHA256(API_KEY, N): a client
    checks it holds our key before it sends a prompt, or the key (interviewer.llm.localserver)."""
    from fastapi.responses import PlainTextResponse

    from interviewer.llm.localserver import PROOF_PATH, proof

    def create(*args, **kwargs):
        app = create_app(*args, **kwargs)
        key = os.environ.get("API_KEY")

        def answer(nonce: str) -> PlainTextResponse:
            if not key:
                return PlainTextResponse("", status_code=404)
            return PlainTextResponse(proof(key, nonce[:MAX_NONCE_CHARS]))

        app.add_api_route(f"/v1{PROOF_PATH}", answer, methods=["GET"])
        return app
    return create


MAX_NONCE_CHARS = 128


def main() -> None:
    """`--stock-sampler`: llama_cpp's own sampling (the key proof still); `--no-jump-forward`: grammar-last alone."""
    flags = {"--no-jump-forward", "--stock-sampler"}
    given = flags & set(sys.argv)
    sys.argv = [a for a in sys.argv if a not in flags]  # llama_cpp.server's parser would refuse them
    if "--stock-sampler" not in given:
        install(draft="--no-jump-forward" not in given)
    import llama_cpp.server.__main__ as entry

    entry.create_app = with_key_proof(entry.create_app)
    entry.main()


if __name__ == "__main__":
    main()
