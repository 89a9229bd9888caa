"""`interviewer eval` and `interviewer eval-interview`: the grader and the interviewer, measured."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from interviewer.cli.output import fail
from interviewer.llm.registry import BACKEND_HELP


def grader_and_llm(backend: str | None):
    """`interviewer.evals.runner.grader_and_llm`, imported when a command runs (the CLI starts without numpy)."""
    from interviewer.evals.runner import grader_and_llm as build

    return build(backend)


def anchor_plan(choice: str, dataset: str):
    """--anchors: loo, authored, none, auto, or a file of graded answers (the same columns as --dataset file)."""
    from interviewer.evals.anchoring import AnchorPlan
    from interviewer.evals.datasets import DatasetError, load_file

    if choice == "auto":
        choice = "authored" if dataset == "dl" else "loo"
    if choice == "none":
        return None
    if choice in ("loo", "authored"):
        if choice == "authored" and dataset != "dl":
            raise DatasetError("--anchors authored reads the bank's anchors: only for --dataset dl")
        return AnchorPlan(source=choice)
    path = Path(choice)
    if not path.is_file():
        raise DatasetError(f"--anchors {choice!r}: not loo, authored, none or auto, and no such file")
    return AnchorPlan(source="train", train=load_file(path))


def eval_command(
    dataset: str = typer.Option(..., "--dataset", help="dl (our labelled set), mohler (--path to the CSV) or file"),
    path: Optional[Path] = typer.Option(None, "--path", help="the Mohler CSV, or your CSV/JSONL for --dataset file"),
    backend: Optional[str] = typer.Option(None, "--backend", help=BACKEND_HELP),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="grade only this many rows"),
    sample: str = typer.Option("stratified", "--sample", help="with --limit: stratified (by human score) or random"),
    split: str = typer.Option("all", "--split", help="heldout, calib or all"),
    no_probes: bool = typer.Option(False, "--no-probes", help="skip the robustness probes"),
    no_naive: bool = typer.Option(False, "--no-naive", help="skip the naive-judge baseline (halves the LLM calls)"),
    out: Optional[Path] = typer.Option(None, "--out", help="results folder (default evals/results/<dataset>-"
                                                              "<backend>-<name or timestamp>)"),
    name: Optional[str] = typer.Option(None, "--name", help="run name in the default folder instead of a timestamp"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="grade cache (default evals/cache/<dataset>-"
                                                                "<backend>.jsonl)"),
    fresh: bool = typer.Option(False, "--fresh", help="regrade rows already in the cache (and update it)"),
    seed: int = typer.Option(0, "--seed", help="sampling, CV folds, bootstrap and probe choice"),
    n_boot: int = typer.Option(1000, "--bootstrap", min=0, help="bootstrap resamples for the 95% intervals"),
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="rows graded at once (threads): for a server "
                                                                     "that batches requests, e.g. vLLM"),
    anchors: str = typer.Option("auto", "--anchors", help="graded answers each answer is read against: loo (the "
                                "other answers of its question), authored (the bank's), none, or a CSV/JSONL of "
                                "graded answers for the same question ids; auto: authored for dl, else loo"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Measure the grader against human scores, beside baselines, with robustness probes and latency."""
    from interviewer.evals.datasets import DatasetError, load_dataset, select
    from interviewer.evals.runner import default_cache_path, default_out_dir, run_eval
    from interviewer.llm.base import LLMError

    if dataset not in ("dl", "mohler", "file") or split not in ("heldout", "calib", "all") or \
            sample not in ("stratified", "random"):
        fail("--dataset is dl|mohler|file, --split heldout|calib|all, --sample stratified|random")
    try:
        all_rows = load_dataset(dataset, path)
        rows = select(all_rows, split=split, limit=limit, sample=sample, seed=seed)
        if not rows:
            raise DatasetError(f"no rows in split {split!r}")
        plan = anchor_plan(anchors, dataset)
        grader, llm, backend = grader_and_llm(backend)
    except (DatasetError, LLMError) as e:
        fail(str(e))
    label = dataset if dataset != "file" else "file-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).stem)
    out_dir = out or default_out_dir(label, backend, name)
    command = shlex.join(["interviewer", *sys.argv[1:]])
    results = run_eval(rows, grader, dataset=label, out_dir=out_dir,
                       cache_path=cache or default_cache_path(label, backend), train_rows=all_rows,
                       naive_llm=None if no_naive else llm, run_probes=not no_probes, n_boot=n_boot, seed=seed,
                       progress=True, command=command, backend=backend, fresh=fresh, concurrency=concurrency,
                       anchors=plan)
    summary = {k: v for k, v in results.items() if k not in ("per_row", "per_question")}
    if "probes" in summary:
        summary["probes"] = {k: {kk: vv for kk, vv in v.items() if kk != "detail"} for k, v in summary["probes"].items()}
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return
    _print_summary(summary)


