"""Speech-to-text on this machine: word error rate on the spoken-answer fixture and latency per clip.

    python scripts/bench_voice.py [--beam 1] [--repeat 3]

Synthesises each fixture answer with Piper (the `speech` extra), transcribes it with the packaged Whisper tiny.en
(prompted with its question, as the app does), and prints WER per clip and over the corpus, and latency p50/p95 for
the clips and for ~30 s answers (three clips joined). Run it on an idle machine: two cores shared with a running
model server slow everything.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import wave

from interviewer.evals.voice import load_fixture, normalize, wer
from interviewer.voice import stt, tts


def join_wavs(wavs: list[bytes]) -> bytes:
    frames, params = [], None
    for w in wavs:
        with wave.open(io.BytesIO(w)) as r:
            params = params or r.getparams()
            frames.append(r.readframes(r.getnframes()))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setparams(params)
        w.writeframes(b"".join(frames))
    return out.getvalue()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the clips")
    args = ap.parse_args()
    fixture = load_fixture()
    started = time.perf_counter()
    audio = [tts.synthesize(item.answer) for item in fixture]
    print(f"synthesised {len(audio)} clips in {time.perf_counter() - started:.1f} s (Piper, incl. loading)")
    transcriber = stt.Transcriber(beam_size=args.beam)
    transcriber.transcribe(audio[0], question=fixture[0].question)  # load the model outside the timings
    heard, seconds, durations = [], [], []
    for rep in range(args.repeat):
        for item, clip in zip(fixture, audio):
            t = transcriber.transcribe(clip, question=item.question)
            seconds.append(t.seconds)
            if rep == 0:
                heard.append(t.text)
                durations.append(t.duration_s)
    print(f"\n{'clip':>4} {'audio s':>8} {'WER':>6}  heard")
    for i, (item, text, d) in enumerate(zip(fixture, heard, durations)):
        print(f"{i:>4} {d:>8.1f} {wer([item.answer], [text]):>6.1%}  {text}")
        if normalize(item.answer) != normalize(text):
            print(f"{'':>21}said: {item.answer}")
    print(f"\ncorpus WER {wer([x.answer for x in fixture], heard):.1%} over {len(fixture)} clips "
          f"({sum(len(normalize(x.answer).split()) for x in fixture)} words), model {stt.MODEL_NAME}, beam {args.beam}")
    print(f"clip latency p50 {statistics.median(seconds):.2f} s, p95 {pct(seconds, 0.95):.2f} s "
          f"(clips {min(durations):.0f}-{max(durations):.0f} s; real-time factor "
          f"{sum(seconds) / (args.repeat * sum(durations)):.3f})")
    long_clips = [join_wavs(audio[i:i + 3]) for i in range(0, len(audio) - 2, 3)]
    long_s = [transcriber.transcribe(c).seconds for _ in range(args.repeat) for c in long_clips]
    long_d = [stt.decode(c).size / stt.SAMPLE_RATE for c in long_clips]
    print(f"~30 s answers ({min(long_d):.0f}-{max(long_d):.0f} s): p50 {statistics.median(long_s):.2f} s, "
          f"p95 {pct(long_s, 0.95):.2f} s over {len(long_s)} runs")


if __name__ == "__main__":
    main()
