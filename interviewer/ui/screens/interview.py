"""The interview page: start or resume a session, pass each message to the interviewer, draw what it says."""

from __future__ import annotations

import time

import streamlit as st
from pydantic import ValidationError

from interviewer.settings import Settings
from interviewer.team.accounts import may_open
from interviewer.interview.agent import MAX_MESSAGE_CHARS, Interviewer
from interviewer.grades.queue import queue_line
from interviewer import services
from interviewer.planning.plan import NoJobMatch, PlanError, SessionPlan, plan_session
from interviewer.report import build_report
from interviewer.interview.transcript import Utterance
from interviewer.ui import state, voice
from interviewer.ui.sidebar import Setup
from interviewer.ui.views import PRACTISE_KEY, QUEUE_REFRESH_S, render_report, show, show_candidate, show_turns

WELCOME = ("Choose a track, a mode and the number of questions in the sidebar, then press **Start a new interview**, "
           "or **Today's practice** for what is due for review and your weakest areas. "
           "During the interview you can type `hint`, `skip`, `repeat` or ask what a question means. Your answers are "
           "saved as you go: refresh or come back later and the interview continues.")
# Waiting for the last grades at the end: a few model requests' worth, then the report says what is still grading.
FINISH_WAIT_REQUESTS = 3
STORE_WAIT_S = 300  # embedding the bank on a first start takes about a minute on two cores


def _planned(setup: Setup, settings: Settings, llm) -> SessionPlan | None:
    """Today's practice or a job's or a topic's plan, when asked for (`plan_session`); None when it found nothing."""
    questions = state.get_questions(str(settings.knowledge_dir))
    if setup.start_plan:
        return plan_session(questions, today=True, db=state.get_db(settings.database), user=setup.user,
                            n=setup.n_questions)
    if setup.document_error and not setup.job:  # an unreadable upload and nothing pasted: not a track interview
        st.warning(f"Not started: {setup.document_error}. Or remove the file to be interviewed by track.")
        return None
    if not setup.job and not setup.topic:
        return SessionPlan()
    store = state.get_store(str(settings.data_dir), True, settings)  # matching needs the bank in the store
    try:
        with st.spinner("Matching the job description to the question bank (the first time: embedding it)..."
                        if setup.job else "Finding the bank's questions on your topic..."):
            store.opening.result(timeout=STORE_WAIT_S)
            plan = plan_session(questions, job=setup.job, cv=setup.cv, topic=setup.topic, store=store, llm=llm,
                                n=setup.n_questions)
    except (RuntimeError, TimeoutError) as e:
        st.warning(f"The question store is not ready ({e or 'still being built'}); try again in a moment.")
        return None
    except NoJobMatch:
        st.warning("Nothing in the question bank matches this job description: is it a deep-learning role? "
                   "Clear it to be interviewed by track.")
        return None
    except PlanError as e:
        st.warning(f"{e}; try other words, or clear it.")
        return None
    for note in plan.notes:
        st.caption(note)
    return plan


def _start(setup: Setup, settings: Settings, practise: dict[str, str] | None = None) -> Interviewer | None:
    """A new session as the sidebar sets it up; `practise` (question id -> why, from a report's "Practise these"):
    a practice session on those questions instead."""
    llm = state.obtain_llm(settings, setup.choice)
    if llm is None:
        return None
    plan = services.planned(state.get_questions(str(settings.knowledge_dir)), practise) if practise else \
        _planned(setup, settings, llm)
    if plan is None:
        return None
    try:
        config = services.session_config(plan, track=setup.track, n_questions=setup.n_questions,
                                          mode="practice" if practise else setup.mode, concepts=setup.concepts,
                                          user=setup.user)
    except ValidationError as e:
        st.error(e.errors()[0]["msg"])
        return None
    agent = Interviewer.start(config, db=state.get_db(settings.database), backend=setup.backend, llm=llm,
                              grader=state.grader_for(settings, llm, setup.choice),
                              questions=state.get_questions(str(settings.knowledge_dir)), executor=state.get_pool())
    st.session_state["agent"], st.session_state["agent_choice"] = agent, setup.choice
    state.live_agents()[agent.session.id] = agent
    st.query_params["sid"] = agent.session.id
    return agent


def _resume(sid: str, setup: Setup, settings: Settings) -> Interviewer | None:
    db = state.get_db(settings.database)
    live = state.live_agents().get(sid)  # open in another tab of this app, or its grades being swept
    stored = live.session if live is not None else db.load(sid)
    if stored is None:
        st.warning("That interview no longer exists; start a new one from the sidebar.")
        st.query_params.clear()
        return None
    if not may_open(setup.account, stored.user, team_mode=settings.team_mode):
        st.error("That interview belongs to another candidate.")
        st.query_params.clear()
        return None
    if isinstance(live, Interviewer):
        return live
    llm = state.obtain_llm(settings, setup.choice)
    if llm is None:  # show what was said, so nothing looks lost
        show_turns(stored.turns)
        st.stop()
    parts = dict(db=db, llm=llm, grader=state.grader_for(settings, llm, setup.choice),
                 questions=state.get_questions(str(settings.knowledge_dir)), executor=state.get_pool())
    if live is not None:  # its grades are being swept: the interviewer takes over those grading jobs
        agent = Interviewer(live.session, grading=live, **parts)
    else:
        agent = Interviewer.resume(sid, **parts)
    state.live_agents()[sid] = agent
    st.session_state["agent_choice"] = setup.choice
    st.toast("Welcome back: the interview continues where you left it.")
    return agent