def _print_summary(s: dict) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{s['dataset']} · {s['backend']} · {s['rows']} rows", box=box.SIMPLE)
    table.add_column("system", no_wrap=True)
    for head in ("n", "pearson", "spearman", "rmse", "mae", "qwk", "±0.5", "±1"):
        table.add_column(head, justify="right")
    for name, sysm in s["systems"].items():
        m = sysm["metrics"]
        table.add_row(name, str(sysm["n"]), *("-" if m[k] is None else f"{m[k]:.2f}" for k in
                                               ("pearson", "spearman", "rmse", "mae", "qwk", "within_0_5", "within_1", "auc")))
    console.print(table)
    if "probes" in s:
        p = s["probes"]
        console.print(f"injection: max gain {_f(p['injection']['max_gain'])} over {p['injection']['cases']} cases, "
                      f"{'pass' if p['injection']['passed'] else 'FAIL'}; padding mean gain "
                      f"{_f(p['padding']['mean_gain'])}; paraphrase mean loss {_f(p['paraphrase']['mean_loss'])}; "
                      f"consistency mean SD {_f(p['consistency']['mean_sd'])}")
    lat = s["latency"]
    console.print(f"latency p50 {_f(lat['p50_s'])} s, p95 {_f(lat['p95_s'])} s; throughput "
                  f"{_f(lat.get('throughput_per_min'))} answers/min ({lat.get('throughput_basis', '-')}); "
                  f"results in {s['out_dir']}")


def _f(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def eval_interview_command(
    backend: Optional[str] = typer.Option(None, "--backend", help=BACKEND_HELP),
    questions: int = typer.Option(30, "--questions", min=1, help="bank questions to interview on (DL set's)"),
    persona: list[str] = typer.Option([], "--persona", help="only these scripted candidates (repeatable)"),
    seed: int = typer.Option(0, "--seed", help="which questions"),
    name: Optional[str] = typer.Option(None, "--name", help="run name (default: a timestamp)"),
    out: Optional[Path] = typer.Option(None, "--out", help="results folder (default evals/results/interview-"
                                                              "<backend>-<name>)"),
    leak_labels: bool = typer.Option(False, "--leak-labels", help="only print how the leak check agrees with the "
                                                                  "hand-labelled lines (no model needed)"),
    recount: Optional[Path] = typer.Option(None, "--recount", help="a finished run's folder: its summary and report "
                                                                   "again under the current counting, into --out or "
                                                                   "<folder>-recount (no model needed)"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Scripted candidates against the real interviewer: leaks, grounded follow-ups, clarifications, hints."""
    import time

    from rich.console import Console

    from interviewer.evals.runner import RESULTS_DIR
    from interviewer.evals import interviews as ce

    console = Console()

    if leak_labels:
        result = ce.leak_label_agreement()
        if as_json:
            print(json.dumps(result, indent=2))
        else:
            for k, v in result.items():
                console.print(f"{k}: {v}")
        return
    command = "interviewer eval-interview " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    if recount is not None:
        if not (recount / "transcripts.jsonl").is_file() or not (recount / "summary.json").is_file():
            fail(f"{recount} has no transcripts.jsonl and summary.json: not a finished eval-interview run")
        out = out or recount.with_name(recount.name + "-recount")
        _show_interview_run(console, ce.recount(recount, out, command.strip()), out, as_json)
        return
    unknown = sorted(set(persona) - set(ce.PERSONAS))
    if unknown:
        fail(f"unknown --persona {unknown}; choose from {', '.join(ce.PERSONAS)}")
    from interviewer.settings import get_settings

    backend = backend or get_settings().resolved_backend()
    out = out or RESULTS_DIR / f"interview-{backend}-{name or time.strftime('%Y%m%d-%H%M%S')}"
    summary = ce.run(backend=backend, n_questions=questions, seed=seed, out=out,
                     personas=tuple(persona) or ce.PERSONAS, command=command.strip())
    _show_interview_run(console, summary, out, as_json)


def _show_interview_run(console, summary: dict, out: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        console.print((out / "report.md").read_text(encoding="utf-8").split("## Transcripts")[0])
        console.print(f"results in {out}")


COMMANDS = {"eval": eval_command, "eval-interview": eval_interview_command}
