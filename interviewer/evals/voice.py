"""Speech-to-text measurement: the spoken-answer fixture (evals/voice/answers.yaml) synthesised by Piper, the same
clips with café or kitchen noise at two levels (made in code from a seed), and word error rate after a normalisation
that forgives spelling, not words: case, punctuation, hyphens, and number words written as digits ("eight bit" =
"8-bit"). jiwer computes the WER over the whole corpus (errors / reference words).
"""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel

from interviewer.settings import evals_dir

FIXTURE = evals_dir() / "voice" / "answers.yaml"
SAMPLE_RATE = 16_000  # what Whisper hears (interviewer.voice.stt): the noise is made at this rate
_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_SPELLING = {"regularizer": "regulariser", "normalizes": "normalises", "normalization": "normalisation",
             "stabilizes": "stabilises", "initialization": "initialisation", "memorizes": "memorises",
             "quantization": "quantisation", "zeros": "zeroes"}


class SpokenAnswer(BaseModel):
    question: str
    answer: str


def load_fixture(path: Path = FIXTURE) -> list[SpokenAnswer]:
    return [SpokenAnswer.model_validate(x) for x in yaml.safe_load(path.read_text(encoding="utf-8"))]


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ").replace("_", " ").replace("minibatch", "mini batch")
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)  # "8bit" -> "8 bit", "l1" stays (letter first)
    words = re.findall(r"[a-z0-9']+", text)
    return " ".join(_SPELLING.get(_NUMBERS.get(w, w), _NUMBERS.get(w, w)) for w in words)


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    return float(jiwer.wer([normalize(r) for r in references], [normalize(h) for h in hypotheses]))


# --- noisy speech ----------------------------------------------------------------------------------------------------
# The clean clips with noise added at two levels, as people record answers in cafés and kitchens. Everything is made in
# code from a seed, so a rerun hears the same noise: café babble (other answers of the fixture, several at once, each
# resampled to another pitch and pace so they sound like other people, and muffled by distance) with cutlery clatter
# and a pink-noise floor; kitchen noise (a broadband pink/brown roar, an appliance hum with harmonics, clatter). Levels
# are signal-to-noise ratios over the whole clip.
NOISE_LEVELS: dict[str, float] = {"noisy-low": 15.0, "noisy-high": 5.0}  # name -> SNR in dB
NOISE_SEED = 0
BABBLE_TALKERS = 4
TALKER_RATE = (0.8, 1.25)  # each talker's clip resampled by a factor in this range: another pitch and pace
DISTANCE_HZ = 2000.0       # voices across the room lose their highs above about this
CLATTER_PER_S = 1.5   # impacts per second: a busy counter
HUM_HZ = 100.0        # a fridge or an extractor fan


def _unit(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x ** 2)))
    return x / rms if rms > 0 else x


def coloured_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (1: pink, 2: brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    return _unit(np.fft.irfft(spectrum / f ** (exponent / 2), n))


def clatter(n: int, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Cutlery and dishes: short bright bursts that die away in tens of milliseconds, at random times."""
    out = np.zeros(n)
    for _ in range(rng.poisson(CLATTER_PER_S * n / rate)):
        length = int(rate * rng.uniform(0.03, 0.12))
        start = int(rng.integers(0, max(1, n - length)))
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 5)) * rng.uniform(0.3, 1.0)
        out[start:start + length] += np.diff(burst, prepend=0.0)  # the difference: a bright, clicky timbre
    return _unit(out)


def low_pass(x: np.ndarray, cutoff_hz: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    """A gentle (fourth-order) roll-off above the cutoff."""
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return np.fft.irfft(np.fft.rfft(x) / (1 + (f / cutoff_hz) ** 4), len(x))


def other_voice(clip: np.ndarray, factor: float) -> np.ndarray:
    """The clip played `factor` times faster: higher and quicker above 1, lower and slower below."""
    return np.interp(np.arange(0, len(clip) - 1, factor), np.arange(len(clip)), clip)


def babble(others: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Several other people at once across the room: each from a random point of another clip in another voice,
    looped to length."""
    out = np.zeros(n)
    for i in rng.choice(len(others), size=min(BABBLE_TALKERS, len(others)), replace=False):
        talker = other_voice(others[i], rng.uniform(*TALKER_RATE))
        voice = np.tile(talker, n // len(talker) + 2)
        start = int(rng.integers(0, len(talker)))
        out += _unit(voice[start:start + n]) * rng.uniform(0.6, 1.0)
    return _unit(low_pass(out, DISTANCE_HZ))


def cafe_noise(n: int, rng: np.random.Generator, others: list[np.ndarray]) -> np.ndarray:
    return _unit(babble(others, n, rng) + 0.5 * clatter(n, rng) + 0.3 * coloured_noise(n, rng, 1.0))


def kitchen_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    hum = sum(np.sin(2 * np.pi * HUM_HZ * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
    roar = coloured_noise(n, rng, 1.0) + 0.7 * coloured_noise(n, rng, 2.0)
    return _unit(roar + 0.4 * _unit(hum) + 0.6 * clatter(n, rng))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Speech plus noise scaled to the SNR, peak-limited to [-1, 1] as a recorder's gain would be set."""
    gain = np.sqrt(np.mean(speech ** 2) / (np.mean(noise ** 2) * 10 ** (snr_db / 10)))
    mixed = speech + gain * noise
    return mixed / max(1.0, float(np.max(np.abs(mixed))))


def to_wav(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def noisy_corpus(clean: list[np.ndarray], levels: dict[str, float] = NOISE_LEVELS,
                 seed: int = NOISE_SEED) -> dict[str, list[bytes]]:
    """Per level, every clip (16 kHz samples) as a WAV with noise: café for even clips, kitchen for odd ones. The
    café's talkers come from the other clips, never the clip itself."""
    out: dict[str, list[bytes]] = {}
    for name, snr in levels.items():
        rng = np.random.default_rng([seed, int(snr * 10)])
        clips = []
        for i, speech in enumerate(clean):
            others = [c for j, c in enumerate(clean) if j != i]
            noise = cafe_noise(len(speech), rng, others) if i % 2 == 0 else kitchen_noise(len(speech), rng)
            clips.append(to_wav(mix_at_snr(speech, noise, snr)))
        out[name] = clips
    return out
