from __future__ import annotations

import pytest
from pydantic import BaseModel

from interviewer.settings import Settings
from interviewer.llm.base import LLM, Capabilities, LLMError, parse_json
from interviewer.llm.registry import LOCAL_CAPABILITIES, make_llm, with_setup
from interviewer.llm.fake import FakeLLM


class Out(BaseModel):
    verdict: str
    level: int


def test_parse_json_tolerates_fences_and_chatter():
    assert parse_json('Sure!\n```json\n{"verdict": "yes", "level": 3}\n```', Out) == Out(verdict="yes", level=3)
    with pytest.raises(ValueError):
        parse_json("no json here", Out)


def test_structured_repairs_once_then_errors():
    llm = FakeLLM(script=["not json", '{"verdict": "no", "level": 1}'])
    value, reply = llm.structured([{"role": "user", "content": "x"}], Out)
    assert value == Out(verdict="no", level=1) and reply.text.startswith("{")
    assert len(llm.calls) == 2
    repair = llm.calls[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "not json"}  # the model sees its invalid reply
    assert '"verdict"' in repair[-1]["content"] and "schema" in repair[-1]["content"]  # and the schema
    bad = FakeLLM(script=["{}", '{"verdict": 3}'])
    with pytest.raises(LLMError, match="invalid structured output twice"):
        bad.structured([{"role": "user", "content": "x"}], Out)


class _Recorder:
    """A client that records the request and answers one fixed reply."""

    def __init__(self, text='{"verdict": "yes", "level": 2}'):
        from types import SimpleNamespace as NS

        self.kwargs = None
        self.chat = self.completions = self
        self.reply = NS(choices=[NS(message=NS(content=text), finish_reason="stop", logprobs=None)])

    def create(self, **kwargs):
        self.kwargs = kwargs
        return self.reply


@pytest.mark.parametrize("mode", ["json_schema", "json_object+schema", "guided_json", "format", "json_object", "prompt"])
def test_each_schema_mode_asks_the_way_that_server_honours(mode):
    client = _Recorder()
    llm = LLM(client, "m", backend="compatible", capabilities=Capabilities(schema_mode=mode))
    value, _ = llm.structured([{"role": "system", "content": "S"}, {"role": "user", "content": "x"}], Out)
    assert value == Out(verdict="yes", level=2)
    kw, extra = client.kwargs, client.kwargs.get("extra_body", {})
    rf = kw.get("response_format") or {}
    assert (rf.get("type") == "json_schema") == (mode == "json_schema")
    assert ("schema" in rf) == (mode == "json_object+schema")
    assert ("guided_json" in extra) == (mode == "guided_json") and ("format" in extra) == (mode == "format")
    assert ('"verdict"' in kw["messages"][0]["content"]) == (mode == "prompt")  # only then in the prompt


def test_grammar_and_sampler_fields_only_where_honoured():
    client = _Recorder()
    LLM(client, "m", backend="local", capabilities=LOCAL_CAPABILITIES).structured(
        [{"role": "user", "content": "x"}], Out, grammar='root ::= "x"', top_logprobs=5)
    assert client.kwargs["extra_body"] == {"grammar": 'root ::= "x"', "repeat_penalty": 1.0}
    assert client.kwargs["logprobs"] is True and client.kwargs["top_logprobs"] == 5
    assert "response_format" not in client.kwargs  # the grammar is exact: no schema besides it
    client = _Recorder()
    LLM(client, "m", backend="openai", capabilities=Capabilities(schema_mode="json_schema")).structured(
        [{"role": "user", "content": "x"}], Out, grammar='root ::= "x"', top_logprobs=5)
    assert "extra_body" not in client.kwargs and "logprobs" not in client.kwargs  # not offered: not asked


