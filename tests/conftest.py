from __future__ import annotations

import os
from pathlib import Path

import pytest

from checkout import PROJECT_ROOT
from interviewer.bank.bank import load_bank
from interviewer.settings import Settings

# Never touch the user's real data directory from tests.
os.environ.setdefault("INTERVIEWER_CONFIG", str(Path("/nonexistent/interviewer-test-config.toml")))


@pytest.fixture(scope="session")
def bank():
    return load_bank(PROJECT_ROOT / "interviewer" / "resources" / "knowledge")


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), backend="fake")


@pytest.fixture(scope="session")
def store(session_settings, bank):
    """One real Chroma store with the whole bank, shared by read-only tests."""
    from interviewer.bank.store import Store

    s = Store(session_settings)
    s.ingest(bank, progress=False)
    return s


@pytest.fixture
def db(tmp_path):
    """A fresh session database of the test's own."""
    from interviewer.store import SessionDB

    return SessionDB(tmp_path / "s.sqlite3")


@pytest.fixture(scope="session")
def postgres_url():
    """The PostgreSQL server `make test` starts (scripts/test_postgres.sh), or one named in the environment. Without
    one the PostgreSQL tests are skipped, unless INTERVIEWER_REQUIRE_POSTGRES=1 (set by .ci/run): CI has root to
    start one, so there a missing server fails them instead of letting half the database tests pass unseen."""
    url = os.environ.get("INTERVIEWER_TEST_DATABASE_URL")
    if not url:
        reason = ("no PostgreSQL for the tests: INTERVIEWER_TEST_DATABASE_URL is unset (`make test` starts one; "
                  "scripts/test_postgres.sh says on stderr why it printed no URL)")
        if os.environ.get("INTERVIEWER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}, and INTERVIEWER_REQUIRE_POSTGRES=1 requires it", pytrace=False)
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_schema_url(postgres_url):
    """A URL whose tables live in a new schema of this test's own, dropped afterwards."""
    import uuid

    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{joiner}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request, tmp_path):
    """A new, empty database on each engine: a SQLite path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "s.sqlite3"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """The Streamlit app's environment: the scripted model, a data dir of the test's own, no API key, no cached
    resources. Yields the app's session database."""
    import streamlit as st

    from interviewer.store import SessionDB

    monkeypatch.setenv("INTERVIEWER_BACKEND", "fake")
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path))
    # The toy model's grades steer these flows (a weak answer earns a follow-up); graded anchors would read its word
    # overlap against the bank's authored answers and move them. Anchored grading has tests of its own.
    monkeypatch.setenv("INTERVIEWER_ANCHORS", "false")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("INTERVIEWER_API_KEY", raising=False)
    st.cache_resource.clear()
    yield SessionDB(tmp_path / "interviewer.sqlite3")
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def llama():
    """The real embedded model in-process (llama-cpp-python), loaded once per module: for slow tests only."""
    from llama_cpp import Llama

    from interviewer.llm.localserver import ensure_model

    model = ensure_model(Settings())
    return Llama(model_path=str(model), n_ctx=2048, n_threads=2, n_batch=512, chat_format="chatml", verbose=False)
