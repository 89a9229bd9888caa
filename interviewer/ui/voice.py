"""The microphone and the interviewer's voice in the app: a recording becomes an editable draft, sent as the answer
with how it was delivered; the interviewer's questions can be read aloud."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from interviewer.settings import Settings
from interviewer.interview.agent import Interviewer
from interviewer.interview.transcript import Utterance
from interviewer.voice import recordings, stt, tts
from interviewer.voice.delivery import Delivery

SPOKEN_KINDS = {"question", "followup", "repeat", "clarify", "hint", "redirect"}  # what the interviewer reads aloud
UPLOAD_TYPES = ("wav", "mp3", "ogg", "webm", "m4a", "flac")
MAX_UPLOAD_MB = 50  # ~5 minutes of uncompressed 16-bit stereo; longer recordings are refused after decoding anyway
MIC_LABEL = ("Answer aloud: transcribed on this computer, kept in memory only (unless you keep recordings), "
             "and shown here for you to correct before sending")


def _send(draft_key: str) -> None:
    """The send button's callback: runs before the next script run, so the draft widget can be cleared."""
    st.session_state["spoken_send"] = (st.session_state.get(draft_key, ""), st.session_state.get("spoken_delivery"))
    st.session_state.pop(draft_key, None)
    st.session_state.pop("mic_heard", None)
    st.session_state["mic_round"] = st.session_state.get("mic_round", 0) + 1


def _keep(settings: Settings, agent: Interviewer, data: bytes, digest: str, suffix: str) -> None:
    index = agent.current.index if agent.current else "x"
    db = agent.db
    recordings.keep(settings.data_dir, agent.session.id, f"q{index}-{digest[:8]}{suffix}", data,
                    still_there=lambda: db.exists(agent.session.id))  # not after "Delete my data"


def recorder(agent: Interviewer, settings: Settings, keep_recordings: bool) -> tuple[str, Delivery | None] | None:
    """The answer spoken in an earlier run and now sent, if any; else draws the microphone and the draft."""
    if sent := st.session_state.pop("spoken_send", None):
        return sent
    if reason := stt.missing(settings.voice_model):
        st.caption(f":material/mic_off: {reason}")
        return None
    mic_round = st.session_state.get("mic_round", 0)
    audio = st.audio_input(MIC_LABEL, key=f"mic-{mic_round}")
    with st.expander("Or upload a recording"):
        uploaded = st.file_uploader("A recording of your answer", type=list(UPLOAD_TYPES), key=f"upload-{mic_round}",
                                    max_upload_size=MAX_UPLOAD_MB)
    draft_key = f"spoken_draft-{mic_round}"
    # Each widget keeps its recording over reruns: only one it has not held before is transcribed, so an upload
    # after a microphone recording (or the reverse) is heard too.
    heard_before = st.session_state.setdefault("mic_heard", {})
    for widget, recording in ((f"mic-{mic_round}", audio), (f"upload-{mic_round}", uploaded)):
        if recording is None:
            continue
        data = recording.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        if heard_before.get(widget) == digest:
            continue
        heard_before[widget] = digest
        try:
            with st.spinner("Transcribing..."):
                heard = stt.for_settings(settings).transcribe(
                    data, question=agent.current.question if agent.current else "")
        except stt.VoiceError as e:
            # No return here: the draft below must still be drawn, or Streamlit drops its (edited) text.
            st.warning(f"{e}; the draft below is kept" if draft_key in st.session_state else str(e))
            continue
        st.session_state[draft_key] = heard.text
        st.session_state["spoken_delivery"] = heard.delivery
        if keep_recordings:
            _keep(settings, agent, data, digest, Path(recording.name or "answer.wav").suffix or ".wav")
    if draft_key not in st.session_state:
        return None
    st.text_area("What I heard (correct it if needed)", key=draft_key)
    if delivery := st.session_state.get("spoken_delivery"):
        st.caption(delivery.note())
    st.button("Send this answer", key="send_spoken", type="primary", on_click=_send, args=(draft_key,))
    return None


def speak(utterances: list[Utterance], engine: str) -> None:
    """Read the finished questions and follow-ups of this run aloud."""
    lines = [tts.speakable(u.text) for u in utterances if u.kind in SPOKEN_KINDS and u.done and u.text]
    if not lines or engine == "off":
        return
    text = " ".join(lines)
    if engine == "piper":
        try:
            st.audio(tts.synthesize(text), format="audio/wav", autoplay=True)
            return
        except tts.SpeechError as e:
            st.caption(f"{e}; using the browser's voice")
    st.iframe(tts.browser_script(text), height=1)
