"""The server's grammar-last greedy sampler picks exactly the tokens llama-cpp-python's stock sampler picks."""

from __future__ import annotations

import json

import pytest

from interviewer import llamaserve
from interviewer.config import Settings
from interviewer.grader import judge_messages, judge_schema
from interviewer.localserver import ensure_model

pytestmark = pytest.mark.slow

ANSWERS = [
    "Dropout zeroes each activation with probability p during training and rescales the rest by 1/(1-p); "
    "at inference it is switched off.",
    "Dropout removes outlier samples from the training data before each epoch.",
]


@pytest.fixture(scope="module")
def llama():
    from llama_cpp import Llama

    model = ensure_model(Settings())
    return Llama(model_path=str(model), n_ctx=2048, n_threads=2, n_batch=512, chat_format="chatml", verbose=False)


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
    msgs = judge_messages("technical", "What is dropout?", "Dropout randomly zeroes activations...", kps, answer,
                          include_reference=True)
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


def test_the_setting_picks_the_server_module(tmp_path):
    from pathlib import Path

    from interviewer.localserver import server_command

    ours = server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path))
    stock = server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path, local_grammar_last=False))
    assert ours[1:3] == ["-m", "interviewer.llamaserve"]
    assert stock[1:3] == ["-m", "llama_cpp.server"]
    assert ours[3:] == stock[3:]  # same model, port and llama.cpp options either way
