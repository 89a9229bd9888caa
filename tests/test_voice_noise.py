"""The noisy speech corpus (interviewer.evals.voice): reproducible from its seed, at the signal-to-noise ratio it
names, readable by the speech-to-text's own decoder."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from interviewer.evals import voice as v


def _speech(seconds: float, pitch: float) -> np.ndarray:
    """A voiced stand-in: a tone with a syllable-rate envelope."""
    t = np.arange(int(v.SAMPLE_RATE * seconds)) / v.SAMPLE_RATE
    return 0.3 * np.sin(2 * np.pi * pitch * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)


def _samples(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as r:
        assert r.getframerate() == v.SAMPLE_RATE and r.getnchannels() == 1
        return np.frombuffer(r.readframes(r.getnframes()), dtype="<i2").astype(np.float64) / 32767


def test_the_noisy_corpus_is_the_same_for_the_same_seed_and_differs_by_level():
    clean = [_speech(2.0, p) for p in (150, 210, 260)]
    first, again = v.noisy_corpus(clean), v.noisy_corpus(clean)
    assert first == again and set(first) == set(v.NOISE_LEVELS)
    assert first["noisy-low"] != first["noisy-high"] and v.noisy_corpus(clean, seed=1) != first
    assert [len(_samples(w)) for w in first["noisy-high"]] == [len(c) for c in clean]


@pytest.mark.parametrize("kind", ["cafe", "kitchen"])
@pytest.mark.parametrize("snr", [15.0, 5.0])
def test_noise_is_mixed_at_the_named_signal_to_noise_ratio(kind, snr):
    rng = np.random.default_rng(0)
    speech = _speech(3.0, 180)
    noise = (v.cafe_noise(len(speech), rng, [_speech(2.5, 230), _speech(1.5, 140)]) if kind == "cafe"
             else v.kitchen_noise(len(speech), rng))
    mixed = v.mix_at_snr(speech, noise, snr)
    scale = float(mixed @ speech / (speech @ speech))  # the peak limiter scales speech and noise alike
    added = mixed - scale * speech
    measured = 10 * np.log10(np.mean((scale * speech) ** 2) / np.mean(added ** 2))
    assert measured == pytest.approx(snr, abs=0.5) and np.max(np.abs(mixed)) <= 1.0


def test_the_speech_to_text_decoder_reads_a_noisy_clip():
    from interviewer.voice import stt

    clip = v.noisy_corpus([_speech(1.0, 200), _speech(1.0, 250)])["noisy-low"][0]
    decoded = stt.decode(clip)
    assert len(decoded) == v.SAMPLE_RATE and np.allclose(decoded, _samples(clip), atol=1e-3)


def test_cafe_talkers_are_other_voices_across_the_room():
    tone = np.sin(2 * np.pi * 200 * np.arange(v.SAMPLE_RATE) / v.SAMPLE_RATE)
    higher = v.other_voice(tone, 1.25)
    peak = np.argmax(np.abs(np.fft.rfft(higher))) * v.SAMPLE_RATE / len(higher)
    assert len(higher) == pytest.approx(len(tone) / 1.25, abs=2) and peak == pytest.approx(250, abs=3)
    hiss = np.random.default_rng(0).standard_normal(v.SAMPLE_RATE)
    far = np.abs(np.fft.rfft(v.low_pass(hiss, v.DISTANCE_HZ)))
    f = np.fft.rfftfreq(v.SAMPLE_RATE, 1 / v.SAMPLE_RATE)
    assert far[f > 2 * v.DISTANCE_HZ].mean() < 0.1 * far[f < v.DISTANCE_HZ / 2].mean()  # the highs are gone
