from __future__ import annotations

import os
from pathlib import Path

import pytest

from interviewer import PROJECT_ROOT
from interviewer.knowledge.bank import load_bank
from interviewer.config import Settings

# Never touch the user's real data directory from tests.
os.environ.setdefault("INTERVIEWER_CONFIG", str(Path("/nonexistent/interviewer-test-config.toml")))


@pytest.fixture(scope="session")
def bank():
    return load_bank(PROJECT_ROOT / "knowledge")


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), backend="fake")


@pytest.fixture(scope="session")
def store(session_settings, bank):
    """One real Chroma store with the whole bank, shared by read-only tests."""
    from interviewer.knowledge.store import Store

    s = Store(session_settings)
    s.ingest(bank, progress=False)
    return s
