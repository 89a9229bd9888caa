"""The chat interviewer in the browser. Start it with `interviewer app` (or `streamlit run ui/app.py`).

State that must outlive a browser refresh lives in SQLite (the session id is in the URL, ?sid=...); the LLM, the
store, the database handle and the grading thread pool are process-wide singletons (st.cache_resource).
"""

from __future__ import annotations

import sys
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the ui/ helpers, also under AppTest

import streamlit as st  # noqa: E402
from pydantic import SecretStr, ValidationError  # noqa: E402

from interviewer.interview.agent import Interviewer  # noqa: E402
from interviewer.interview.transcript import Utterance  # noqa: E402
from interviewer.knowledge.bank import CONCEPTS, load_bank  # noqa: E402
from interviewer.config import Settings  # noqa: E402
from interviewer.interview.db import SessionDB  # noqa: E402
from interviewer.grading.grader import Grader  # noqa: E402
from interviewer.models.registry import BACKENDS, make_llm  # noqa: E402
from interviewer.interview.report import build_report  # noqa: E402
from interviewer.interview.session import TRACKS, SessionConfig  # noqa: E402
from views import render_history, render_report  # noqa: E402

# Material icons ship with Streamlit's own font, so they render even where no emoji font is installed.
AVATARS = {"interviewer": ":material/record_voice_over:", "candidate": ":material/person:"}
ROLES = {"interviewer": "assistant", "candidate": "user"}

st.set_page_config(page_title="Mock deep-learning interview", page_icon=":material/record_voice_over:")
settings = Settings()  # fresh every run: cheap, and tests change the environment between runs


# --- process-wide singletons ---------------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def get_db(path: str) -> SessionDB:
    return SessionDB(path)


@st.cache_resource(show_spinner=False)
def get_questions(knowledge_dir: str):
    return load_bank(Path(knowledge_dir)).questions


@st.cache_resource(show_spinner=False)
def get_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="grading")


def settings_for(choice: tuple) -> Settings:
    """The settings with the backend form's choice: the backend, and what was typed into its form."""
    backend, filled = choice
    update: dict = {"backend": backend}
    asked = {name for name, _ in filled}
    if asked and "base_url" not in asked:
        update["base_url"] = None  # a hosted API chosen in the form, not a server whose URL was set elsewhere
    for name, value in filled:
        if value:
            update[name] = SecretStr(value) if name == "api_key" else value
    return settings.model_copy(update=update)


@st.cache_resource(show_spinner=False)
def get_llm(backend: str, filled: tuple, data_dir: str, _on_progress=None):
    return make_llm(settings_for((backend, filled)), backend, on_progress=_on_progress)


class BackgroundStore:
    """The Chroma store, opened (and on first start filled) on a worker thread so the app never waits for it.

    Grades are grounded with related material only once it is ready; until then (or if it cannot be opened)
    `search` raises and the grader simply grades without grounding.
    """

    def __init__(self, ingest: bool) -> None:
        self.store, self.error = None, None
        get_pool().submit(self._open, ingest)

    def _open(self, ingest: bool) -> None:
        from interviewer.knowledge.store import Store, ensure_ingested

        try:
            store = Store(settings)
            if store.count() == 0:
                if not ingest:
                    raise RuntimeError("the store is empty (run `interviewer ingest`)")
                ensure_ingested(store)
            self.store = store
        except Exception as e:  # grounding is optional
            self.error = f"{type(e).__name__}: {e}"

    def search(self, *args, **kwargs):
        if self.store is None:
            raise RuntimeError(self.error or "the question store is still being built")
        return self.store.search(*args, **kwargs)


@st.cache_resource(show_spinner=False)
def get_store(data_dir: str, ingest: bool) -> BackgroundStore:
    return BackgroundStore(ingest)


@st.cache_resource(show_spinner=False)
def live_agents() -> weakref.WeakValueDictionary:
    """Agents of the sessions open in this process: the same session in two tabs shares one (one turn at a time)."""
    return weakref.WeakValueDictionary()


