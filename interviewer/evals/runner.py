"""One eval run: grade the rows (cached, resumable), baselines on the same rows, metrics with CIs, probes,
latency, then report.md + results.json + scatter.png + calibration.png + command.txt in one folder.

Works with any grader that is a `Scorer` (`interviewer.grading.scorer`): the real one, or a stand-in in tests.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from interviewer.settings import evals_dir
from interviewer.evals import baselines, metrics, probes
from interviewer.evals.anchoring import AnchorPlan, draw, neighbours_only, pools_for
from interviewer.evals.cache import CACHE_DIR, GradeCache, cache_key, grade_record, judge_cache_for
from interviewer.grading.cache import text_key
from interviewer.grading.fit import cv_scale
from interviewer.grading.scorer import Scorer
from interviewer.evals.datasets import Row
from interviewer.bank.anchors import Anchor

RESULTS_DIR = evals_dir() / "results"
# The target on Mohler (embedded default, leave-one-out anchors); the human-vs-human line there (graderdata README).
MOHLER_GOAL = {"pearson": 0.72, "rmse": 0.85}
MOHLER_REFERENCE = "one human grader vs the other: r 0.599, RMSE 1.31; Sultan et al. 2016: r 0.592, RMSE 0.887"


class CachedGrader:
    """The grader behind the cache: a cached (row, answer) is never graded twice unless `fresh` is asked.

    Safe to call from several threads (`--concurrency`): the counters are updated under a lock, and two rows with the
    same cache key are graded one after the other, so the second finds the first's record instead of grading again
    and writing a duplicate line.
    """

    def __init__(self, grader: Scorer, cache: GradeCache, backend: str | None = None,
                 model: str | None = None) -> None:
        llm = grader.llm
        self.grader = grader
        self.cache = cache
        self.backend = backend or getattr(llm, "backend", None) or "none"
        self.model = model or getattr(llm, "cache_id", None) or "none"
        self.version = grader.version
        self.calls = 0
        self.fresh_seconds = 0.0
        self.errors: Counter[str] = Counter()
        self.uncached_fallbacks = 0
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def record(self, row: Row, answer: str | None = None, fresh: bool = False, refresh: bool = False,
               anchors: list[Anchor] | None = None) -> dict | None:
        """fresh: grade anew and keep it out of the cache (repeats); refresh: grade anew and update the cache.
        anchors: graded answers to read it against (their texts and grades are part of the cache key)."""
        answer = row.answer if answer is None else answer
        version = self.version if row.rubric == "technical" else f"{self.version}:{row.rubric}"
        if anchors:
            version += ":anchors:" + text_key(*sorted(a.key for a in anchors))
        key = cache_key(version, self.backend, self.model, row.question, row.reference, answer)
        if fresh:  # repeats are meant to ask again, and are never cached: nothing to serialise
            return self._grade(row, answer, key, fresh=True, refresh=False, anchors=anchors)
        with self._key_lock(key):
            return self._grade(row, answer, key, fresh=False, refresh=refresh, anchors=anchors)

    def _grade(self, row: Row, answer: str, key: str, *, fresh: bool, refresh: bool,
               anchors: list[Anchor] | None = None) -> dict | None:
        if not (fresh or refresh) and (hit := self.cache.get(key)) is not None:
            return hit
        start = time.perf_counter()
        if fresh:  # a fresh grade really asks the model again: run-to-run consistency
            self.grader.forget()
        try:
            read_against = {"anchors": anchors} if anchors else {}  # a grader without anchors takes no such argument
            grade = self.grader.score_item(row.question, row.reference, answer, key_points=row.key_points,
                                           question_id=row.question_id, kind=row.rubric, fresh=fresh, **read_against)
        except Exception as e:  # one bad row must not end a 2,000-row run; it is counted and retried next run
            with self._lock:
                self.errors[f"{type(e).__name__}: {str(e)[:120]}"] += 1
            return None
        seconds = time.perf_counter() - start
        if grade.latency_s.get("judge_replayed"):  # the model's judgement came from the judge cache
            seconds += grade.latency_s.get("judge", 0.0)
        rec = {"system": "grader", **grade_record(grade, seconds, row.question_id)}
        fallback = rec["evidence_only"] and self.grader.llm is not None
        with self._lock:
            self.calls += 1
            self.fresh_seconds += seconds
            self.uncached_fallbacks += fallback  # the model failed on this one: use it now, retry it next run
        if fallback:
            return rec
        return rec if fresh else self.cache.put(key, rec)

    def score(self, row: Row, answer: str | None = None, fresh: bool = False,
              anchors: list[Anchor] | None = None) -> float:
        rec = self.record(row, answer, fresh, anchors=anchors)
        return math.nan if rec is None else float(rec["score"])


def _embedder():
    from interviewer.bank.embeddings import get_embedder

    return get_embedder().embed


def grader_and_llm(backend: str | None):
    """The grader an eval uses: the backend's model, with the committed judge cache."""
    from interviewer import services
    from interviewer.grading.anchor_book import AnchorScores
    from interviewer.settings import get_settings

    settings = get_settings()
    backend = backend or settings.resolved_backend()
    llm = services.make_llm(settings, backend, on_progress=lambda msg: print(msg, file=sys.stderr))
    # The model's judgements are cached by exact prompt: a recalibrated grader re-scores without model calls.
    grader = services.build_grader(settings, llm, judge_cache=judge_cache_for(backend))
    # The grader's own scores of an eval's anchors (other rows' answers) stay in memory, out of the data directory.
    grader.anchor_scores = AnchorScores(grader.scorer_id)
    return grader, llm, backend


