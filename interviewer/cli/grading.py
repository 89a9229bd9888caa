"""`interviewer grade | calibrate`: one answer's grade, and fitting the score to labelled answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from interviewer.cli.output import console, emit_json, err, fail
from interviewer.settings import get_settings
from interviewer.llm.registry import BACKEND_HELP


def grade(question: str = typer.Option(..., "--question", "-q", help="bank question id, e.g. guide-22"),
          answer: str = typer.Option(..., "--answer", "-a", help="the answer text, or - to read stdin"),
          backend: Optional[str] = typer.Option(None, help=BACKEND_HELP),
          as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Grade one answer to a bank question: score, key points with the judge's probabilities, feedback."""
    from interviewer import services
    from interviewer.bank.store import ensure_ingested, get_store

    text = sys.stdin.read() if answer == "-" else answer
    store = get_store()
    ensure_ingested(store)
    try:
        q = store.question(question)
    except KeyError as e:
        fail(str(e.args[0]))
    try:
        llm = services.make_llm(get_settings(), backend,
                                 on_progress=None if as_json else (lambda m: err.print(f"[dim]{m}[/]")))
    except Exception as e:  # a backend that cannot start still gets an evidence-only grade
        err.print(f"[yellow]warning:[/] {e}")
        llm = None
    g = services.build_grader(get_settings(), llm, store=store, db=_sessions_db()).score(q, text)
    if as_json:
        emit_json(g.model_dump())
        return
    console.print(f"[bold]{q.id}[/] {q.question}")
    how = "evidence only" if g.evidence_only else f"judgement by {g.judgement}" if g.judgement else ""
    console.print(f"[bold]Score: {g.score:.1f} / 5[/]" + (f"  [dim]({how})[/]" if how else ""))
    for note in g.notes:
        console.print(f"[yellow]note:[/] {note}")
    table = Table("criterion", "score", "why", show_header=True)
    for c in g.criteria:
        table.add_row(c.name, f"{c.score:.1f}", c.justification)
    console.print(table)
    mark = {"covered": "[green]✓[/]", "partly": "[yellow]~[/]", "missing": "[red]✗[/]", "contradicted": "[red]✗✗[/]"}
    for k in g.key_points:
        probs = ", ".join(f"{s} {p:.0%}" for s, p in sorted(k.probabilities.items(), key=lambda kv: -kv[1]) if p >= 0.05)
        console.print(f" {mark[k.status]} {k.point}" + (f"  [dim]({probs})[/]" if probs else ""))
    console.print()
    console.print(g.feedback, markup=False, highlight=False)
    console.print(f"[dim]{g.backend}/{g.model} · " + ", ".join(f"{k} {v:.2f}s" for k, v in g.latency_s.items()) + "[/]")


def _sessions_db():
    """The sessions database, whose people's grades join the bank's anchors; none (the bank's alone, said once) when
    it cannot be opened."""
    from interviewer.store import SessionDB
    from interviewer.store.database import DatabaseError

    try:
        return SessionDB(get_settings().database)
    except DatabaseError as e:
        err.print(f"[yellow]warning:[/] graded against the bank's anchors only: {e}")
        return None


def calibrate(backend: Optional[str] = typer.Option(None, help=BACKEND_HELP),
              dataset: str = typer.Option("dl", "--dataset", help="dl (refit the shipped formulas on the calib split) "
                                                                  "or file (fit a scale to your own labels)"),
              path: Optional[Path] = typer.Option(None, "--path", help="with --dataset file: your labelled CSV/JSONL"),
              name: Optional[str] = typer.Option(None, "--name", help="with --dataset file: the calibration's name "
                                                                      "(select it with INTERVIEWER_CALIBRATION)"),
              dry_run: bool = typer.Option(False, "--dry-run", help="print the fit, do not write it"),
              as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Fit the score: the formulas on the DL set's calib split, or a scale to your own graders' labels."""
    from interviewer.grading.calibrate import collect, fit_formulas, fit_user_scale
    from interviewer.evals.datasets import DatasetError, load_dataset, select
    from interviewer.evals.cache import judge_cache_for
    from interviewer import services
    from interviewer.grading.score import CALIBRATION_FILE, calibrations_dir, load_calibration, save_calibration
    from interviewer.llm.base import LLMError

    settings = get_settings()
    if dataset not in ("dl", "file") or (dataset == "file" and (path is None or not name)):
        fail("use --dataset dl, or --dataset file --path LABELS.csv --name NAME")
    if name in ("default", ""):
        fail("--name default is the shipped calibration; pick another name")
    try:
        rows = select(load_dataset(dataset, path), split="calib") if dataset == "dl" else load_dataset("file", path)
        llm = services.make_llm(settings, backend)
    except (DatasetError, LLMError) as e:
        fail(str(e))
    # The shipped formulas score the rows either way (a user's scale goes on top of them, not instead).
    grader = services.build_grader(settings.model_copy(update={"calibration": "default"}), llm,
                                   judge_cache=judge_cache_for(llm.backend))
    records = collect(grader, rows, progress=not as_json)
    if dataset == "dl":
        result, target = fit_formulas(records), CALIBRATION_FILE
        result.fitted_on["backend"] = f"{llm.backend}/{llm.cache_id}"
    else:
        result = fit_user_scale(load_calibration(), records, name=name, source=str(path))
        target = calibrations_dir(settings.data_dir) / f"{name}.json"
    if not dry_run:
        save_calibration(result, target)
    if as_json:
        emit_json(result.model_dump())
        return
    console.print_json(result.model_dump_json())
    console.print("" if dry_run else f"written to {target}" + (
        f"; use it with INTERVIEWER_CALIBRATION={name}" if dataset == "file" else ""))


COMMANDS = {"grade": grade, "calibrate": calibrate}