def test_backend_selection_by_settings(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert Settings(backend=None).resolved_backend() == "local"
    assert Settings(base_url="http://127.0.0.1:9/v1").resolved_backend() == "compatible"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert Settings().resolved_backend() == "openai"
    llm = make_llm(Settings(openai_model="gpt-test"))
    assert (llm.backend, llm.model, llm.capabilities.schema_mode) == ("openai", "gpt-test", "json_schema")
    with pytest.raises(LLMError, match="base URL"):
        make_llm(Settings(backend="compatible"))


def test_a_setup_form_fills_the_settings_and_a_hosted_api_never_gets_another_servers_url():
    base = Settings(base_url="http://elsewhere:8000/v1", model="kept")
    openai = with_setup(base, "openai", {"api_key": "sk-typed", "model": None})
    assert openai.backend == "openai" and openai.base_url is None and openai.model == "kept"
    assert openai.api_key.get_secret_value() == "sk-typed" and "sk-typed" not in repr(openai)
    compatible = with_setup(base, "compatible", {"base_url": "http://typed:1/v1", "model": "m", "api_key": None})
    assert (compatible.base_url, compatible.model) == ("http://typed:1/v1", "m")
    assert with_setup(base, "local", {}).base_url == base.base_url  # no form: nothing changes but the backend


def test_the_configured_key_goes_only_to_the_configured_server():
    base = Settings(backend="compatible", base_url="http://configured:8000/v1", api_key="sk-canary")
    elsewhere = with_setup(base, "compatible", {"base_url": "http://127.0.0.1:9999/v1", "model": "m", "api_key": None})
    assert elsewhere.base_url == "http://127.0.0.1:9999/v1" and elsewhere.api_key is None
    same = with_setup(base, "compatible", {"base_url": "http://configured:8000/v1/", "model": "m", "api_key": None})
    assert same.api_key.get_secret_value() == "sk-canary"  # the configured server keeps its key
    typed = with_setup(base, "compatible", {"base_url": "http://127.0.0.1:9999/v1", "model": "m", "api_key": "sk-own"})
    assert typed.api_key.get_secret_value() == "sk-own"  # a key typed with the address is the typist's own
    assert with_setup(base, "openai", {"api_key": None, "model": "gpt"}).api_key is None  # not to OpenAI either


def test_settings_from_env_and_toml(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('collection = "from_file"\nmax_answer_chars = 1234\n')
    monkeypatch.setenv("INTERVIEWER_CONFIG", str(cfg))
    monkeypatch.setenv("INTERVIEWER_MAX_ANSWER_CHARS", "999")
    s = Settings()
    assert s.collection == "from_file" and s.max_answer_chars == 999  # env beats file


def test_unreachable_server_raises_llm_error(tmp_path):
    llm = make_llm(Settings(data_dir=tmp_path, backend="compatible", base_url="http://127.0.0.1:9/v1",
                            request_timeout_s=2))
    assert llm.capabilities.schema_mode == "prompt" and not llm.capabilities.logprobs  # the probe found nothing
    with pytest.raises(LLMError, match="compatible backend failed"):
        llm.complete([{"role": "user", "content": "hi"}])
    with pytest.raises(LLMError):
        list(llm.stream([{"role": "user", "content": "hi"}]))


def _chunk(text=None, finish=None):
    from types import SimpleNamespace as NS

    return NS(choices=[NS(delta=NS(content=text), finish_reason=finish, logprobs=None)])


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
    llm = LLM(done, "m", backend="local", capabilities=LOCAL_CAPABILITIES)
    assert "".join(llm.stream([{"role": "user", "content": "x"}], grammar="root ::= [a-z]+")) == "Strengths: good."
    assert done.kwargs["extra_body"] == {"grammar": "root ::= [a-z]+"}
    # llama.cpp's server ends a stream with [DONE] and no finish reason when another request arrives
    cut = LLM(_StubClient([_chunk("Strengths: "), _chunk("go")]), "m", backend="local", capabilities=LOCAL_CAPABILITIES)
    pieces = []
    with pytest.raises(LLMError, match="ended the stream early"):
        for piece in cut.stream([{"role": "user", "content": "x"}]):
            pieces.append(piece)
    assert pieces == ["Strengths: ", "go"]  # what arrived is still delivered
