"""One settings model: environment variables (INTERVIEWER_*), an optional TOML file, sane defaults."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from interviewer.llm.registry import BACKENDS, implied_backend
from interviewer.resources import resource_path


def _config_file() -> Path:
    return Path(os.environ.get("INTERVIEWER_CONFIG", Path.home() / ".config" / "interviewer" / "config.toml"))


def evals_dir() -> Path:
    """The labelled data, committed caches and results of the evals: INTERVIEWER_EVALS_DIR, else the checkout's evals/
    when the package runs from one (an editable install), else ./evals. They are not part of the wheel."""
    if named := os.environ.get("INTERVIEWER_EVALS_DIR"):
        return Path(named)
    checkout = Path(__file__).resolve().parents[1]
    return checkout / "evals" if (checkout / "pyproject.toml").is_file() else Path("evals")


class Settings(BaseSettings):
    """Every knob in one place. Env vars win over the config file, which wins over defaults."""

    model_config = SettingsConfigDict(env_prefix="INTERVIEWER_", extra="ignore")

    data_dir: Path = Field(default=Path.home() / ".local" / "share" / "interviewer",
                           description="models, Chroma store, SQLite sessions")
    # The shipped bank and prompts (package data); point these at folders of your own to bring your own.
    knowledge_dir: Path = resource_path("knowledge")
    prompts_dir: Path = resource_path("prompts")

    # Chroma: a local persistent store unless a server host is set (`chroma run`).
    chroma_path: Path | None = None
    chroma_host: str | None = None
    chroma_port: int = 8000
    collection: str = "dl_bank"

    # LLM backend: local (embedded llama.cpp), openai (OPENAI_API_KEY), compatible (any base URL), fake (tests).
    backend: str | None = Field(default=None, description="a name in interviewer.llm.registry.BACKENDS")
    openai_model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    local_port: int = 0  # 0: pick a free port
    local_threads: int = 2
    local_ctx: int = 4096
    # llama.cpp's grammar-last greedy sampling (interviewer.llm.llamaserve): same tokens, cheaper JSON replies.
    local_grammar_last: bool = True
    # With it: text a grammar forces (the compact judge's `","2":"`, the feedback headings) is read in one batch instead
    # of token by token (interviewer.llm.llamaserve.GrammarDraft); ~1 s less per judge reply.
    local_jump_forward: bool = True
    request_timeout_s: float = 120.0

    # Grader
    # The score scale: "default" (shipped, fitted on the DL calib split), or a name made by
    # `interviewer calibrate --dataset file --name NAME` (your graders' scale, kept in <data dir>/calibrations/).
    calibration: str = "default"
    max_answer_chars: int = 4000
    # Read each answer against graded answers to the same question (the bank's anchors and people's grades);
    # false grades with the judge alone (to compare, or for control-flow tests whose scripted judge sets the grade).
    anchors: bool = True
    related_chunks: int = 3

    # Voice (the `voice` extra): speech-to-text on this machine; audio stays in memory unless kept.
    # base: half tiny.en's word errors in café and kitchen noise, ~0.8 s more per ~35 s answer (docs/measurements/voice.md).
    voice_model: str = Field(default="base", description="a name in interviewer.voice.stt.MODELS")
    voice_beam_size: int = 1  # greedy: about as accurate as beam 5 on our fixture, ~35% faster (interviewer/voice/stt.py)
    max_recording_s: float = Field(default=300.0, description="longer recordings are refused, not cut")
    keep_recordings: bool = Field(default=False, description="save each spoken answer under <data dir>/recordings")
    speak_questions: str = Field(default="browser", description="read questions aloud: browser, piper (GPL extra), off")

    @property
    def jump_forward(self) -> bool:
        """Whether the embedded server decodes with jump-forward: it is part of the grammar-last sampler."""
        return self.local_grammar_last and self.local_jump_forward

    @property
    def chroma_dir(self) -> Path:
        return self.chroma_path or self.data_dir / "chroma"

    models_path: Path | None = Field(default=None, description="where the joined model file lives")

    @property
    def models_dir(self) -> Path:
        return self.models_path or self.data_dir / "models"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "interviewer.sqlite3"

    # Team mode: sign-in with accounts and roles; sessions on a shared PostgreSQL when its URL is set. A database
    # that holds an account asks for a sign-in whatever this says (team/accounts.py team_mode).
    team_mode: bool = Field(default=False, description="sign-in required (also before the first account exists); "
                                                       "candidates see only their own sessions")
    database_url: SecretStr | None = Field(default=None,
                                           description="postgresql://user:password@host:port/db; else the SQLite file")

    @property
    def database(self) -> str:
        """What SessionDB opens: the PostgreSQL URL if one is set, else the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url else str(self.db_path)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, name: str | None) -> str | None:
        if name is not None and name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}: choose {', '.join(BACKENDS)}")
        return name

    def resolved_backend(self) -> str:
        """An explicit choice wins; else the backend the settings imply (`llm.registry.implied_backend`)."""
        return implied_backend(self)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