def _follow_the_sidebar(agent: Interviewer, setup: Setup, settings: Settings) -> None:
    """The backend changed in the sidebar: the interview uses it from the next message on."""
    if st.session_state.get("agent_choice") == setup.choice:
        return
    llm = state.obtain_llm(settings, setup.choice)
    if llm is not None:
        agent.llm, agent.grader = llm, state.grader_for(settings, llm, setup.choice)
        st.session_state["agent_choice"] = setup.choice


def _converse(agent: Interviewer, setup: Setup, settings: Settings) -> bool:
    """The chat input, the microphone and the end button for one run; True when this run's message or button ended
    the interview."""
    spoken = voice.recorder(agent, settings, setup.keep_recordings) if agent.phase != "finished" else None
    message = st.chat_input("Your answer (or: hint, skip, repeat)", disabled=agent.phase == "finished", key="chat",
                            max_chars=MAX_MESSAGE_CHARS)
    delivery = None
    if spoken and spoken[0].strip():
        message, delivery = spoken
    end = agent.phase != "finished" and st.sidebar.button("End this interview now", key="end")
    if message:
        show_candidate(message)
        with st.spinner("Listening..."):
            replies = agent.handle(message, delivery=delivery)
        show(replies, queue_position=agent.queue_position)
        voice.speak(replies, setup.speak)
    elif end:
        show(agent.finish(), queue_position=agent.queue_position)
    return bool(message or end) and agent.phase == "finished"


def draw(setup: Setup, settings: Settings) -> None:
    agent: Interviewer | None = st.session_state.get("agent")
    fresh: list[Utterance] = []
    past = None  # the transcript before this run's new utterances
    practise = st.session_state.pop(PRACTISE_KEY, None)  # a report's "Practise these" was pressed
    if setup.start or setup.start_plan or practise:
        agent = _start(setup, settings, practise)
        if agent is None:
            return
        past, fresh = [], agent.opening()
    elif agent is None and (sid := st.query_params.get("sid")):
        agent = _resume(sid, setup, settings)
        st.session_state["agent"] = agent
    if agent is None:
        st.header("Deep-learning mock interview")
        st.markdown(WELCOME)
        return
    _follow_the_sidebar(agent, setup, settings)
    st.caption(f"{agent.session.config.describe().capitalize()} · {agent.session.config.mode} mode · "
               f"session `{agent.session.id}`")
    show_turns(list(agent.session.turns) if past is None else past)
    try:
        show(fresh, queue_position=agent.queue_position)
        voice.speak(fresh, setup.speak)
        ended_now = _converse(agent, setup, settings)
    except Exception as e:  # never lose the session over an unexpected error: it is all in SQLite
        st.error(f"Something went wrong ({type(e).__name__}: {e}). Your interview is saved; send your message "
                 f"again, or switch the model in the sidebar.")
    else:
        if ended_now:
            st.rerun()  # redraw from the transcript: input closed, no end button, the report below
    if agent.phase != "finished" and (agent.pending() or agent.queue_position() is not None):
        _grading_queue(agent)
    if agent.phase == "finished":
        with st.spinner("Finishing the grading..."):
            _wait_for_grades(agent, settings.request_timeout_s * FINISH_WAIT_REQUESTS)
            agent.ensure_grades()
        render_report(build_report(agent.session, state.get_questions(str(settings.knowledge_dir)), agent.recent),
                      key=agent.session.id)


@st.fragment(run_every=QUEUE_REFRESH_S)
def _grading_queue(agent: Interviewer) -> None:
    """Redrawn on its own while this session's grades wait behind other candidates'; empty when none does."""
    if line := queue_line(agent.queue_position()):
        st.caption(line)


def _wait_for_grades(agent: Interviewer, timeout_s: float) -> None:
    """The report's wait for the last grades, saying meanwhile how many answers they wait behind."""
    slot = st.empty()
    deadline = time.monotonic() + timeout_s
    while not agent.wait_for_grades(timeout=max(0.0, min(QUEUE_REFRESH_S, deadline - time.monotonic()))):
        if time.monotonic() >= deadline or not agent.grading.running():
            break  # out of time, or what is missing has no job to wait for (`ensure_grades` does it next)
        if line := queue_line(agent.queue_position()):
            slot.caption(line)
    slot.empty()
