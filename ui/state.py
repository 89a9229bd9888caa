"""What outlives one script run: process-wide resources (st.cache_resource) and the model this browser loaded.

State that must outlive a browser refresh lives in SQLite (the session id is in the URL, ?sid=...); the LLM, the
store, the database handle and the grading thread pool are shared by every browser session of this process.
"""

from __future__ import annotations

import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import streamlit as st

from interviewer.config import Settings
from interviewer.grading.grader import Grader
from interviewer.interview.database import DatabaseError
from interviewer.interview.db import SessionDB
from interviewer.knowledge.background import BackgroundStore
from interviewer.knowledge.bank import load_bank
from interviewer.models.registry import BACKENDS, make_llm, with_setup

GRADING_WORKERS = 4  # grades of several browser sessions at once; the embedded server queues what it cannot take

Choice = tuple[str, tuple[tuple[str, str | None], ...]]  # (backend, the set-up form's (setting, value) pairs)


@st.cache_resource(show_spinner=False)
def _open_db(target: str) -> SessionDB:
    return SessionDB(target)


def get_db(target: str) -> SessionDB:
    """The sessions database (a SQLite path or a PostgreSQL URL); one that cannot be opened stops the page with the
    reason (never the password), and is tried again on the next run, not cached."""
    try:
        return _open_db(target)
    except DatabaseError as e:
        st.error(f"The sessions database cannot be opened: {e}")
        st.stop()


@st.cache_resource(show_spinner=False)
def get_questions(knowledge_dir: str):
    return load_bank(Path(knowledge_dir)).questions


@st.cache_resource(show_spinner=False)
def get_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=GRADING_WORKERS, thread_name_prefix="grading")


@st.cache_resource(show_spinner=False)
def get_llm(backend: str, filled: tuple, data_dir: str, _settings: Settings, _on_progress=None):
    return make_llm(with_setup(_settings, backend, dict(filled)), backend, on_progress=_on_progress)


@st.cache_resource(show_spinner=False)
def get_store(data_dir: str, ingest: bool, _settings: Settings) -> BackgroundStore:
    return BackgroundStore(_settings, get_pool(), ingest=ingest)


@st.cache_resource(show_spinner=False)
def live_agents() -> weakref.WeakValueDictionary:
    """Agents of the sessions open in this process: the same session in two tabs shares one (one turn at a time)."""
    return weakref.WeakValueDictionary()


def friendly(e: Exception) -> str:
    return (f"The language model is not available: {e}\n\n"
            "Your interview is saved. Pick another backend under **Model** in the sidebar, or try again.")


def obtain_llm(settings: Settings, choice: Choice):
    """The LLM for the chosen backend, loading it (with a visible status) the first time in this browser session."""
    if st.session_state.get("llm_ready") == choice:
        return get_llm(*choice, str(settings.data_dir), settings)
    with st.status("Loading the language model...", expanded=True) as status:
        try:
            llm = get_llm(*choice, str(settings.data_dir), settings, _on_progress=lambda m: status.update(label=m))
        except Exception as e:  # LLMError, ModelError, network errors: keep the page alive
            status.update(label="The language model could not be loaded", state="error")
            st.error(friendly(e))
            return None
        status.update(label=f"Model ready ({llm.backend}: {llm.model})", state="complete", expanded=False)
    st.session_state["llm_ready"] = choice
    return llm


def grader_for(settings: Settings, llm, choice: Choice) -> Grader:
    """A scripted model's grades are not worth grounding, so its store is never filled on first start."""
    return Grader(llm, get_store(str(settings.data_dir), not BACKENDS[choice[0]].scripted, settings), settings)