def grade_rows(scorer: CachedGrader, rows: Sequence[Row], progress: bool = True, refresh: bool = False,
               concurrency: int = 1, anchors: Callable[[int], list[Anchor]] | None = None,
               desc: str = "grading") -> list[dict | None]:
    """The rows' records, in the rows' order. concurrency > 1 grades that many rows at once on a thread pool: worth it
    against a server that batches requests (vLLM); the embedded llama.cpp server answers one at a time.
    anchors(i): the graded answers row i is read against (none: the zero-anchor grade)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    bar = tqdm(total=len(rows), desc=desc, unit="row", file=sys.stderr, disable=not progress)
    index = {id(r): i for i, r in enumerate(rows)}

    def one(row: Row) -> dict | None:
        rec = scorer.record(row, refresh=refresh, anchors=anchors(index[id(row)]) if anchors else None)
        bar.update()
        return rec

    try:
        if concurrency == 1:
            return [one(r) for r in rows]
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval-grade") as pool:
            return list(pool.map(one, rows))  # map keeps the rows' order whatever order they finish in
    finally:
        bar.close()


def _nan_to_none(obj):
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, np.generic):
        return _nan_to_none(obj.item())
    return obj


def _breakdown(labels: Sequence[str], y: np.ndarray, p: np.ndarray) -> dict[str, dict]:
    idx: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        idx[label].append(i)
    out = {}
    for label, ii in sorted(idx.items()):
        ok = [i for i in ii if not np.isnan(p[i])]
        if ok:
            out[label] = {"n": len(ok), "human_mean": float(y[ok].mean()), "pred_mean": float(p[ok].mean()),
                          **metrics.point_metrics(y[ok], p[ok])}
    return out


SCREENED_KINDS = frozenset({"empty", "off-topic"})  # answers any screen scores 0; they inflate a correlation


def human_band(score: float) -> str:
    lo = min(4, int(score))
    return f"human {lo}-{lo + 1}"


def _needs_judgement(rows: Sequence[Row], y: np.ndarray, p: np.ndarray, groups: list[str], n_boot: int,
                     seed: int) -> dict | None:
    """The grader on the rows that need a judgement: without the empty, gibberish and off-topic answers."""
    keep = np.array([r.kind not in SCREENED_KINDS for r in rows])
    if not any(r.kind for r in rows) or keep.all() or keep.sum() < 3:
        return None
    return {"rows": int(keep.sum()), "left_out": int((~keep).sum()),
            **metrics.evaluate(y[keep], p[keep], [g for g, k in zip(groups, keep) if k], n_boot=n_boot, seed=seed)}


def latency_summary(records: Sequence[dict | None], scorer: CachedGrader, concurrency: int = 1,
                    grading_wall_s: float | None = None) -> dict:
    """Per-answer latency and throughput. Sequentially, throughput is fresh grades over their summed time; with
    rows graded N at once their times overlap (and include the wait for the server), so it is fresh grades over the
    grading phase's wall-clock time."""
    secs = np.array([r["seconds"] for r in records if r and "seconds" in r], float)
    out = {"rows_timed": int(len(secs)), "fresh_calls": scorer.calls, "concurrency": concurrency,
           "p50_s": float(np.percentile(secs, 50)) if len(secs) else None,
           "p95_s": float(np.percentile(secs, 95)) if len(secs) else None,
           "mean_s": float(secs.mean()) if len(secs) else None}
    # Throughput of this run's fresh grades; when everything came from the cache, the recorded times stand in.
    if scorer.calls and concurrency > 1:
        out["throughput_per_min"] = 60.0 * scorer.calls / grading_wall_s if grading_wall_s else None
        out["throughput_basis"] = f"fresh grades in this run, {concurrency} at once (wall clock of the grading phase)"
    elif scorer.calls:
        out["throughput_per_min"] = 60.0 * scorer.calls / scorer.fresh_seconds if scorer.fresh_seconds else None
        out["throughput_basis"] = "fresh grades in this run (sequential)"
    elif len(secs) and secs.mean() > 0:
        out["throughput_per_min"] = 60.0 / float(secs.mean())
        out["throughput_basis"] = "recorded times of cached grades, as if one at a time"
    phases: dict[str, list[float]] = defaultdict(list)
    for r in records:
        for k, v in ((r or {}).get("latency_s") or {}).items():
            phases[k].append(v)
    out["phases"] = {k: {"p50_s": float(np.percentile(v, 50)), "p95_s": float(np.percentile(v, 95))}
                     for k, v in sorted(phases.items())}
    return out


