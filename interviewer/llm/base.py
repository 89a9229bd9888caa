"""The one LLM seam. Everything above it speaks the OpenAI chat protocol; what a server honours is a capability.

Backends (settings pick one, no code change): `local` (embedded llama.cpp server, started on demand), `openai`
(OPENAI_API_KEY), `compatible` (any OpenAI-compatible base URL: Ollama, vLLM, llama.cpp, LM Studio...), `fake` (the toy
model, for tests). A compatible server is probed once per base URL and model (`interviewer.llm.probe`): which way of asking
for structured output it honours, and whether it returns logprobs. Code above this module asks `llm.capabilities`,
never the backend's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from interviewer.resources import resource_path

T = TypeVar("T", bound=BaseModel)
Messages = list[dict]

# How a JSON schema is sent, in the order a probe tries them (`grammar`, llama.cpp's GBNF, is a capability of its own).
SchemaMode = Literal["json_schema", "json_object+schema", "guided_json", "format", "json_object", "prompt"]
ENFORCING_MODES: tuple[str, ...] = ("json_schema", "json_object+schema", "guided_json", "format")
MAX_REPAIR_CHARS = 2000


@lru_cache(maxsize=1)
def _repair_template() -> str:
    """The message that shows a model its invalid reply's error and the schema. Part of the seam, so it is read from
    the packaged prompts, not from a prompts folder the settings point at (the seam knows no settings)."""
    return resource_path("prompts", "schema_repair.md").read_text(encoding="utf-8")


class TokenAlternative(BaseModel):
    token: str
    logprob: float


class TokenLogprob(BaseModel):
    """One generated token, OpenAI's shape: logprob 0 with no alternatives means the grammar forced it."""

    token: str
    logprob: float
    top_logprobs: list[TokenAlternative] = Field(default_factory=list)


class LLMError(RuntimeError):
    """The backend is down, timed out, or kept returning output we cannot use."""


class Capabilities(BaseModel):
    """What a server honours. Known for local and openai, probed for compatible servers."""

    grammar: bool = Field(default=False, description="a llama.cpp GBNF `grammar` field constrains the reply")
    schema_mode: SchemaMode = Field(default="prompt", description="how a JSON schema is asked for")
    logprobs: bool = Field(default=False, description="`logprobs` with `top_logprobs` come back")
    streams: bool = True
    sampler_options: bool = Field(default=False, description="takes llama.cpp sampler fields such as repeat_penalty")
    languages: list[str] | None = Field(default=None, description="languages the model reads well (None: any)")

    def describe(self) -> str:
        structured = "grammar" if self.grammar else self.schema_mode
        return f"structured output by {structured}; logprobs {'yes' if self.logprobs else 'no'}"


class Reply(BaseModel):
    text: str
    tokens: list[TokenLogprob] | None = Field(default=None, description="per-token logprobs, where asked and given")
    finish_reason: str | None = None


class Stream:
    """Text deltas of a streamed reply; `.tokens` fills with per-token logprobs as they arrive (where asked)."""

    def __init__(self, pieces: Iterator[str], tokens: list[TokenLogprob]) -> None:
        self._pieces, self.tokens = pieces, tokens

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close:
            close()


