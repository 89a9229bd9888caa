"""The server's grammar-last greedy sampler picks exactly the tokens llama-cpp-python's stock sampler picks."""

from __future__ import annotations

import json

import pytest
from llama_cpp import LlamaGrammar

from interviewer.llm import llamaserve
from interviewer.grading.judge import judge_messages, judge_schema

pytestmark = pytest.mark.slow

ANSWERS = [
    "Dropout zeroes each activation with probability p during training and rescales the rest by 1/(1-p); "
    "at inference it is switched off.",
    "Dropout removes outlier samples from the training data before each epoch.",
]


@pytest.fixture
def sampler_log(monkeypatch):
    """Which sampler each generation got (the stock one, or ours)."""
    from llama_cpp import llama as llama_mod

    made = []
    monkeypatch.setattr(llama_mod.Llama, "_init_sampler",
                        lambda self, **kw: made.append(llamaserve._init_sampler(self, **kw)) or made[-1])
    return made


def _judge(llama, answer: str) -> str:
    kps = ["zeroes activations at random during training", "rescales by 1/(1-p)", "off at inference"]
    msgs = judge_messages("technical", "What is dropout?", "Dropout randomly zeroes activations...", kps, answer)
    schema = judge_schema("technical", len(kps)).model_json_schema(by_alias=True)
    # Both samplers must start from the same KV-cache state: a prompt read in other batch shapes (part of it reused
    # from the cache) gives slightly different logits, which can flip a near tie whatever the sampler.
    llama.reset()
    out = llama.create_chat_completion(messages=msgs, temperature=0.0, repeat_penalty=1.1, max_tokens=60,
                                       response_format={"type": "json_object", "schema": schema})
    return out["choices"][0]["message"]["content"]


@pytest.mark.parametrize("answer", ANSWERS)
def test_grammar_last_sampler_matches_the_stock_sampler(llama, sampler_log, monkeypatch, answer):
    from llama_cpp import llama as llama_mod

    ours = _judge(llama, answer)
    used = [s for s in sampler_log if isinstance(s, llamaserve.GrammarLastGreedy)]
    assert used, "the grammar-constrained greedy call did not get the grammar-last sampler"
    # The shortcut is what makes it fast: the grammar rarely has to scan the whole vocabulary.
    assert used[-1].full_passes < used[-1].tokens / 4
    monkeypatch.setattr(llama_mod.Llama, "_init_sampler", llamaserve._stock_init_sampler)
    stock = _judge(llama, answer)
    assert ours == stock
    json.loads(ours)  # still valid JSON under the schema's grammar


def test_sampled_or_ungrammared_calls_keep_the_stock_sampler(llama, sampler_log):
    llama.create_chat_completion(messages=[{"role": "user", "content": "Say hi."}], max_tokens=3, temperature=0.0)
    llama.create_chat_completion(messages=[{"role": "user", "content": "Say hi."}], max_tokens=3, temperature=0.7,
                                 response_format={"type": "json_object"})
    assert sampler_log and not any(isinstance(s, llamaserve.GrammarLastGreedy) for s in sampler_log)


def test_recorded_logprobs_are_the_stock_servers_at_the_sampled_positions(llama, monkeypatch):
    """Our records (no logits for every position) give what llama-cpp-python's own logprobs (logits_all) give."""
    from llama_cpp import Llama
    from llama_cpp import llama as llama_mod

    from interviewer.grading.judge import judge_grammar

    kps = ["zeroes activations at random during training", "off at inference"]
    msgs = judge_messages("technical", "What is dropout?", "Dropout randomly zeroes activations...", kps, ANSWERS[0])
    grammar = LlamaGrammar.from_string(judge_grammar("technical", len(kps)), verbose=False)
    monkeypatch.setattr(llama_mod.Llama, "_init_sampler", llamaserve._init_sampler)
    llama.reset()
    ours = llamaserve.create_chat_completion(llama, messages=msgs, temperature=0.0, repeat_penalty=1.0, max_tokens=30,
                                             grammar=grammar, logprobs=True, top_logprobs=5)
    monkeypatch.setattr(llama_mod.Llama, "_init_sampler", llamaserve._stock_init_sampler)
    full = Llama(model_path=llama.model_path, n_ctx=2048, n_threads=2, n_batch=512, chat_format="chatml",
                 verbose=False, logits_all=True)
    stock = full.create_chat_completion(messages=msgs, temperature=0.0, repeat_penalty=1.0, max_tokens=30,
                                        grammar=grammar, logprobs=True, top_logprobs=5)
    text = ours["choices"][0]["message"]["content"]
    assert text == stock["choices"][0]["message"]["content"]
    mine, theirs = ours["choices"][0]["logprobs"]["content"], stock["choices"][0]["logprobs"]["content"]
    assert "".join(e["token"] for e in mine) == text
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a["token"] == b["token"]
        assert a["logprob"] == pytest.approx(b["logprob"], abs=0.05)
        top_a = [t["token"] for t in a["top_logprobs"]]
        top_b = [t["token"] for t in b["top_logprobs"]][:len(top_a)]
        assert top_a[:3] == top_b[:3]