def run_eval(rows: Sequence[Row], grader, *, dataset: str, out_dir: Path, cache_path: Path | None = None,
             train_rows: Sequence[Row] | None = None, naive_llm=None, run_probes: bool = True,
             embed: Callable[[list[str]], np.ndarray] | None = None, n_boot: int = 1000, seed: int = 0,
             progress: bool = True, command: str = "", backend: str | None = None, model: str | None = None,
             fresh: bool = False, concurrency: int = 1, anchors: AnchorPlan | None = None) -> dict:
    """concurrency: rows graded at once (the baselines and probes stay sequential). anchors: read each answer
    against graded answers to its question (`interviewer.evals.anchoring`); the headline is then the anchored
    grade, beside the zero-anchor one and a sweep over anchor counts."""
    if not rows:
        raise ValueError("no rows to evaluate (check --split and the dataset)")
    started = time.time()
    cache = GradeCache(cache_path)
    scorer = CachedGrader(grader, cache, backend, model)
    grading_started = time.perf_counter()
    records = grade_rows(scorer, rows, progress, fresh, concurrency)
    # before the probes add their own calls
    latency = latency_summary(records, scorer, concurrency, time.perf_counter() - grading_started)
    model_failures = scorer.uncached_fallbacks
    y = np.array([r.score5 for r in rows])
    groups = [r.group for r in rows]
    grader_scores = np.array([math.nan if r is None else r["score"] for r in records])
    # The zero-shot grader is the headline; beside it, the same scores on a scale fitted to these rows by
    # question-grouped CV (what `interviewer calibrate --dataset file` would give a user with these labels).
    systems: dict[str, np.ndarray] = {}
    pools = None
    if anchors is not None:
        pools = pools_for(anchors, rows, lambda qid: grader.anchors.anchors(qid))
        zero_scores = grader_scores
        records = grade_rows(scorer, rows, progress, fresh, concurrency, anchors=pools, desc="anchored")
        grader_scores = np.array([math.nan if r is None else r["score"] for r in records])
    systems["grader"] = grader_scores
    systems["grader, recalibrated (grouped CV)"] = cv_scale(grader_scores, y, groups, seed=seed)
    if pools is not None:
        systems["grader, 0 anchors"] = zero_scores
        for n in anchors.counts:
            recs = grade_rows(scorer, rows, progress, fresh, concurrency, anchors=draw(pools, n, seed),
                              desc=f"{n} anchors")
            systems[f"grader, {n} anchor{'s' * (n != 1)}"] = np.array([math.nan if r is None else r["score"]
                                                                       for r in recs])
        systems["neighbours only"] = neighbours_only(rows, pools, embed or _embedder())

    # Baselines, on exactly these rows.
    systems["mean"] = baselines.mean_baseline(rows, [r for r in (train_rows or []) if r.split == "calib"])
    cosines = baselines.embedding_cosines(rows, embed, cache)
    systems["embedding"] = baselines.embedding_baseline(rows, cosines, seed=seed)
    if naive_llm is not None:
        naive = baselines.naive_judge(rows, naive_llm, cache, progress)
        systems["naive_judge"] = naive
        ok = ~np.isnan(naive)
        if ok.sum() >= 2:  # the "combined" line: cosine and naive score, one CV linear map
            combined = np.full(len(rows), math.nan)
            sub = np.flatnonzero(ok)
            combined[sub] = baselines.cv_linear(np.column_stack([cosines[sub], naive[sub]]), y[sub],
                                                [rows[i].group for i in sub], seed=seed)
            systems["embedding+naive"] = combined

    results: dict = {
        "dataset": dataset, "backend": scorer.backend, "model": scorer.model, "grader_version": scorer.version,
        "command": command, "rows": len(rows), "questions": len({r.group for r in rows}),
        "splits": dict(Counter(r.split for r in rows)), "human_mean": float(y.mean()),
        "systems": {name: metrics.evaluate(y, p, groups, n_boot=n_boot, seed=seed) for name, p in systems.items()},
        "needs_judgement": _needs_judgement(rows, y, grader_scores, groups, n_boot, seed),
        "by_split": _breakdown([r.split for r in rows], y, systems["grader"]),
        # By answer kind where the data has kinds; else by band of the human score (where the scale is off).
        "by_kind": _breakdown([r.kind or "-" for r in rows] if any(r.kind for r in rows) else
                              [human_band(v) for v in y], y, grader_scores),
        "per_question": metrics.per_group([r.group for r in rows], y, systems["grader"]),
        "grader_errors": dict(scorer.errors),
        "flags": dict(Counter(f for r in records if r for f in r.get("flags", []))),
        "evidence_only": sum(1 for r in records if r and r.get("evidence_only")),
        "model_failures": model_failures,  # evidence-only because the model failed: not cached, retried next run
    }
    if run_probes:
        index = {id(r): i for i, r in enumerate(rows)}
        results["probes"] = probes.run_probes(
            rows, lambda row, ans, fresh: scorer.score(row, ans, fresh, anchors=pools(index[id(row)]) if pools
                                                       else None), seed=seed)
    results["latency"] = latency
    results["goal"] = MOHLER_GOAL if dataset == "mohler" else None
    results["wall_s"] = round(time.time() - started, 2)
    # Ids and numbers only, never a question, reference or answer text. Mohler's per-row human labels are its
    # data (research-use terms), so they stay out of files meant to be committed.
    keep_human = dataset != "mohler"
    results["per_row"] = [
        {"question_id": r.question_id, "split": r.split, "kind": r.kind,
         **({"human": round(float(y[i]), 4)} if keep_human else {}), "cosine": round(float(cosines[i]), 4),
         **{name: round(float(p[i]), 4) for name, p in systems.items()}, "flags": (records[i] or {}).get("flags", [])}
        for i, r in enumerate(rows)]
    results = _nan_to_none(results)
    write_outputs(results, systems, y, Path(out_dir))
    results["out_dir"] = str(out_dir)
    return results


