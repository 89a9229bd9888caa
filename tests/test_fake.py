"""The fake model: routed by the caller's task, recorded, and bound by grammars as the real server is."""

from __future__ import annotations

import json

import pytest

from checkout import PROJECT_ROOT
from interviewer.grading.judge import judge_grammar, reply_text
from interviewer.llm.base import Capabilities
from interviewer.llm.fake import FakeLLM, ScriptError, toy_llm
from interviewer.llm.jumpforward import grammar_pattern
from interviewer.llm.registry import LOCAL_CAPABILITIES, make_llm

USER = [{"role": "user", "content": "anything"}]


def test_no_prompt_carries_a_routing_tag():
    tagged = [p.name for p in (PROJECT_ROOT / "interviewer" / "resources" / "prompts").glob("*.md") if "[task:" in p.read_text(encoding="utf-8")]
    assert tagged == []


def test_the_toy_answers_by_the_task_it_is_given_and_records_it():
    llm = toy_llm()
    assert json.loads(llm.complete(USER, task="intent")) == {"intent": "answer"}
    assert llm.complete(USER, task="hint") != llm.complete(USER, task="followup")
    assert llm.complete(USER) == "OK."  # no task named: nothing routes it
    assert [c.get("task") for c in llm.calls] == ["intent", "hint", "followup", None]


def test_the_fake_backend_is_the_toy():
    from interviewer.settings import Settings

    llm = make_llm(Settings(backend="fake"))
    assert isinstance(llm, FakeLLM) and llm.complete(USER, task="greet").startswith("Hello")


def test_the_judge_grammar_reads_as_a_pattern():
    grammar = judge_grammar("technical", 3)
    pattern = grammar_pattern(grammar)
    assert pattern.fullmatch(reply_text("ypn", {"c": 4}))
    assert not pattern.fullmatch(reply_text("ypn", {"c": 9}))  # a level outside 0-5
    assert not pattern.fullmatch('{"1": "y", "2": "p", "3": "n", "c": 4}')  # spaces the grammar does not allow
    assert grammar_pattern('root ::= item+\nitem ::= [a-z]') is None  # rules: no pattern claimed


def test_a_grammar_binds_the_fake_only_where_the_backend_honours_grammars():
    grammar = judge_grammar("technical", 2)
    bound = FakeLLM("not json", capabilities=LOCAL_CAPABILITIES)
    with pytest.raises(ScriptError):
        bound.generate(USER, grammar=grammar)
    free = FakeLLM("not json", capabilities=Capabilities(schema_mode="json_schema"))
    assert free.generate(USER, grammar=grammar).text == "not json"  # a server without grammars ignores them
    fits = FakeLLM(reply_text("yn", {"c": 2}), capabilities=LOCAL_CAPABILITIES)
    assert fits.generate(USER, grammar=grammar).text == '{"1":"y","2":"n","c":2}'


def test_the_toy_judge_fits_the_judge_grammar(bank, session_settings):
    from interviewer.grading.grader import Grader

    llm = toy_llm(capabilities=LOCAL_CAPABILITIES)
    q = bank.questions[0]
    grade = Grader(llm, settings=session_settings).score(q, " ".join(q.key_points))
    assert grade.judgement and not grade.evidence_only  # the toy's judge reply passed the grammar and was read
    assert any(c.get("grammar") for c in llm.calls)
