"""Jump-forward: which text a grammar forces, and what the server does with it (interviewer.llm.llamaserve)."""

from __future__ import annotations

import json

import pytest

from interviewer.settings import Settings
from interviewer.grading.judge import judge_grammar
from interviewer.llm.jumpforward import forced_plan, forced_text

# The judge's grammar, then a line of free prose (as any grammar that goes on into text the model writes).
LEAD = "\n\nNote: "
PLAN = forced_plan(judge_grammar("technical", 2).replace(' "}"', ' "}" ' + json.dumps(LEAD) + ' [^\\n]+'))


def test_the_plan_is_the_judge_grammars_fixed_shape_up_to_the_free_prose():
    assert PLAN == ["{", '"1":"', None, '"', ",", '"2":"', None, '"', ",", '"c":', None, "}", LEAD]


@pytest.mark.parametrize("text, forced", [
    ('{"', '1":"'),                     # inside a literal: its rest
    ('{"1":"', ""),                     # a verdict comes next: the model's choice
    ('{"1":"y', '","2":"'),             # literals run on up to the next choice
    ('{"1":"y","2":"n","c":', ""),
    ('{"1":"y","2":"n","c":4', "}"),    # not into the lead's new line: the brace reaches the client first
    ('{"1":"y","2":"n","c":4}\n', LEAD[1:]),
    ('{"1":"y","2":"n","c":4}' + LEAD + "Good", None),  # past the plan: nothing more to propose
    ('{"1":"yes"', None),               # off the plan (cannot happen under the grammar): propose nothing
])
def test_forced_text(text, forced):
    assert forced_text(PLAN, text) == forced


@pytest.mark.parametrize("grammar", [
    'root ::= object\nobject ::= "{" ws "}"',          # a rule first: no fixed shape
    'root ::= ("a" | "b") "c"',                        # an alternative first
    'root ::= [0-9]+ "x"',                              # a repeated class
    "",
])
def test_grammars_without_a_fixed_start_give_an_empty_plan(grammar):
    assert forced_plan(grammar) == []


def test_a_class_ends_a_run_of_literals_and_a_repeat_ends_the_plan():
    assert forced_plan('root ::= "ab" "c" [xy] "d" [0-9]* "e"') == ["ab", "c", None, "d"]
    assert forced_text(["ab", "c", None, "d"], "a") == "bc"


def test_the_setting_reaches_the_server_command(tmp_path):
    from pathlib import Path

    from interviewer.llm.localserver import server_command

    on = server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path))
    off = server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path, local_jump_forward=False))
    assert "--no-jump-forward" not in on and off[-1] == "--no-jump-forward"
    assert off[:-1] == on


def test_cached_judgements_are_kept_apart_by_decoding():
    from interviewer.llm.base import LLM
    from interviewer.llm.registry import LOCAL_CAPABILITIES

    plain = LLM(None, "m", backend="local", capabilities=LOCAL_CAPABILITIES)
    jumped = LLM(None, "m", backend="local", capabilities=LOCAL_CAPABILITIES, decoding="jump-forward")
    assert plain.cache_id == "m" and jumped.cache_id != plain.cache_id


# --- on the real model ---------------------------------------------------------------------------------------------

# `llama` (the real model, loaded once per module) is in conftest.py.


def _judge(llama, monkeypatch, jump: bool, feedback: bool) -> tuple[str, object, int]:
    from llama_cpp import LlamaGrammar
    from llama_cpp import llama as llama_mod

    from interviewer.llm import llamaserve
    from interviewer.grading.judge import judge_messages

    monkeypatch.setattr(llama_mod.Llama, "_init_sampler", llamaserve._init_sampler_drafting if jump
                        else llamaserve._init_sampler)
    monkeypatch.setattr(llama_mod.Llama, "eval", llamaserve._eval if jump else llamaserve._stock_eval)
    llama.draft_model = None
    calls = []
    stock_eval = llama_mod.Llama.eval
    monkeypatch.setattr(llama_mod.Llama, "eval", lambda self, tokens: calls.append(len(tokens)) or stock_eval(self,
                                                                                                               tokens))
    kps = ["zeroes activations at random during training", "rescales by 1/(1-p)", "off at inference"]
    msgs = judge_messages("technical", "What is dropout?", "Dropout randomly zeroes activations...", kps,
                          "Dropout zeroes random activations while training and is switched off at inference.")
    llama.reset()
    text = judge_grammar("technical", len(kps))
    if feedback:
        text = text.replace(' "}"', ' "}" ' + json.dumps(LEAD) + ' [^\\n]+')
    grammar = LlamaGrammar.from_string(text, verbose=False)
    out = llama.create_chat_completion(messages=msgs, temperature=0.0, repeat_penalty=1.1,
                                       max_tokens=40 if feedback else 30, grammar=grammar)
    return out["choices"][0]["message"]["content"], llama._sampler, len(calls) - 1  # minus the prompt's read


@pytest.mark.slow
def test_forced_text_is_read_in_batches_and_the_reply_keeps_its_shape(llama, monkeypatch):
    plain, plain_sampler, plain_reads = _judge(llama, monkeypatch, jump=False, feedback=False)
    jumped, sampler, reads = _judge(llama, monkeypatch, jump=True, feedback=False)
    reply, plain_reply = json.loads(jumped), json.loads(plain)
    assert list(reply) == list(plain_reply) == ["1", "2", "3", "c"]
    assert set(reply.values()) - {"y", "p", "n", "x", 0, 1, 2, 3, 4, 5} == set()
    assert sampler.jumped >= 4  # e.g. `","` and the key digit between two verdicts
    # The point of it: fewer reads of the model than output tokens, where without it there is one read per token.
    assert plain_reads >= plain_sampler.tokens - 1
    assert reads < sampler.tokens - 4


@pytest.mark.slow
def test_the_model_still_chooses_the_token_where_forced_text_meets_free_text(llama, monkeypatch):
    text, sampler, _ = _judge(llama, monkeypatch, jump=True, feedback=True)
    assert LEAD in text
    prose = text.split(LEAD, 1)[1]
    assert prose and not prose[0].isspace()
    # The lead ends in a space; forcing it as a token of its own ("Note:" + " " + "The") derails the model's
    # prose. The space must come inside the model's own first word (" The").
    pieces = [llama.detokenize([t]).decode("utf-8", errors="replace") for t in sampler.output]
    assert " " not in pieces