class LLM:
    """A thin wrapper over an OpenAI-compatible client: generate, stream, structured."""

    def __init__(self, client, model: str, *, backend: str, capabilities: Capabilities, decoding: str = "") -> None:
        self.client = client
        self.model = model
        self.backend = backend
        self.capabilities = capabilities
        self.decoding = decoding  # a server-side decoding change that can alter replies (e.g. "jump-forward")

    @property
    def cache_id(self) -> str:
        """What cached replies are keyed by: the model, and any decoding change that can alter its replies."""
        return f"{self.model}|{self.decoding}" if self.decoding else self.model

    # -- requests ------------------------------------------------------------------------------------------------------
    def _request(self, messages: Messages, max_tokens: int, temperature: float, *, schema: type[BaseModel] | None,
                 grammar: str | None, top_logprobs: int, stop: list[str] | None) -> dict:
        caps = self.capabilities
        kwargs: dict = dict(model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature)
        extra: dict = {}
        if grammar and caps.grammar:
            extra["grammar"] = grammar
        elif schema is not None:
            kwargs.update(schema_request(schema, caps.schema_mode, extra))
        if caps.sampler_options and temperature == 0.0:
            extra["repeat_penalty"] = 1.0  # llama.cpp's default 1.1 would push a judge away from repeating a verdict
        if top_logprobs and caps.logprobs:
            kwargs.update(logprobs=True, top_logprobs=top_logprobs)
        if stop:
            kwargs["stop"] = stop
        if extra:
            kwargs["extra_body"] = extra
        if schema is not None and caps.schema_mode == "prompt" and not (grammar and caps.grammar):
            kwargs["messages"] = with_schema_line(messages, schema)
        return kwargs

    def generate(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0,
                 schema: type[BaseModel] | None = None, grammar: str | None = None, top_logprobs: int = 0,
                 stop: list[str] | None = None, task: str | None = None) -> Reply:
        """task names the kind of request (grade, keypoints...): real backends ignore it, the toy model answers by it."""
        kwargs = self._request(messages, max_tokens, temperature, schema=schema, grammar=grammar,
                               top_logprobs=top_logprobs, stop=stop)
        try:
            resp = self.client.chat.completions.create(**kwargs)
        except Exception as e:  # openai raises many kinds; all mean "no answer"
            raise LLMError(f"{self.backend} backend failed: {type(e).__name__}: {_short(e)}") from e
        if not getattr(resp, "choices", None):
            raise LLMError(f"{self.backend} backend returned no choices")
        choice = resp.choices[0]
        return Reply(text=choice.message.content or "", tokens=_tokens(getattr(choice, "logprobs", None)),
                     finish_reason=choice.finish_reason)

    def complete(self, messages: Messages, **kwargs) -> str:
        return self.generate(messages, **kwargs).text

    def stream(self, messages: Messages, *, max_tokens: int = 400, temperature: float = 0.2,
               grammar: str | None = None, top_logprobs: int = 0, task: str | None = None) -> Stream:
        """Text deltas. A stream that stops without a finish reason was cut off (llama.cpp's server ends a stream
        early when another request arrives): that raises LLMError instead of passing as a complete reply."""
        kwargs = self._request(messages, max_tokens, temperature, schema=None, grammar=grammar,
                               top_logprobs=top_logprobs, stop=None)
        tokens: list[TokenLogprob] = []
        if not self.capabilities.streams:
            reply = self.generate(messages, max_tokens=max_tokens, temperature=temperature, grammar=grammar,
                                  top_logprobs=top_logprobs)
            tokens.extend(reply.tokens or [])
            return Stream(iter([reply.text]), tokens)
        return Stream(self._deltas(kwargs, tokens), tokens)

    def _deltas(self, kwargs: dict, tokens: list[TokenLogprob]) -> Iterator[str]:
        finished, chunks = False, None
        try:
            chunks = self.client.chat.completions.create(stream=True, **kwargs)
            for chunk in chunks:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                tokens.extend(_tokens(getattr(choice, "logprobs", None)) or [])
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
                finished = finished or bool(choice.finish_reason)
        except Exception as e:
            raise LLMError(f"{self.backend} backend failed while streaming: {type(e).__name__}: {_short(e)}") from e
        finally:  # also when the consumer stops early: closing the connection stops the server's generation
            if hasattr(chunks, "close"):
                chunks.close()
        if not finished:
            raise LLMError(f"{self.backend} backend ended the stream early (interrupted by another request?)")

    def structured(self, messages: Messages, schema: type[T], *, max_tokens: int = 256, temperature: float = 0.0,
                   grammar: str | None = None, top_logprobs: int = 0, task: str | None = None) -> tuple[T, Reply]:
        """JSON validated by pydantic. An invalid reply gets one repair round that shows the model its reply and the
        schema; a second failure raises LLMError. Returns the value and the reply it came from (text, logprobs)."""
        reply = self.generate(messages, max_tokens=max_tokens, temperature=temperature, schema=schema,
                              grammar=grammar, top_logprobs=top_logprobs, task=task)
        try:
            return parse_json(reply.text, schema), reply
        except (ValueError, ValidationError) as first:
            repair = messages + [
                {"role": "assistant", "content": reply.text[:MAX_REPAIR_CHARS]},
                {"role": "user", "content": _repair_template().format(error=_short(first),
                                                                      schema=schema_text(schema)).strip()},
            ]
            reply = self.generate(repair, max_tokens=max_tokens, temperature=0.0, schema=schema, grammar=grammar,
                                  top_logprobs=top_logprobs, task=task)
            try:
                return parse_json(reply.text, schema), reply
            except (ValueError, ValidationError) as second:
                raise LLMError(f"{self.backend} returned invalid structured output twice: {_short(second)}") from None


def schema_text(schema: type[BaseModel]) -> str:
    return json.dumps(schema.model_json_schema(by_alias=True), separators=(",", ":"))


def schema_request(schema: type[BaseModel], mode: str, extra: dict) -> dict:
    """The request fields (and extra_body fields, into `extra`) that ask a server for JSON matching `schema`."""
    js = schema.model_json_schema(by_alias=True)
    if mode == "json_schema":  # OpenAI, vLLM, Ollama, LM Studio, llama.cpp's own server
        return {"response_format": {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": js}}}
    if mode == "json_object+schema":  # llama-cpp-python's server
        return {"response_format": {"type": "json_object", "schema": js}}
    if mode == "guided_json":  # vLLM's guided decoding
        extra["guided_json"] = js
        return {}
    if mode == "format":  # Ollama's own field
        extra["format"] = js
        return {}
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}  # prompt: the schema is stated in the messages


def with_schema_line(messages: Messages, schema: type[BaseModel]) -> Messages:
    note = f"\n\nReply with one JSON object matching this JSON schema: {schema_text(schema)}"
    out = [dict(m) for m in messages]
    out[0]["content"] = out[0]["content"] + note
    return out


def _tokens(logprobs) -> list[TokenLogprob] | None:
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None
    out = []
    for e in content:
        data = e.model_dump() if hasattr(e, "model_dump") else dict(e)
        out.append(TokenLogprob(token=data.get("token") or "", logprob=float(data.get("logprob") or 0.0),
                                top_logprobs=[a for a in (data.get("top_logprobs") or []) if a.get("token") is not None]))
    return out


def _short(e: Exception) -> str:
    return str(e).replace("\n", " ")[:300]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_json(raw: str, schema: type[T]) -> T:
    text = _FENCE.sub("", raw.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    return schema.model_validate(json.loads(text[start:end + 1]))
