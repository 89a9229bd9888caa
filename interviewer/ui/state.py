"""What outlives one script run: process-wide resources (st.cache_resource) and the model this browser loaded.

State that must outlive a browser refresh lives in SQLite (the session id is in the URL, ?sid=...); the LLM, the
store, the database handle and the grading thread pool are shared by every browser session of this process. The
sweep that queues the grades a restart lost runs at the process's first page (`sweep_lost_grades`) and then every
`SWEEP_EVERY_S` (`keep_sweeping`): a replica that died on another machine leaves claims nobody renews, and a live
replica grades them once they go stale, whether or not it was running when they were lost.
"""

from __future__ import annotations

import logging
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import streamlit as st

from interviewer.settings import Settings
from interviewer import services
from interviewer.services import make_llm
from interviewer.grading.grader import Grader
from interviewer.grades.recovery import sweep_lost_grades as sweep_grades
from interviewer.store.database import DatabaseError
from interviewer.grades.jobs import GRADE_CLAIM_STALE_S
from interviewer.store import SessionDB
from interviewer.bank.background import BackgroundStore
from interviewer.bank.bank import load_bank
from interviewer.llm.registry import BACKENDS, prefilled, with_setup

GRADING_WORKERS = 4  # grades of several browser sessions at once; the embedded server queues what it cannot take
SWEEP_EVERY_S = GRADE_CLAIM_STALE_S / 2  # a dead replica's claim is graded within 1.5 stale times of its last beat
log = logging.getLogger(__name__)

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


# Models kept at once: the server's, and a few an instructor (or the laptop's owner) tried. Each holds a client and,
# for a compatible server, its probed capabilities; typed URLs must not grow the process without bound.
LLM_CACHE_ENTRIES = 4


@st.cache_resource(show_spinner=False, max_entries=LLM_CACHE_ENTRIES)
def get_llm(backend: str, filled: tuple, data_dir: str, _settings: Settings, _on_progress=None):
    return make_llm(with_setup(_settings, backend, dict(filled)), backend, on_progress=_on_progress)


@st.cache_resource(show_spinner=False)
def get_store(data_dir: str, ingest: bool, _settings: Settings) -> BackgroundStore:
    return BackgroundStore(_settings, get_pool(), ingest=ingest)


@st.cache_resource(show_spinner=False)
def live_agents() -> weakref.WeakValueDictionary:
    """What is live in this process per session: the interviewer of a session open in a tab (the same session in two
    tabs shares one: one turn at a time), or the grading jobs a sweep started for it (taken over by the interviewer
    when the session is opened)."""
    return weakref.WeakValueDictionary()


def default_choice(settings: Settings) -> Choice:
    """What the sidebar picks before anyone changes it: the settings' backend and its set-up form's defaults (the
    same key for `get_llm`, so the sweep and the first interview share one model)."""
    backend = settings.resolved_backend()
    return backend, tuple(sorted(prefilled(settings, backend).items()))


@st.cache_resource(show_spinner=False)
def sweep_lost_grades(target: str, _db: SessionDB, _settings: Settings) -> Future | None:
    """Once per process, at its first page: queue the grades that a restart lost, without waiting for their sessions
    to be opened (`grades.recovery.sweep_lost_grades`, which claims each in the database first, so replicas starting
    together grade each once). Only when something was lost does the model load, and then on the pool: the first
    page does not wait for it."""
    if not (lost := _db.ungraded_answers()):
        return None
    return get_pool().submit(_sweep, _db, _settings, lost)


_swept: list = []  # the grading jobs of periodic sweeps, kept alive (and in live_agents) while their grades run
_swept_lock = threading.Lock()


def sweep_once(db: SessionDB, settings: Settings) -> list:
    """Queue what is ungraded and claimable now: sessions live in this process re-queue their own (a tab reopened on
    this replica after another died), the rest are swept. Returns the grading jobs it started."""
    if not (lost := db.ungraded_answers()):
        return []
    live = live_agents()
    for session_id in {sid for sid, _ in lost}:
        if (agent := live.get(session_id)) is not None:
            agent.requeue_lost_grades()
    agents = _sweep(db, settings, lost)
    with _swept_lock:
        _swept[:] = [a for a in _swept if a.running()] + agents
    return agents


def _sweep_forever(db: SessionDB, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(SWEEP_EVERY_S):
        try:
            sweep_once(db, settings)
        except Exception:  # a database briefly away: the next round tries again
            log.warning("the periodic sweep of lost grades failed", exc_info=True)


@st.cache_resource(show_spinner=False)
def keep_sweeping(target: str, _db: SessionDB, _settings: Settings) -> threading.Event:
    """Once per process: a daemon thread that sweeps every SWEEP_EVERY_S. Returns the event that stops it."""
    stop = threading.Event()
    threading.Thread(target=_sweep_forever, args=(_db, _settings, stop), name="grade-sweep", daemon=True).start()
    return stop


def _sweep(db: SessionDB, settings: Settings, lost: list[tuple[str, int]]) -> list:
    choice = default_choice(settings)
    try:
        llm = get_llm(*choice, str(settings.data_dir), settings)
    except Exception as e:  # said once, on the console: the grades are still made when their sessions are opened
        log.warning("the grades a restart lost were not queued: the model %s did not load (%s); each is graded when "
                    "its session is opened again", choice[0], e)
        return []
    swept = sweep_grades(db, lost=lost, exclude=set(live_agents().keys()), grader=grader_for(settings, llm, choice, db),
                         questions=get_questions(str(settings.knowledge_dir)), executor=get_pool())
    for jobs in swept:  # a session opened while its grades are swept takes over the sweep's jobs
        live_agents()[jobs.session.id] = jobs
    return swept  # held by the cached future: the jobs stay alive (and in live_agents) until the process ends


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


def grader_for(settings: Settings, llm, choice: Choice, db: SessionDB | None = None) -> Grader:
    """A scripted model's grades are not worth grounding, so its store is never filled on first start. The grader
    reads the bank's anchors and the graded answers people added to the sessions database (`db`, else the app's)."""
    store = get_store(str(settings.data_dir), not BACKENDS[choice[0]].scripted, settings)
    return services.build_grader(settings, llm, store=store, db=db or get_db(settings.database))
