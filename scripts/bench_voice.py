"""Speech-to-text on this machine: word error rate on the spoken-answer fixture and latency per clip.

    python scripts/bench_voice.py [--models tiny.en,base] [--beam 1,5] [--repeat 3] [--noise]

Synthesises each fixture answer with Piper (the `speech` extra), transcribes it with the packaged Whisper tiny.en
(prompted with its question, as the app does), and prints WER per clip and over the corpus, and latency p50/p95 for
the clips and for ~30 s answers (three clips joined). Run it on an idle machine; `--beside-grading` adds the load of
an interview in progress (grades on the embedded model, one after another) to see latency where it matters.
`--noise` also transcribes the clips with café or kitchen noise at two levels (interviewer.evals.voice: made in code
from a seed) and ends with a table of WER clean / noisy-low / noisy-high per model and beam.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import wave

from interviewer.evals.voice import NOISE_LEVELS, load_fixture, noisy_corpus, normalize, wer
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


GRADED = [0]  # grades finished by the load thread (printed, so a load that died is seen)


def start_grading_load() -> None:
    """Grades on the embedded model, one after another, on a daemon thread: the load of an interview in progress."""
    import threading

    from interviewer.settings import get_settings
    from interviewer import services
    from interviewer.bank.bank import load_bank

    settings = get_settings()
    grader = services.build_grader(settings, services.make_llm(settings, "local"))
    bank = load_bank(settings.knowledge_dir).questions[:20]
    grader.score(bank[0], bank[0].reference_answer)  # the server is up and warm before the timings

    def grade_forever():
        i = 0
        while True:
            q = bank[i % len(bank)]
            grader.score(q, f"I think {q.question.lower()} is about {' '.join(q.key_points[:1])} {i}")
            i += 1
            GRADED[0] = i

    threading.Thread(target=grade_forever, daemon=True).start()
    print("grading on the embedded model meanwhile (one grade after another)")


def bench(model: str, beam: int, fixture, audio: list[bytes], repeat: int,
          noisy: dict[str, list[bytes]] | None = None) -> dict[str, float] | None:
    """Prints the clean run clip by clip and the timings; returns corpus WER per set (clean and each noise level)
    and the ~30 s answers' p50 latency."""
    if reason := stt.missing(model):
        print(f"\n{model}: skipped ({reason})")
        return None
    transcriber = stt.Transcriber(model=model, beam_size=beam)
    started = time.perf_counter()
    transcriber.transcribe(audio[0], question=fixture[0].question)  # load the model outside the timings
    print(f"\n== whisper-{model}, beam {beam} (first call incl. load {time.perf_counter() - started:.1f} s)")
    heard, seconds, durations = [], [], []
    for rep in range(repeat):
        for item, clip in zip(fixture, audio):
            t = transcriber.transcribe(clip, question=item.question)
            seconds.append(t.seconds)
            if rep == 0:
                heard.append(t.text)
                durations.append(t.duration_s)
    print(f"{'clip':>4} {'audio s':>8} {'WER':>6}  heard")
    for i, (item, text, d) in enumerate(zip(fixture, heard, durations)):
        print(f"{i:>4} {d:>8.1f} {wer([item.answer], [text]):>6.1%}  {text}")
        if normalize(item.answer) != normalize(text):
            print(f"{'':>21}said: {item.answer}")
    words = sum(len(normalize(x.answer).split()) for x in fixture)
    print(f"corpus WER {wer([x.answer for x in fixture], heard):.1%} over {len(fixture)} clips ({words} words)")
    print(f"clip latency p50 {statistics.median(seconds):.2f} s, p95 {pct(seconds, 0.95):.2f} s "
          f"(clips {min(durations):.0f}-{max(durations):.0f} s; real-time factor "
          f"{sum(seconds) / (repeat * sum(durations)):.3f})")
    long_clips = [join_wavs(audio[i:i + 3]) for i in range(0, len(audio) - 2, 3)]
    long_s = [transcriber.transcribe(c).seconds for _ in range(repeat) for c in long_clips]
    long_d = [stt.decode(c).size / stt.SAMPLE_RATE for c in long_clips]
    print(f"~30 s answers ({min(long_d):.0f}-{max(long_d):.0f} s): p50 {statistics.median(long_s):.2f} s, "
          f"p95 {pct(long_s, 0.95):.2f} s over {len(long_s)} runs")
    results = {"clean": wer([x.answer for x in fixture], heard), "answer_p50_s": statistics.median(long_s)}
    for name, clips in (noisy or {}).items():
        said = [transcriber.transcribe(c, question=item.question).text for item, c in zip(fixture, clips)]
        results[name] = wer([x.answer for x in fixture], said)
        worst = max(range(len(said)), key=lambda i: wer([fixture[i].answer], [said[i]]))
        print(f"{name} ({NOISE_LEVELS[name]:g} dB SNR): corpus WER {results[name]:.1%}; worst clip {worst}: "
              f"{said[worst]}")
    return results


def noise_table(rows: list[tuple[str, int, dict[str, float]]]) -> None:
    print(f"\n{'model':<10} {'beam':>4} {'clean':>7} " + " ".join(f"{n:>11}" for n in NOISE_LEVELS)
          + f" {'~30 s p50':>10}")
    for model, beam, r in rows:
        print(f"{model:<10} {beam:>4} {r['clean']:>7.1%} " + " ".join(f"{r[n]:>11.1%}" for n in NOISE_LEVELS)
              + f" {r['answer_p50_s']:>9.2f}s")
    print("SNR: " + ", ".join(f"{n} {db:g} dB" for n, db in NOISE_LEVELS.items())
          + "; even clips café babble + clatter, odd clips kitchen roar + hum + clatter")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(stt.MODELS), help="comma-separated names in stt.MODELS")
    ap.add_argument("--beam", default="1", help="beam sizes, comma-separated (1 is greedy)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the clips")
    ap.add_argument("--noise", action="store_true", help="also the clips with café/kitchen noise at two levels")
    ap.add_argument("--beside-grading", action="store_true",
                    help="grade answers on the embedded model in a loop meanwhile, as a running interview does")
    args = ap.parse_args()
    if args.beside_grading:
        start_grading_load()
    fixture = load_fixture()
    started = time.perf_counter()
    audio = [tts.synthesize(item.answer) for item in fixture]
    print(f"synthesised {len(audio)} clips in {time.perf_counter() - started:.1f} s (Piper, incl. loading)")
    noisy = noisy_corpus([stt.decode(a) for a in audio]) if args.noise else None
    rows = []
    for model in args.models.split(","):
        for beam in (int(b) for b in args.beam.split(",")):
            if (result := bench(model.strip(), beam, fixture, audio, args.repeat, noisy)) is not None:
                rows.append((model.strip(), beam, result))
            if args.beside_grading:
                print(f"(grades finished meanwhile so far: {GRADED[0]})")
    if noisy:
        noise_table(rows)


if __name__ == "__main__":
    main()