def friendly(e: Exception) -> str:
    return (f"The language model is not available: {e}\n\n"
            "Your interview is saved. Pick another backend under **Model** in the sidebar, or try again.")


def obtain_llm(choice: tuple):
    """The LLM for the chosen backend, loading it (with a visible status) the first time in this browser session."""
    if st.session_state.get("llm_ready") == choice:
        return get_llm(*choice, str(settings.data_dir))
    with st.status("Loading the language model...", expanded=True) as status:
        try:
            llm = get_llm(*choice, str(settings.data_dir), _on_progress=lambda m: status.update(label=m))
        except Exception as e:  # LLMError, ModelError, network errors: keep the page alive
            status.update(label="The language model could not be loaded", state="error")
            st.error(friendly(e))
            return None
        status.update(label=f"Model ready ({llm.backend}: {llm.model})", state="complete", expanded=False)
    st.session_state["llm_ready"] = choice
    return llm


def grader_for(llm, choice: tuple) -> Grader:
    return Grader(llm, get_store(str(settings.data_dir), not BACKENDS[choice[0]].scripted), settings)


# --- sidebar --------------------------------------------------------------------------------------------------------

if switch := st.session_state.pop("switch_to", None):  # set by a button on the history page
    st.session_state["view"] = switch

with st.sidebar:
    st.title(":material/record_voice_over: Mock interview")
    view = st.radio("Page", ["Interview", "History"], key="view", horizontal=True)
    user = st.text_input("Your name (for your history)", value="local", key="user").strip() or "local"
    st.subheader("Set-up")
    track = st.selectbox("Track", TRACKS, index=TRACKS.index("mixed"), key="track",
                         help="mixed adapts: strong answers move up a tier, weak ones down")
    mode = st.radio("Mode", ["interview", "practice"], key="mode",
                    captions=["feedback at the end, like a real interview", "grade and feedback after each answer"])
    n_questions = st.slider("Number of questions", 1, 15, 5, key="n_questions")
    concepts = st.multiselect("Focus concepts (optional)", CONCEPTS, key="concepts")
    start = st.button("Start a new interview", type="primary", key="start")
    with st.expander("Model", expanded=False):
        default = settings.resolved_backend()
        options = [name for name, b in BACKENDS.items() if b.offered or name == default]
        backend = st.radio("Backend", options, index=options.index(default) if default in options else 0,
                           format_func=lambda name: BACKENDS[name].label, key="backend")
        filled = {}
        for f in BACKENDS[backend].setup:
            value = st.text_input(f.label, "" if f.secret else (f.default(settings) or ""), key=f"{backend}_{f.setting}",
                                  type="password" if f.secret else "default", help=f.help or None)
            filled[f.setting] = value or None
    choice = (backend, tuple(sorted(filled.items())))

db = get_db(str(settings.db_path))
questions = get_questions(str(settings.knowledge_dir))


# --- chat -----------------------------------------------------------------------------------------------------------

def show(utterances: list[Utterance]) -> None:
    """In order; a background utterance (feedback) keeps its place with a placeholder and is filled in after the rest
    is on screen, so the next question never waits for the previous answer's feedback."""
    deferred = []
    for u in utterances:
        with st.chat_message("assistant", avatar=AVATARS["interviewer"]):
            if u.streaming and u.background:
                slot = st.empty()
                slot.markdown("_Grading your answer; the feedback will appear here..._")
                deferred.append((slot, u))
            elif u.streaming:
                st.write_stream(iter(u))
            else:
                st.markdown(u.text)
    for slot, u in deferred:
        with slot.container():
            st.write_stream(iter(u))


def show_turns(turns) -> None:
    for t in turns:
        with st.chat_message(ROLES[t.role], avatar=AVATARS[t.role]):
            st.markdown(t.text)


