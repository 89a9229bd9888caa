"""Prompt templates and the rubric live as files in interviewer/resources/prompts/; this module only reads them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from interviewer.settings import get_settings


def _dir() -> Path:
    return get_settings().prompts_dir


@lru_cache(maxsize=64)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_prompt(name: str, **variables) -> str:
    """interviewer/resources/prompts/NAME.md with {var} substitution ({{ and }} are literal braces)."""
    path = _dir() / f"{name}.md"
    if not path.exists():
        raise FileNotFoundError(f"prompt template missing: {path}")
    text = _read(path)
    return text.format(**variables) if variables else text


@lru_cache(maxsize=4)
def _rubric(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_verdicts() -> list[dict]:
    """The per-key-point verdicts (letter, status, credit, meaning, aliases), in the order the prompt lists them."""
    return _rubric(_dir() / "rubric.yaml")["verdicts"]


def load_examples() -> dict:
    """The judge's worked examples (question, key points, answers with their verdicts and level)."""
    return _rubric(_dir() / "rubric.yaml")["examples"]


def load_rubric(kind: str = "technical") -> list[dict]:
    """Criteria (name, question, levels, computed) for 'technical' or 'scenario' questions."""
    return _rubric(_dir() / "rubric.yaml")[kind]["criteria"]


def load_interview() -> dict:
    """The interviewer's lines as data: model request budgets, move and hint descriptions, templated fallbacks."""
    return _rubric(_dir() / "interview.yaml")