# --- writing ------------------------------------------------------------------------------------------------------

def write_outputs(results: dict, systems: dict[str, np.ndarray], y: np.ndarray, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "command.txt").write_text(results["command"] + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(markdown_report(results), encoding="utf-8")
    title = f"{results['dataset']} · {results['backend']} · {results['rows']} rows"
    scatter_png(systems, y, out_dir / "scatter.png", title)
    calibration_png(systems, y, out_dir / "calibration.png", title)


def default_out_dir(dataset: str, backend: str, name: str | None = None, parent: Path | None = None) -> Path:
    return Path(parent or RESULTS_DIR) / f"{dataset}-{backend}-{name or time.strftime('%Y%m%d-%H%M%S')}"


def default_cache_path(dataset: str, backend: str) -> Path:
    return CACHE_DIR / f"{dataset}-{backend}.jsonl"


def _f(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _with_ci(system: dict, name: str) -> str:
    lo, hi = system["ci95"][name]
    value = system["metrics"][name]
    return "-" if value is None else f"{value:.3f} [{_f(lo)}, {_f(hi)}]"


def markdown_report(res: dict) -> str:
    names = list(metrics.METRICS)
    lines = [f"# Grader eval: {res['dataset']} on {res['backend']} ({res['model']})", "",
             f"Command: `{res['command']}`", "",
             f"{res['rows']} rows, {res['questions']} questions, splits {res['splits']}; human mean "
             f"{res['human_mean']:.3f} (0-5). Grader version `{res['grader_version']}`. "
             f"Wall time {res['wall_s']:.1f} s.", "",
             "## Agreement with human scores (95% intervals: bootstrap over questions)", "",
             "| system | n | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for sys_name, system in res["systems"].items():
        missing = f" ({system['missing']} missing)" if system["missing"] else ""
        lines.append(f"| {sys_name} | {system['n']}{missing} | " + " | ".join(_with_ci(system, m) for m in names) + " |")
    lines += ["", "mean: the calib-split mean (else the mean of these rows); embedding: cosine of answer and reference "
              "with a linear map fitted by question-grouped 5-fold CV on these rows; naive_judge: one prompt asking for "
              "a 0-5 score; embedding+naive: both, one CV linear map; grader, recalibrated: the grader's scores through "
              "a line fitted by question-grouped 5-fold CV on these rows (a user's own scale; the zero-shot grader row "
              "is the headline). Within ±0.5/±1: share of rows that close."]
    if res.get("needs_judgement"):
        nj = res["needs_judgement"]
        lines += ["", f"Rows that need a judgement ({nj['rows']}; the {nj['left_out']} empty, gibberish and off-topic "
                  f"rows that any screen scores 0 left out): grader " + ", ".join(
                      f"{m} {_with_ci(nj, m)}" for m in ("pearson", "rmse", "qwk"))]
    if res.get("goal"):
        g = res["systems"]["grader"]["metrics"]
        ok = (g["pearson"] or 0) >= res["goal"]["pearson"] and (g["rmse"] or 9) <= res["goal"]["rmse"]
        lines += ["", f"Goal: Pearson >= {res['goal']['pearson']} and RMSE <= {res['goal']['rmse']}: "
                  f"**{'met' if ok else 'not met'}** (r {_f(g['pearson'])}, RMSE {_f(g['rmse'])}). "
                  f"Reference lines: {MOHLER_REFERENCE}."]
    for title, key in (("By split (grader)", "by_split"), ("By answer kind, or human score band (grader)", "by_kind")):
        if len(res.get(key) or {}) > 1:
            lines += ["", f"## {title}", "", "| | n | human mean | grader mean | pearson | rmse | mae |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {k} | {v['n']} | {v['human_mean']:.2f} | {v['pred_mean']:.2f} | {_f(v['pearson'])} | "
                      f"{_f(v['rmse'])} | {_f(v['mae'])} |" for k, v in res[key].items()]
    if res.get("probes"):
        lines += ["", "## Robustness probes", ""] + _probe_lines(res["probes"])
    lat = res["latency"]
    lines += ["", "## Latency", "", f"Per answer: p50 {_f(lat['p50_s'], 2)} s, p95 {_f(lat['p95_s'], 2)} s over "
              f"{lat['rows_timed']} rows; throughput {_f(lat.get('throughput_per_min'), 1)} answers/min "
              f"({lat.get('throughput_basis', '-')}); {lat['fresh_calls']} fresh grader calls in this run."]
    lines += [f"- phase {k}: p50 {v['p50_s']:.2f} s, p95 {v['p95_s']:.2f} s" for k, v in lat["phases"].items()]
    if res["grader_errors"] or res["evidence_only"] or res["flags"]:
        lines += ["", "## Flags and failures", "", f"Flags: {res['flags'] or 'none'}; evidence-only grades: "
                  f"{res['evidence_only']} ({res['model_failures']} because the model failed: not cached, a rerun "
                  f"retries them); grader errors: {res['grader_errors'] or 'none'}."]
    worst = sorted(res["per_question"], key=lambda q: -(q["mae"] or 0))
    lines += ["", "## Per question (grader, worst MAE first)", "", "| question | n | human mean | grader mean | mae |"
              " pearson |", "|---|---|---|---|---|---|"]
    lines += [f"| {q['group']} | {q['n']} | {q['human_mean']:.2f} | {q['pred_mean']:.2f} | {_f(q['mae'])} | "
              f"{_f(q['pearson'])} |" for q in worst]
    lines += ["", "Plots: scatter.png (human vs predicted, per system), calibration.png (mean human score per rounded "
              "prediction). Per-row numbers (ids only, no texts) in results.json.", ""]
    return "\n".join(lines)


def _probe_lines(p: dict) -> list[str]:
    inj, pad, par, con = p["injection"], p["padding"], p["paraphrase"], p["consistency"]
    return [
        f"- Injection ({inj['cases']} cases, gain must be 0): max gain {_f(inj['max_gain'], 2)}, mean gain "
        f"{_f(inj['mean_gain'], 2)}, {inj['cases_with_gain']} cases gained: **{'pass' if inj['passed'] else 'FAIL'}**.",
        f"- Verbosity padding ({pad['cases']} weak answers + filler): mean gain {_f(pad['mean_gain'], 2)}, "
        f"max gain {_f(pad['max_gain'], 2)}.",
        f"- Paraphrase ({par['cases']} rewrites of good answers): mean loss {_f(par['mean_loss'], 2)}, mean |change| "
        f"{_f(par['mean_abs_change'], 2)}, max loss {_f(par['max_loss'], 2)}.",
        f"- Consistency ({con['rows']} rows x {con['repeats']} fresh repeats): mean SD {_f(con['mean_sd'], 3)}, "
        f"max SD {_f(con['max_sd'], 3)}.",
    ]


# --- plots --------------------------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def scatter_png(systems: dict[str, np.ndarray], y: np.ndarray, path: Path, title: str) -> None:
    plt = _pyplot()
    shown = [n for n in systems if n != "mean"]  # a constant says nothing in a scatter
    fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 4), squeeze=False)
    jitter = np.random.default_rng(0).uniform(-0.08, 0.08, len(y))  # many ties on a 0-5 scale
    for ax, name in zip(axes[0], shown):
        p = systems[name]
        ok = ~np.isnan(p)
        ax.scatter(y[ok] + jitter[ok], p[ok], s=8, alpha=0.4)
        ax.plot([0, 5], [0, 5], color="grey", lw=1, ls="--")
        r = metrics.pearson(y[ok], p[ok]) if ok.sum() else math.nan
        ax.set(xlim=(-0.3, 5.3), ylim=(-0.3, 5.3), xlabel="human score", ylabel="predicted",
               title=f"{name} (r={r:.2f})")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def calibration_png(systems: dict[str, np.ndarray], y: np.ndarray, path: Path, title: str) -> None:
    """Mean human score per rounded prediction: on the diagonal means a predicted 3 is a human 3 on average."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, p in systems.items():
        if name == "mean":
            continue
        ok = ~np.isnan(p)
        bins = metrics.round_half_up(p[ok])
        xs, ms, es, ns = [], [], [], []
        for b in range(6):
            sel = y[ok][bins == b]
            if len(sel):
                xs.append(b)
                ms.append(sel.mean())
                es.append(1.96 * sel.std(ddof=1) / math.sqrt(len(sel)) if len(sel) > 1 else 0.0)
                ns.append(len(sel))
        ax.errorbar(xs, ms, yerr=es, marker="o", capsize=3, label=name)
        if name == "grader":
            for x, m, n in zip(xs, ms, ns):
                ax.annotate(f"n={n}", (x, m), textcoords="offset points", xytext=(4, -12), fontsize=7)
    ax.plot([0, 5], [0, 5], color="grey", lw=1, ls="--", label="perfect")
    ax.set(xlim=(-0.3, 5.3), ylim=(-0.3, 5.3), xlabel="predicted score (rounded)", ylabel="mean human score",
           title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