def resume(sid: str) -> Interviewer | None:
    if (live := live_agents().get(sid)) is not None:  # open in another tab of this app
        return live
    stored = db.load(sid)
    if stored is None:
        st.warning("That interview no longer exists; start a new one from the sidebar.")
        st.query_params.clear()
        return None
    llm = obtain_llm(choice)
    if llm is None:  # show what was said, so nothing looks lost
        show_turns(stored.turns)
        st.stop()
    agent = Interviewer.resume(sid, db=db, llm=llm, grader=grader_for(llm, choice), questions=questions,
                               executor=get_pool())
    live_agents()[sid] = agent
    st.session_state["agent_choice"] = choice
    st.toast("Welcome back: the interview continues where you left it.")
    return agent


def run_interview_page() -> None:
    agent: Interviewer | None = st.session_state.get("agent")
    fresh: list[Utterance] = []
    past = None  # the transcript before this run's new utterances
    if start:
        try:
            config = SessionConfig(track=track, n_questions=n_questions, mode=mode, concepts=concepts, user=user)
        except ValidationError as e:
            st.error(e.errors()[0]["msg"])
            return
        llm = obtain_llm(choice)
        if llm is None:
            return
        agent = Interviewer.start(config, db=db, backend=backend, llm=llm, grader=grader_for(llm, choice),
                                  questions=questions, executor=get_pool())
        st.session_state["agent"], st.session_state["agent_choice"] = agent, choice
        live_agents()[agent.session.id] = agent
        st.query_params["sid"] = agent.session.id
        past, fresh = [], agent.opening()
    elif agent is None and (sid := st.query_params.get("sid")):
        agent = resume(sid)
        st.session_state["agent"] = agent
    if agent is None:
        st.header("Deep-learning mock interview")
        st.markdown("Choose a track, a mode and the number of questions in the sidebar, then press "
                    "**Start a new interview**. During the interview you can type `hint`, `skip`, `repeat` or ask "
                    "what a question means. Your answers are saved as you go: refresh or come back later and the "
                    "interview continues.")
        return
    if st.session_state.get("agent_choice") != choice:  # the backend changed in the sidebar: use it from now on
        llm = obtain_llm(choice)
        if llm is not None:
            agent.llm, agent.grader = llm, grader_for(llm, choice)
            st.session_state["agent_choice"] = choice
    st.caption(f"{agent.session.config.describe().capitalize()} · {agent.session.config.mode} mode · "
               f"session `{agent.session.id}`")
    show_turns(list(agent.session.turns) if past is None else past)
    try:
        show(fresh)
        message = st.chat_input("Your answer (or: hint, skip, repeat)", disabled=agent.phase == "finished",
                                key="chat")
        end = agent.phase != "finished" and st.sidebar.button("End this interview now", key="end")
        if message:
            with st.chat_message("user", avatar=AVATARS["candidate"]):
                st.markdown(message)
            with st.spinner("Listening..."):
                replies = agent.handle(message)
            show(replies)
        elif end:
            show(agent.finish())
    except Exception as e:  # never lose the session over an unexpected error: it is all in SQLite
        st.error(f"Something went wrong ({type(e).__name__}: {e}). Your interview is saved; send your message "
                 f"again, or switch the model in the sidebar.")
    else:
        if (message or end) and agent.phase == "finished":
            st.rerun()  # redraw from the transcript: input closed, no end button, the report below
    if agent.phase == "finished":
        with st.spinner("Finishing the grading..."):
            agent.wait_for_grades(timeout=settings.request_timeout_s * 3)
            agent.ensure_grades()
        render_report(build_report(agent.session, questions, agent.recent), key=agent.session.id)


def run_history_page() -> None:
    opened = render_history(db, user) or st.session_state.get("history_opened")
    if not opened:
        return
    st.session_state["history_opened"] = opened
    stored = db.load(opened)
    if stored is None:
        st.session_state.pop("history_opened", None)
        return
    st.divider()
    if not stored.finished and st.button("Continue this interview", key="continue"):
        st.session_state.pop("agent", None)
        st.query_params["sid"] = opened
        st.session_state["switch_to"] = "Interview"
        st.rerun()
    render_report(build_report(stored, questions), key=f"history-{opened}")


if view == "History":
    run_history_page()
else:
    run_interview_page()
