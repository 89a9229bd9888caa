"""Uploads and pastes that would take the shared process down: a .docx that inflates a thousand times over, a
small Opus recording of half an hour, megabytes of pasted job description. Each is made here (never committed), and
each test bounds memory by tracemalloc's peak and work by counts, not by time."""

from __future__ import annotations

import io
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from interviewer.planning.tailor import MAX_DOCUMENT_CHARS, MAX_PHRASES, DocumentError, phrases, read_document
from team_load import docx_bomb
from interviewer.voice import stt

OPUS_RATE = 8000
OPUS_FRAME_MS = 20


def _opus_webm(seconds: int) -> bytes:
    """`seconds` of low-bitrate noise as Opus in WebM, as a browser records it (no duration in the header): one
    second is encoded, then its packets are written again and again with later timestamps (milliseconds to make)."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format, encoder.bit_rate = OPUS_RATE, "mono", "flt", 6000
    frame = av.AudioFrame.from_ndarray(np.random.default_rng(0).normal(0, 0.05, (1, OPUS_RATE)).astype(np.float32),
                                       format="flt", layout="mono")
    frame.sample_rate, frame.pts = OPUS_RATE, 0
    second = [bytes(p) for p in encoder.encode(frame)]

    class Sink:  # write-only, so the muxer cannot go back and fill in a duration
        def __init__(self) -> None:
            self.out = io.BytesIO()

        def write(self, data) -> int:
            return self.out.write(data)

    sink = Sink()
    with av.open(sink, mode="w", format="webm") as out:
        stream = out.add_stream("libopus", rate=OPUS_RATE, layout="mono")
        stream.codec_context.extradata = encoder.extradata
        pts = 0
        for _ in range(seconds):
            for data in second:
                packet = av.Packet(data)
                packet.stream, packet.pts, packet.dts, packet.time_base = stream, pts, pts, Fraction(1, 1000)
                out.mux(packet)
                pts += OPUS_FRAME_MS
    return sink.out.getvalue()


def _peak_mb(fn) -> tuple[float, Exception | None]:
    tracemalloc.start()
    try:
        fn()
        raised = None
    except Exception as e:
        raised = e
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return peak, raised


def test_a_docx_that_inflates_to_150_mb_is_refused_by_its_declared_sizes():
    bomb = docx_bomb(150_000)  # 150 kB, a valid package whose document part inflates to 150 MB
    peak, raised = _peak_mb(lambda: read_document(bomb, "cv.docx"))
    assert isinstance(raised, DocumentError) and "would expand to 150 MB" in str(raised)
    assert peak < 20, f"{peak:.0f} MB"  # python-docx would have held the whole part


def test_the_10_mb_bomb_of_the_load_benchmark_declares_10_gb_and_is_refused_unread():
    """The load benchmark's upload: refused by the zip's directory alone (not read whole: before the check, python-docx
    would inflate gigabytes here)."""
    import zipfile

    from interviewer.planning.tailor import check_unzipped

    bomb = docx_bomb(9_900_000)
    assert len(bomb) <= 10_000_000
    assert sum(e.file_size for e in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) > 10e9
    peak, raised = _peak_mb(lambda: check_unzipped("job.docx", bomb))
    assert isinstance(raised, DocumentError) and "would expand to 10,0" in str(raised)
    assert peak < 5, f"{peak:.0f} MB"


def test_half_an_hour_of_opus_without_a_declared_length_is_refused_before_it_is_decoded_whole(monkeypatch):
    recording = _opus_webm(30 * 60)
    assert len(recording) < 2_000_000  # small enough for any upload limit
    monkeypatch.setattr(stt.Transcriber, "_load", lambda self: pytest.fail("no model for a refused recording"))
    peak, raised = _peak_mb(lambda: stt.Transcriber(max_seconds=300).transcribe(recording))
    assert isinstance(raised, stt.VoiceError) and "longer than 5 minutes" in str(raised)
    assert peak < 40, f"{peak:.0f} MB"  # decoded whole: 30 min x 16 kHz x (2 + 4) bytes = 173 MB


def test_a_recording_that_declares_its_length_is_refused_before_any_decoding(monkeypatch):
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(stt.SAMPLE_RATE)
        w.writeframes((np.random.default_rng(1).normal(0, 3000, stt.SAMPLE_RATE * 90)).astype(np.int16).tobytes())
    monkeypatch.setattr(stt, "_frames", lambda container: pytest.fail("decoded a recording it could refuse"))
    with pytest.raises(stt.VoiceError, match="the recording is 1.5 minutes; answers up to 1 minutes"):
        stt.decode(buffer.getvalue(), max_seconds=60)


def test_a_recording_within_the_limit_is_decoded_whole():
    recording = _opus_webm(3)
    samples = stt.decode(recording, max_seconds=10)
    assert abs(samples.size / stt.SAMPLE_RATE - 3) < 0.1 and samples.dtype == np.float32


def test_phrases_stop_at_the_most_a_job_is_read_for(monkeypatch):
    """Thousands of distinct lines: the phrases are read until MAX_PHRASES are found, in one pass."""
    from interviewer.planning import tailor

    calls = []
    real = tailor.sentences
    monkeypatch.setattr(tailor, "sentences", lambda text, **kw: calls.append(text) or real(text, **kw))
    job = "\n".join(f"Experience number {i} with training large models" for i in range(3000))
    found = phrases(job)
    assert len(found) == MAX_PHRASES and len(calls) <= MAX_PHRASES + 1


def test_a_pasted_job_description_is_cut_like_a_document(app_env, monkeypatch):
    """Five megabytes pasted into the set-up: the interview is planned from the first MAX_DOCUMENT_CHARS."""
    from interviewer.ui.screens import interview

    from apptest import new_app

    seen: list[int] = []
    monkeypatch.setattr(interview, "_planned", lambda setup, settings, llm: seen.append(len(setup.job)))
    at = new_app()
    at.text_area(key="job_text").set_value("Train and serve large language models. " * 130_000)
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    assert seen == [MAX_DOCUMENT_CHARS]
