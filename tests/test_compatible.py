"""The compatible backend against fake OpenAI-compatible HTTP servers that each honour something else: every one
gives a real grade (the model's judgement, not the embedding fallback) or a clear error, never a silent fallback."""

from __future__ import annotations

import json

import pytest

from fake_openai import Behaviour, FakeServer
from interviewer.settings import Settings
from interviewer.grading.grader import Grader
from interviewer.llm.registry import make_llm
from interviewer.llm.probe import PROBE_FILE

ANSWER = "Dropout zeroes activations at random during training, with a new mask on every forward pass."


def _grade(tmp_path, server: FakeServer, bank):
    settings = Settings(data_dir=tmp_path, backend="compatible", base_url=server.url, model="fake-model",
                        request_timeout_s=10)
    llm = make_llm(settings)
    return llm, Grader(llm, settings=settings).score(bank.get("guide-22"), ANSWER)


@pytest.mark.parametrize("behaviour,mode", [
    (Behaviour(honours={"json_object"}), "json_object"),  # no schema enforced: the prompt and the parser carry it
    (Behaviour(honours={"json_object+schema", "grammar"}, rejects={"json_schema"}), "json_object+schema"),
    (Behaviour(honours={"json_schema"}), "json_schema"),
    (Behaviour(honours={"guided_json"}), "guided_json"),  # vLLM
    (Behaviour(honours={"format"}), "format"),  # Ollama
    (Behaviour(), "json_object"),  # honours nothing: takes response_format json_object and ignores it
    (Behaviour(rejects={"json_object"}), "prompt"),  # refuses even that: the schema goes into the prompt
])
def test_each_kind_of_server_gets_a_real_grade(tmp_path, bank, behaviour, mode):
    with FakeServer(behaviour) as server:
        llm, g = _grade(tmp_path, server, bank)
    assert llm.capabilities.schema_mode == mode
    assert llm.capabilities.grammar == ("grammar" in behaviour.honours)
    assert not g.evidence_only and g.judgement == "argmax", g.notes
    assert g.key_points[0].status == "covered" and g.score > 0


def test_a_server_that_answers_in_words_is_understood(tmp_path, bank):
    with FakeServer(Behaviour(words=True)) as server:
        _, g = _grade(tmp_path, server, bank)
        replies = [r for r in server.behaviour.requests if "KEY POINTS" in json.dumps(r["messages"])]
    assert not g.evidence_only, g.notes
    # "Yes" / "No" / "Partly" are read as y / n / p: no repair round (which shows the model its own reply) was needed,
    # for the answer nor for the graded answers it was read against.
    assert replies and not any(m["role"] == "assistant" for r in replies for m in r["messages"])
    assert g.key_points[0].status == "covered" and {k.status for k in g.key_points} <= {"covered", "partly", "missing"}


def test_logprobs_from_a_server_are_used(tmp_path, bank):
    alternatives = {"y": -0.7, "p": -1.2, "n": -1.5, "x": -4.0}
    with FakeServer(Behaviour(honours={"json_schema"}, logprobs=True, alternatives=alternatives)) as server:
        llm, g = _grade(tmp_path, server, bank)
    assert llm.capabilities.logprobs and g.judgement == "logprobs"
    probs = g.key_points[0].probabilities
    import math

    total = sum(math.exp(v) for v in alternatives.values())
    assert probs["covered"] == pytest.approx(math.exp(-0.7) / total, abs=1e-3)
    assert probs["contradicted"] == pytest.approx(math.exp(-4.0) / total, abs=1e-3)


def test_the_probe_runs_once_per_server_and_model(tmp_path, bank):
    with FakeServer(Behaviour(honours={"json_schema"})) as server:
        _grade(tmp_path, server, bank)
        probes = len(server.behaviour.requests)
        _grade(tmp_path, server, bank)
        judge_calls = len(server.behaviour.requests) - probes
    assert judge_calls == 1  # the second client read the remembered capabilities instead of probing again
    saved = json.loads((tmp_path / PROBE_FILE).read_text())
    assert [k.endswith("|fake-model") for k in saved] == [True]


def test_a_server_that_fails_every_call_gives_a_marked_grade_with_the_reason(tmp_path, bank):
    every = {"grammar", "json_schema", "json_object+schema", "json_object", "guided_json", "format", None}
    with FakeServer(Behaviour(rejects=every)) as server:
        _, g = _grade(tmp_path, server, bank)
    assert g.evidence_only and any("compatible backend failed" in n and "500" in n for n in g.notes), g.notes
