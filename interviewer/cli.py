"""The `interviewer` command. Every command has --json for scripts and a readable default."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from interviewer.bank import BankError, load_bank
from interviewer.clitools import err, fail
from interviewer.config import get_settings

app = typer.Typer(help="Mock deep-learning interviews with a measured rubric grader.", no_args_is_help=True,
                  add_completion=False)
console = Console()


def _emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _bank():
    try:
        return load_bank(get_settings().knowledge_dir)
    except BankError as e:
        fail(str(e))


@app.command()
def ingest(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Embed the question bank into the Chroma store (unchanged content is not re-embedded)."""
    from interviewer.store import get_store

    bank = _bank()
    store = get_store()
    report = store.ingest(bank, progress=not as_json)
    data = {**report.model_dump(), "questions": len(bank.questions), "references": len(bank.references),
            "chunks_in_store": store.count()}
    if as_json:
        _emit_json(data)
        return
    console.print(f"Ingested {data['questions']} questions and {data['references']} reference documents "
                  f"in {report.seconds:.2f} s: {report.added} added, {report.updated} updated, "
                  f"{report.removed} removed, {report.unchanged} unchanged; "
                  f"{report.chunks_embedded} chunks embedded, {data['chunks_in_store']} in the store.")


@app.command()
def bank(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Totals of the question bank by tier, concept and source."""
    stats = _bank().stats()
    if as_json:
        _emit_json(stats)
        return
    console.print(f"{stats['questions']} questions, {stats['references']} reference documents")
    for key in ("by_tier", "by_concept", "by_source"):
        table = Table(title=key.replace("_", " "), show_header=False)
        for name, count in sorted(stats[key].items(), key=lambda kv: -kv[1]):
            table.add_row(name, str(count))
        console.print(table)


@app.command()
def search(query: str = typer.Argument(..., help="what to look for"),
           k: int = typer.Option(5, "--k", min=1, max=50),
           tier: Optional[str] = typer.Option(None, help="filter by tier"),
           concept: Optional[str] = typer.Option(None, help="filter by concept slug"),
           source: Optional[str] = typer.Option(None, help="guide, project or user"),
           as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Semantic search over the bank: ranked questions with scores."""
    from interviewer.store import ensure_ingested, get_store

    if not query.strip():
        fail("the query is empty")
    store = get_store()
    if store.count() == 0:
        ensure_ingested(store)
    hits = store.search(query, k=k, tier=tier, concept=concept, source=source)
    if as_json:
        _emit_json([h.model_dump() for h in hits])
        return
    table = Table("rank", "score", "question id", "tier", "matched text")
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), f"{h.score:.3f}", h.question_id, h.tier or "-", h.text[:90].replace("\n", " "))
    console.print(table)


@app.command()
def grade(question: str = typer.Option(..., "--question", "-q", help="bank question id, e.g. guide-22"),
          answer: str = typer.Option(..., "--answer", "-a", help="the answer text, or - to read stdin"),
          backend: Optional[str] = typer.Option(None, help="local, openai, compatible or fake"),
          as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Grade one answer to a bank question: score, key points with the judge's probabilities, feedback."""
    from interviewer.grading.grader import Grader
    from interviewer.llm import make_llm
    from interviewer.store import ensure_ingested, get_store

    text = sys.stdin.read() if answer == "-" else answer
    store = get_store()
    ensure_ingested(store)
    try:
        q = store.question(question)
    except KeyError as e:
        fail(str(e.args[0]))
    try:
        llm = make_llm(backend=backend, on_progress=None if as_json else (lambda m: err.print(f"[dim]{m}[/]")))
    except Exception as e:  # a backend that cannot start still gets an evidence-only grade
        err.print(f"[yellow]warning:[/] {e}")
        llm = None
    g = Grader(llm, store).score(q, text)
    if as_json:
        _emit_json(g.model_dump())
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


@app.command()
def calibrate(backend: Optional[str] = typer.Option(None, help="local, openai, compatible or fake"),
              dataset: str = typer.Option("dl", "--dataset", help="dl (refit the shipped formulas on the calib split) "
                                                                  "or file (fit a scale to your own labels)"),
              path: Optional[Path] = typer.Option(None, "--path", help="with --dataset file: your labelled CSV/JSONL"),
              name: Optional[str] = typer.Option(None, "--name", help="with --dataset file: the calibration's name "
                                                                      "(select it with INTERVIEWER_CALIBRATION)"),
              dry_run: bool = typer.Option(False, "--dry-run", help="print the fit, do not write it"),
              as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Fit the score: the formulas on the DL set's calib split, or a scale to your own graders' labels."""
    from interviewer.calibrate import collect, fit_formulas, fit_user_scale
    from interviewer.evals.datasets import DatasetError, load_dataset, select
    from interviewer.grading.grader import Grader, judge_cache_for
    from interviewer.grading.score import CALIBRATION_FILE, calibrations_dir, load_calibration, save_calibration
    from interviewer.llm import LLMError, make_llm

    settings = get_settings()
    if dataset not in ("dl", "file") or (dataset == "file" and (path is None or not name)):
        fail("use --dataset dl, or --dataset file --path LABELS.csv --name NAME")
    if name in ("default", ""):
        fail("--name default is the shipped calibration; pick another name")
    try:
        rows = select(load_dataset(dataset, path), split="calib") if dataset == "dl" else load_dataset("file", path)
        llm = make_llm(settings, backend)
    except (DatasetError, LLMError) as e:
        fail(str(e))
    # The shipped formulas score the rows either way (a user's scale goes on top of them, not instead).
    grader = Grader(llm, settings=settings.model_copy(update={"calibration": "default"}),
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
        _emit_json(result.model_dump())
        return
    console.print_json(result.model_dump_json())
    console.print("" if dry_run else f"written to {target}" + (
        f"; use it with INTERVIEWER_CALIBRATION={name}" if dataset == "file" else ""))


def _register_plugins() -> None:
    """Commands that live beside their feature (interview, app, history, eval)."""
    import importlib

    for module in ("interviewer.interview_cli", "interviewer.evals.cli", "interviewer.doctor"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        mod.register(app)


_register_plugins()


def main() -> None:  # pragma: no cover
    app()
