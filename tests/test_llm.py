from __future__ import annotations

import pytest
from pydantic import BaseModel

from interviewer.config import Settings
from interviewer.llm import LLM, FakeLLM, LLMError, make_llm, parse_json


class Out(BaseModel):
    verdict: str
    level: int


def test_parse_json_tolerates_fences_and_chatter():
    assert parse_json('Sure!\n```json\n{"verdict": "yes", "level": 3}\n```', Out) == Out(verdict="yes", level=3)
    with pytest.raises(ValueError):
        parse_json("no json here", Out)


def test_structured_repairs_once_then_errors():
    llm = FakeLLM(script=["not json", '{"verdict": "no", "level": 1}'])
    assert llm.structured([{"role": "user", "content": "x"}], Out) == Out(verdict="no", level=1)
    assert len(llm.calls) == 2
    assert "not valid for the schema" in llm.calls[1]["messages"][-1]["content"]
    bad = FakeLLM(script=["{}", '{"verdict": 3}'])
    with pytest.raises(LLMError, match="invalid structured output twice"):
        bad.structured([{"role": "user", "content": "x"}], Out)


def test_response_format_per_backend_kind():
    for mode, expected in [("json_schema", "json_schema"), ("json_object+schema", "json_object"),
                           ("json_object", "json_object")]:
        fmt = LLM(client=None, model="m", backend="x", json_mode=mode)._format(Out)
        assert fmt["type"] == expected
        assert ("schema" in fmt) == (mode == "json_object+schema")
        if mode == "json_schema":
            assert fmt["json_schema"]["schema"]["properties"].keys() == {"verdict", "level"}


def test_backend_selection_by_settings(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert Settings(backend=None).resolved_backend() == "local"
    assert Settings(base_url="http://127.0.0.1:9/v1").resolved_backend() == "compatible"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert Settings().resolved_backend() == "openai"
    llm = make_llm(Settings(openai_model="gpt-test"))
    assert (llm.backend, llm.model, llm.json_mode) == ("openai", "gpt-test", "json_schema")
    comp = make_llm(Settings(backend="compatible", base_url="http://127.0.0.1:9/v1", model="llama3"))
    assert (comp.backend, comp.model, comp.json_mode) == ("compatible", "llama3", "json_object")
    with pytest.raises(LLMError, match="base URL"):
        make_llm(Settings(backend="compatible"))


def test_settings_from_env_and_toml(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('collection = "from_file"\nmax_answer_chars = 1234\n')
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(cfg))
    monkeypatch.setenv("INTERVIEWER_MAX_ANSWER_CHARS", "999")
    s = Settings()
    assert s.collection == "from_file" and s.max_answer_chars == 999  # env beats file


def test_unreachable_server_raises_llm_error():
    llm = make_llm(Settings(backend="compatible", base_url="http://127.0.0.1:9/v1", request_timeout_s=2))
    with pytest.raises(LLMError, match="compatible backend failed"):
        llm.complete([{"role": "user", "content": "hi"}])
    with pytest.raises(LLMError):
        list(llm.stream([{"role": "user", "content": "hi"}]))


def _chunk(text=None, finish=None):
    from types import SimpleNamespace as NS

    return NS(choices=[NS(delta=NS(content=text), finish_reason=finish)])


class _StubClient:
    """Streams the given chunks, like the openai client does."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.kwargs = None
        self.chat = self
        self.completions = self

    def create(self, **kwargs):
        self.kwargs = kwargs
        return iter(self.chunks)


def test_stream_passes_the_grammar_and_flags_a_stream_cut_short():
    done = _StubClient([_chunk("Strengths: "), _chunk("good."), _chunk(None, "stop")])
    llm = LLM(done, "m", backend="local", json_mode="json_object+schema")
    assert "".join(llm.stream([{"role": "user", "content": "x"}], grammar="root ::= [a-z]+")) == "Strengths: good."
    assert done.kwargs["extra_body"] == {"grammar": "root ::= [a-z]+"}
    # llama.cpp's server ends a stream with [DONE] and no finish reason when another request arrives
    cut = LLM(_StubClient([_chunk("Strengths: "), _chunk("go")]), "m", backend="local")
    pieces = []
    with pytest.raises(LLMError, match="ended the stream early"):
        for piece in cut.stream([{"role": "user", "content": "x"}]):
            pieces.append(piece)
    assert pieces == ["Strengths: ", "go"]  # what arrived is still delivered
