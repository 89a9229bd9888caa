"""The sidebar: which page, who, and the interview's set-up (track, mode, length, focus, model)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from interviewer.settings import Settings
from interviewer.team.accounts import Account
from interviewer.session import MODES, TRACKS, SessionConfig
from interviewer.bank.bank import CONCEPTS
from interviewer.llm.registry import BACKENDS, prefilled
from interviewer.planning.tailor import MAX_DOCUMENT_BYTES, MAX_DOCUMENT_CHARS, READABLE, DocumentError, \
    cut_pasted, read_document
from interviewer.voice.tts import ENGINES, piper_missing
from interviewer.ui.auth import sign_out_button
from interviewer.ui.state import Choice, default_choice

MODE_CAPTIONS = {"interview": "feedback at the end, like a real interview",
                 "practice": "grade and feedback after each answer"}
MAX_QUESTIONS = 15  # the menu's choice; the session itself allows more (the terminal's --n)
_DEFAULTS = SessionConfig()
SPEAK_LABELS = {"browser": "browser", "piper": "Piper", "off": "off"}
MAX_TOPIC_CHARS = 200  # a topic is a few words; it is embedded whole


@dataclass(frozen=True)
class Setup:
    view: str
    user: str
    track: str
    mode: str
    n_questions: int
    concepts: list[str]
    start: bool  # "Start a new interview" was pressed in this run
    choice: Choice
    start_plan: bool = False  # "Today's practice" was pressed: the session asks the user's plan
    speak: str = "off"  # how questions are read aloud: an engine of interviewer.voice.tts
    keep_recordings: bool = False
    topic: str = ""  # "practise questions about KV caches": the interview asks the bank's closest questions
    job: str = ""  # a job description to tailor the interview to (pasted or read from a document)
    cv: str = ""
    document_error: str | None = None  # why an uploaded document could not be read
    account: Account | None = None  # who signed in (team mode); None on the laptop, where the name is typed

    @property
    def backend(self) -> str:
        return self.choice[0]


def _model_form(settings: Settings) -> Choice:
    default = settings.resolved_backend()
    options = [name for name, b in BACKENDS.items() if b.offered or name == default]
    backend = st.radio("Backend", options, index=options.index(default) if default in options else 0,
                       format_func=lambda name: BACKENDS[name].label, key="backend")
    filled, defaults = {}, prefilled(settings, backend)
    for f in BACKENDS[backend].setup:
        value = st.text_input(f.label, defaults[f.setting] or "", key=f"{backend}_{f.setting}",
                              type="password" if f.secret else "default", help=f.help or None)
        filled[f.setting] = value or None
    return backend, tuple(sorted(filled.items()))


@st.cache_data(max_entries=4, show_spinner=False)  # a job and a CV, and the ones they replace
def _read(data: bytes, name: str) -> tuple[str, str | None]:
    """A document's text, or why it cannot be read: parsed once per file, not on every run of the script."""
    try:
        return read_document(data, name), None
    except DocumentError as e:
        return "", str(e)


def _document(label: str, key: str) -> tuple[str, str | None]:
    upload = st.file_uploader(label, type=[s.lstrip(".") for s in READABLE], key=key,
                              max_upload_size=MAX_DOCUMENT_BYTES // 1_000_000)
    return ("", None) if upload is None else _read(upload.getvalue(), upload.name)


def _job_form() -> tuple[str, str, str | None]:
    """The job description (pasted, or a document) and an optional CV; an unreadable document's reason. Pasted text
    wins over an uploaded job description."""
    # max_chars stops a browser; the cut stops a paste sent around it (the server never reads more than a document's)
    pasted = cut_pasted(st.text_area("Job description", key="job_text", height=120, max_chars=MAX_DOCUMENT_CHARS,
                                     placeholder="Paste the job ad; the interview asks the bank's questions that "
                                                 "match it"))
    job_doc, job_error = _document("...or upload it", "job_file")
    cv, cv_error = _document("Your CV (optional: its claims are probed too)", "cv_file")
    if job_error:
        st.warning(job_error + (". The pasted job description is used" if pasted else ""))
    elif pasted and job_doc:
        st.caption("The pasted job description is used, not the uploaded one.")
    if cv_error:
        st.warning(cv_error)
    return (pasted or job_doc), cv, job_error or cv_error


def _voice_form(settings: Settings) -> tuple[str, bool]:
    engines = list(ENGINES)
    default = settings.speak_questions if settings.speak_questions in engines else "browser"
    speak = st.radio("Read questions aloud", engines, index=engines.index(default), key="speak", horizontal=True,
                     format_func=SPEAK_LABELS.get, help="browser: your browser's own voice; piper: a local neural "
                     "voice (the optional GPL `speech` extra)")
    if speak == "piper" and (reason := piper_missing()):
        st.caption(reason)
    keep = st.toggle("Keep my recordings", value=settings.keep_recordings, key="keep_recordings",
                     help="off: audio is transcribed in memory on this computer and then discarded")
    return speak, keep


def draw(settings: Settings, pages: list[str], account: Account | None = None) -> Setup:
    if switch := st.session_state.pop("switch_to", None):  # set by a button on the history page
        st.session_state["view"] = switch
    with st.sidebar:
        st.title(":material/record_voice_over: Mock interview")
        view = st.radio("Page", pages, key="view", horizontal=True)
        if account is not None:
            sign_out_button(account)
            user = account.name
        else:
            user = (st.text_input("Your name (for your history)", value=_DEFAULTS.user, key="user").strip()
                    or _DEFAULTS.user)
        st.subheader("Set-up")
        track = st.selectbox("Track", TRACKS, index=TRACKS.index(_DEFAULTS.track), key="track",
                             help="mixed adapts: strong answers move up a tier, weak ones down")
        mode = st.radio("Mode", MODES, key="mode", captions=[MODE_CAPTIONS[m] for m in MODES])
        n_questions = st.slider("Number of questions", 1, MAX_QUESTIONS, _DEFAULTS.n_questions, key="n_questions")
        concepts = st.multiselect("Focus concepts (optional)", CONCEPTS, key="concepts")
        topic = st.text_input("Or practise a topic", key="topic", placeholder="e.g. KV caches, why my loss is NaN",
                              max_chars=MAX_TOPIC_CHARS,
                              help="the interview asks the bank's questions closest to what you type")
        topic = topic.strip()[:MAX_TOPIC_CHARS]
        start = st.button("Start a new interview", type="primary", key="start")
        start_plan = st.button("Today's practice", key="start_plan", icon=":material/event_repeat:",
                               help="what is due for review (weakest areas first), then new questions; "
                                    "as many as the number of questions above")
        with st.expander("Tailor to a job (optional)", expanded=False):
            job, cv, document_error = _job_form()
        with st.expander("Voice", expanded=False):
            speak, keep = _voice_form(settings)
        if account is None or account.instructor:
            with st.expander("Model", expanded=False):
                choice = _model_form(settings)
        else:  # a candidate grades with the server's model: the form could send its key elsewhere, or self-grade
            choice = default_choice(settings)
    return Setup(view=view, user=user, track=track, mode=mode, n_questions=n_questions, concepts=concepts,
                 start=start, start_plan=start_plan, choice=choice, speak=speak, keep_recordings=keep, topic=topic,
                 job=job, cv=cv, document_error=document_error, account=account)
