"""What an OpenAI-compatible server honours, found by asking it once per base URL and model and kept on disk.

Servers differ: llama-cpp-python's takes a GBNF `grammar` and `response_format: json_object` with a schema but answers
`json_schema` with HTTP 500; vLLM takes `json_schema` and `guided_json`; Ollama takes `json_schema` and its own
`format`; some honour none and must be asked in the prompt. Each probe asks for JSON the prompt does not ask for, so a
pass means the server enforced it, not that the model happened to comply. Logprobs: asked for, and checked that
`top_logprobs` came back. The result lives in `<data dir>/server-capabilities.json`, keyed by the base URL without
any user:password@ in it (a key names the server; credentials are never written there); `interviewer doctor --reprobe`
asks again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError

from interviewer.files import write_private
from interviewer.llm.base import ENFORCING_MODES, Capabilities, LLM, LLMError, parse_json

PROBE_FILE = "server-capabilities.json"
_lock = threading.Lock()


class _Colour(BaseModel):
    colour: Literal["teal", "mauve"]


# The prompt asks for something else: only an enforced constraint yields {"colour": ...}.
_PROBE_MESSAGES = [{"role": "user", "content": 'Reply with the JSON object {"fruit": "apple"} and nothing else.'}]
_PROBE_GRAMMAR = 'root ::= "{\\"colour\\":\\"" ("teal" | "mauve") "\\"}"'


def without_credentials(base_url: str) -> str:
    """The URL without user:password@, so that it can be shown, used as a key and kept on disk."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _key(base_url: str, model: str) -> str:
    return f"{without_credentials(base_url).rstrip('/')}|{model}"


def _honours(llm: LLM, **kwargs) -> bool:
    try:
        reply = llm.generate(_PROBE_MESSAGES, max_tokens=20, temperature=0.0, **kwargs)
        parse_json(reply.text, _Colour)
        return True
    except (LLMError, ValueError, ValidationError):
        return False


def _with(llm: LLM, **caps) -> LLM:
    llm.capabilities = Capabilities(**caps)
    return llm


def probe(client, model: str) -> Capabilities:
    """Ask the server; every failure is an answer ("not honoured"), never an exception."""
    trial = LLM(client, model, backend="compatible", capabilities=Capabilities(grammar=True))
    grammar = _honours(trial, grammar=_PROBE_GRAMMAR)
    mode = next((m for m in ENFORCING_MODES if _honours(_with(trial, schema_mode=m), schema=_Colour)), None)
    if mode is None:  # nothing enforces a schema: json_object if the server takes it, else the prompt alone
        try:
            _with(trial, schema_mode="json_object").generate(_PROBE_MESSAGES, max_tokens=10, schema=_Colour)
            mode = "json_object"
        except LLMError:
            mode = "prompt"
    try:
        # with a grammar where one is honoured: our own server records logprobs for grammar-constrained calls
        reply = _with(trial, logprobs=True, grammar=grammar).generate(
            _PROBE_MESSAGES, max_tokens=12, top_logprobs=5, grammar=_PROBE_GRAMMAR if grammar else None)
        logprobs = bool(reply.tokens) and any(t.top_logprobs for t in reply.tokens)
    except LLMError:
        logprobs = False
    try:
        streamed = "".join(trial.stream([{"role": "user", "content": "Say yes."}], max_tokens=2, temperature=0.0))
        streams = bool(streamed)
    except LLMError:
        streams = False
    # A server that takes GBNF grammars is of the llama.cpp family, which also takes its sampler fields.
    return Capabilities(grammar=grammar, schema_mode=mode, logprobs=logprobs, streams=streams,
                        sampler_options=grammar)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def capabilities_for(client, base_url: str, model: str, data_dir: Path, *,
                     on_progress: Callable[[str], None] | None = None) -> Capabilities:
    path = Path(data_dir) / PROBE_FILE
    key = _key(base_url, model)
    with _lock:
        known = _read(path).get(key)
        if known:
            return Capabilities.model_validate(known["capabilities"])
    if on_progress:
        on_progress(f"probing {without_credentials(base_url)} ({model}) for structured output and logprobs")
    caps = probe(client, model)
    with _lock:
        data = _read(path)
        data[key] = {"capabilities": caps.model_dump(), "probed_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        write_private(path, json.dumps(data, indent=1))
    return caps
