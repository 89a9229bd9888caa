"""Which backends exist and how each is built: one dict of name -> `Backend`, which settings pick from by name.

The settings, the terminal CLI and the app all read their choices from `BACKENDS`; what a backend can do is a
capability of the LLM it builds (`LLM.capabilities`), and what the product does around it (a set-up form, whether its
judgements are worth keeping) is an attribute here. Nothing above this module compares backend names.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from interviewer.llm.base import LLM, Capabilities, LLMError

Progress = Callable[[str], None] | None

LOCAL_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
# Our embedded server: GBNF grammars, logprobs from its sampler's records, llama.cpp sampler fields.
# Qwen2.5's languages (its model card names these among its 29+).
QWEN_LANGUAGES = ["en", "zh", "fr", "es", "pt", "de", "it", "ru", "ja", "ko", "vi", "th", "ar", "nl", "pl", "tr", "id"]
LOCAL_CAPABILITIES = Capabilities(grammar=True, schema_mode="json_object+schema", logprobs=True, sampler_options=True,
                                  languages=QWEN_LANGUAGES)
OPENAI_CAPABILITIES = Capabilities(schema_mode="json_schema", logprobs=True)
# A hosted API retries once on a dropped connection; the embedded server is on this machine, a retry would only wait.
HOSTED_RETRIES = 1


@dataclass(frozen=True)
class SetupField:
    """One setting a backend's set-up form asks for (the app draws these; the CLI reads the same settings)."""

    setting: str  # the Settings field it fills
    label: str
    secret: bool = False
    default: Callable[[object], str | None] = lambda settings: None
    help: str = ""


@dataclass(frozen=True)
class Backend:
    name: str
    label: str  # how menus name it
    build: Callable[[object, Progress], LLM]
    setup: tuple[SetupField, ...] = ()
    scripted: bool = False  # replies come from a script, not a model: free to remake, not worth caching or grounding
    offered: bool = True    # listed in the app's menu (the scripted one only when the settings already chose it)
    starts_server: bool = False  # builds a server on this machine: worth starting, with progress, before the app
    probed: bool = False    # what its server honours is probed once and kept in the data directory (llm.probe)
    # Chosen without being named when this holds of the settings (the first such in BACKENDS); the `default` one
    # otherwise.
    implied_by: Callable[[object], bool] = lambda settings: False
    default: bool = False


def _openai_client(**kwargs):
    from openai import OpenAI

    return OpenAI(**kwargs)


def _secret(settings) -> str | None:
    return settings.api_key.get_secret_value() if settings.api_key else None


def _build_fake(settings, on_progress: Progress) -> LLM:
    from interviewer.llm.fake import toy_llm

    return toy_llm()


def _build_openai(settings, on_progress: Progress) -> LLM:
    key = _secret(settings) or os.environ.get("OPENAI_API_KEY")
    if not key:
        raise LLMError("backend 'openai' needs OPENAI_API_KEY (or INTERVIEWER_API_KEY)")
    client = _openai_client(api_key=key, base_url=settings.base_url or None, timeout=settings.request_timeout_s,
                            max_retries=HOSTED_RETRIES)
    return LLM(client, settings.model or settings.openai_model, backend="openai", capabilities=OPENAI_CAPABILITIES)


def _build_compatible(settings, on_progress: Progress) -> LLM:
    from interviewer.llm.probe import capabilities_for

    if not settings.base_url:
        raise LLMError("backend 'compatible' needs a base URL (INTERVIEWER_BASE_URL, e.g. http://localhost:11434/v1)")
    client = _openai_client(api_key=_secret(settings) or "not-needed", base_url=settings.base_url,
                            timeout=settings.request_timeout_s, max_retries=HOSTED_RETRIES)
    model = settings.model or "default"
    caps = capabilities_for(client, settings.base_url, model, settings.data_dir, on_progress=on_progress)
    return LLM(client, model, backend="compatible", capabilities=caps)


def _build_local(settings, on_progress: Progress) -> LLM:
    from interviewer.llm.localserver import api_key, ensure_server

    url = ensure_server(settings, on_progress=on_progress)
    client = _openai_client(api_key=api_key(settings), base_url=url, timeout=settings.request_timeout_s, max_retries=0)
    return LLM(client, LOCAL_MODEL, backend="local", capabilities=LOCAL_CAPABILITIES,
               decoding="jump-forward" if settings.jump_forward else "")


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("local", "Embedded model (default, runs offline)", _build_local, starts_server=True, default=True),
    Backend("openai", "OpenAI", _build_openai, implied_by=lambda s: not s.base_url and bool(os.environ.get(
        "OPENAI_API_KEY")), setup=(
        SetupField("api_key", "OpenAI API key", secret=True, help="kept in memory for this app only"),
        SetupField("model", "Model", default=lambda s: s.model or s.openai_model))),
    Backend("compatible", "OpenAI-compatible server (URL + model)", _build_compatible, setup=(
        SetupField("base_url", "Base URL", default=lambda s: s.base_url or "http://localhost:11434/v1"),
        SetupField("model", "Model name", default=lambda s: s.model),
        SetupField("api_key", "API key (if needed)", secret=True)), probed=True,
            implied_by=lambda s: bool(s.base_url)),
    Backend("fake", "Scripted fake model (tests)", _build_fake, scripted=True, offered=False),
)}
BACKEND_HELP = "LLM backend: " + ", ".join(BACKENDS) + " (default: settings)"


def backend_spec(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise LLMError(f"unknown backend {name!r}: choose {', '.join(BACKENDS)}") from None


def prefilled(settings, backend: str) -> dict[str, str | None]:
    """A backend's set-up form as it stands before anyone types: each field's default from the settings, secrets
    empty (an API key is typed, never shown back)."""
    return {f.setting: None if f.secret else (f.default(settings) or None) for f in BACKENDS[backend].setup}


def _same_server(a: str | None, b: str | None) -> bool:
    return (a or "").strip().rstrip("/") == (b or "").strip().rstrip("/")


def with_setup(settings, backend: str, filled: dict[str, str | None]):
    """The settings with a set-up form's answers: the backend, and each field typed in. A form that asks for no base
    URL (a hosted API) clears one set elsewhere, so the key typed for OpenAI is never sent to another server. The
    configured key goes only to the configured server: a form that points elsewhere without typing a key of its own
    sends none (it would otherwise hand the server's key to whatever address was typed)."""
    from pydantic import SecretStr

    update: dict = {"backend": backend}
    if filled and "base_url" not in filled:
        update["base_url"] = None
    for name, value in filled.items():
        if value:
            update[name] = SecretStr(value) if name == "api_key" else value
    if "api_key" not in update and not _same_server(update.get("base_url", settings.base_url), settings.base_url):
        update["api_key"] = None
    return settings.model_copy(update=update)


def implied_backend(settings) -> str:
    """The backend the settings ask for: one named wins; else the first whose condition holds (a base URL means a
    compatible server, an OpenAI key OpenAI), else the default (the embedded model)."""
    if settings.backend:
        return settings.backend
    implied = next((b.name for b in BACKENDS.values() if b.implied_by(settings)), None)
    return implied or next(b.name for b in BACKENDS.values() if b.default)


def make_llm(settings, backend: str | None = None, *, on_progress: Progress = None) -> LLM:
    """Build the LLM the settings (`interviewer.settings.Settings`) ask for. The local backend starts (or reuses) the
    embedded server; a compatible server is probed once (the result is kept in the data directory)."""
    return backend_spec(backend or implied_backend(settings)).build(settings, on_progress)
