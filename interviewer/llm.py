"""The one LLM seam. Everything above it speaks the OpenAI chat protocol.

Backends (settings pick one, no code change): `local` (embedded llama.cpp server, started on demand),
`openai` (OPENAI_API_KEY), `compatible` (any OpenAI-compatible base URL), `fake` (scripted, for tests).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from interviewer.config import Settings, get_settings

T = TypeVar("T", bound=BaseModel)
Messages = list[dict]


class LLMError(RuntimeError):
    """The backend is down, timed out, or kept returning output we cannot use."""


class LLM:
    """A thin wrapper over an OpenAI-compatible client: complete, stream, structured."""

    name = "openai-compatible"

    def __init__(self, client, model: str, *, backend: str, json_mode: str = "json_schema",
                 decoding: str = "") -> None:
        self.client = client
        self.model = model
        self.backend = backend
        self.decoding = decoding  # a server-side decoding change that can alter replies (e.g. "jump-forward")
        # json_schema (OpenAI), json_object+schema (llama.cpp server), json_object (generic compatible servers)
        self.json_mode = json_mode

    @property
    def cache_id(self) -> str:
        """What cached replies are keyed by: the model, and any decoding change that can alter its replies."""
        return f"{self.model}|{self.decoding}" if self.decoding else self.model

    def complete(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0,
                 response_format: dict | None = None, stop: list[str] | None = None,
                 grammar: str | None = None) -> str:
        kwargs = dict(model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature)
        if response_format:
            kwargs["response_format"] = response_format
        if grammar:
            kwargs["extra_body"] = {"grammar": grammar}
        if stop:
            kwargs["stop"] = stop
        try:
            resp = self.client.chat.completions.create(**kwargs)
        except Exception as e:  # openai raises many kinds; all mean "no answer"
            raise LLMError(f"{self.backend} backend failed: {type(e).__name__}: {e}") from e
        return resp.choices[0].message.content or ""

    def stream(self, messages: Messages, *, max_tokens: int = 400, temperature: float = 0.2,
               grammar: str | None = None) -> Iterator[str]:
        """Text deltas. A stream that stops without a finish reason was cut off (llama.cpp's server ends a stream
        early when another request arrives): that raises LLMError instead of passing as a complete reply."""
        kwargs = dict(model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True)
        if grammar:
            kwargs["extra_body"] = {"grammar": grammar}
        finished, chunks = False, None
        try:
            chunks = self.client.chat.completions.create(**kwargs)
            for chunk in chunks:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
                finished = finished or bool(choice.finish_reason)
        except Exception as e:
            raise LLMError(f"{self.backend} backend failed while streaming: {type(e).__name__}: {e}") from e
        finally:  # also when the consumer stops early: closing the connection stops the server's generation
            if hasattr(chunks, "close"):
                chunks.close()
        if not finished:
            raise LLMError(f"{self.backend} backend ended the stream early (interrupted by another request?)")

    def _format(self, schema: type[BaseModel]) -> dict:
        js = schema.model_json_schema()
        if self.json_mode == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": js}}
        if self.json_mode == "json_object+schema":
            return {"type": "json_object", "schema": js}
        return {"type": "json_object"}

    def structured(self, messages: Messages, schema: type[T], *, max_tokens: int = 256,
                   temperature: float = 0.0, grammar: str | None = None) -> T:
        """JSON output validated by pydantic; one repair round with the error shown to the model, then LLMError.

        grammar: a llama.cpp GBNF grammar, used instead of the schema where the server takes one (the local backend).
        """
        fmt = self._format(schema)
        if grammar and self.json_mode == "json_object+schema":  # llama.cpp: the exact grammar, no schema
            fmt, extra = None, {"grammar": grammar}
        else:
            extra = {}
        raw = self.complete(messages, max_tokens=max_tokens, temperature=temperature, response_format=fmt, **extra)
        try:
            return parse_json(raw, schema)
        except (ValueError, ValidationError) as first:
            repair = messages + [
                {"role": "assistant", "content": raw[:2000]},
                {"role": "user", "content": f"That was not valid for the schema ({_short(first)}). "
                                            f"Reply with only the corrected JSON object."},
            ]
            raw2 = self.complete(repair, max_tokens=max_tokens, temperature=0.0, response_format=fmt, **extra)
            try:
                return parse_json(raw2, schema)
            except (ValueError, ValidationError) as second:
                raise LLMError(f"{self.backend} returned invalid structured output twice: {_short(second)}") from None


def _short(e: Exception) -> str:
    return str(e).replace("\n", " ")[:300]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_json(raw: str, schema: type[T]) -> T:
    text = _FENCE.sub("", raw.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    return schema.model_validate(json.loads(text[start:end + 1]))


# --- the scripted fake ---------------------------------------------------------------------------------------------

Script = Callable[[Messages], str] | list[str] | str


class FakeLLM(LLM):
    """Scripted replies for unit tests (like llm's toy model or Inspect's mockllm).

    `script` is a list of replies consumed in order, a function of the messages, or one fixed reply.
    Every call is recorded in `.calls`. `fail=True` simulates a backend that is down.
    """

    def __init__(self, script: Script = "{}", *, fail: bool = False, delay_s: float = 0.0) -> None:
        self.script = script
        self.fail = fail
        self.delay_s = delay_s
        self.calls: list[dict] = []
        self.model = "fake"
        self.backend = "fake"
        self.decoding = ""
        self.json_mode = "json_schema"

    def _reply(self, messages: Messages) -> str:
        if self.fail:
            raise LLMError("fake backend is down")
        if self.delay_s:
            time.sleep(self.delay_s)
        if callable(self.script):
            return self.script(messages)
        if isinstance(self.script, list):
            if not self.script:
                raise LLMError("fake script exhausted")
            return self.script.pop(0)
        return self.script

    def complete(self, messages: Messages, **kwargs) -> str:
        self.calls.append({"messages": messages, **kwargs})
        return self._reply(messages)

    def stream(self, messages: Messages, **kwargs) -> Iterator[str]:
        self.calls.append({"messages": messages, "stream": True, **kwargs})
        reply = self._reply(messages)
        for word in re.findall(r"\S+\s*", reply):
            yield word


# --- backend selection -----------------------------------------------------------------------------------------------

def make_llm(settings: Settings | None = None, backend: str | None = None, *, on_progress=None) -> LLM:
    """Build the LLM the settings ask for. The local backend starts (or reuses) the embedded server."""
    from openai import OpenAI

    settings = settings or get_settings()
    backend = backend or settings.resolved_backend()
    timeout = settings.request_timeout_s
    if backend == "fake":
        from interviewer.toymodel import toy_reply

        return FakeLLM(script=toy_reply)
    if backend == "openai":
        import os

        key = settings.api_key.get_secret_value() if settings.api_key else os.environ.get("OPENAI_API_KEY")
        if not key:
            raise LLMError("backend 'openai' needs OPENAI_API_KEY (or INTERVIEWER_API_KEY)")
        client = OpenAI(api_key=key, base_url=settings.base_url or None, timeout=timeout, max_retries=1)
        return LLM(client, settings.model or settings.openai_model, backend="openai", json_mode="json_schema")
    if backend == "compatible":
        if not settings.base_url:
            raise LLMError("backend 'compatible' needs a base URL (INTERVIEWER_BASE_URL, e.g. http://localhost:11434/v1)")
        key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
        client = OpenAI(api_key=key, base_url=settings.base_url, timeout=timeout, max_retries=1)
        return LLM(client, settings.model or "default", backend="compatible", json_mode="json_object")
    if backend == "local":
        from interviewer.localserver import ensure_server

        url = ensure_server(settings, on_progress=on_progress)
        client = OpenAI(api_key="local", base_url=url, timeout=timeout, max_retries=0)
        return LLM(client, "qwen2.5-coder-1.5b-instruct-q4_k_m", backend="local", json_mode="json_object+schema",
                   decoding="jump-forward" if settings.jump_forward else "")
    raise LLMError(f"unknown backend {backend!r}: choose local, openai, compatible or fake")
