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
          no_feedback: bool = typer.Option(False, "--no-feedback", help="score only, skip the prose"),
          as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Grade one answer to a bank question: score, key points, feedback (streamed)."""
    from interviewer.grader import Grader
    from interviewer.llm import LLMError, make_llm
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
    grader = Grader(llm, store)
    g = grader.score(q, text, feedback=not no_feedback)
    if as_json:
        if not no_feedback:
            for _ in grader.stream_feedback(q, text, g):
                pass
        _emit_json(g.model_dump())
        return
    console.print(f"[bold]{q.id}[/] {q.question}")
    console.print(f"[bold]Score: {g.score:.1f} / 5[/]" + ("  [yellow](evidence only)[/]" if g.evidence_only else ""))
    for note in g.notes:
        console.print(f"[yellow]note:[/] {note}")
    table = Table("criterion", "score", "why", show_header=True)
    for c in g.criteria:
        table.add_row(c.name, f"{c.score:.0f}", c.justification)
    console.print(table)
    mark = {"covered": "[green]✓[/]", "partly": "[yellow]~[/]", "missing": "[red]✗[/]"}
    for k in g.key_points:
        console.print(f" {mark[k.status]} {k.point}" + (f"\n     [dim]“{k.quote}”[/]" if k.quote else ""))
    if not no_feedback:
        console.print()
        for piece in grader.stream_feedback(q, text, g):
            console.print(piece, end="", markup=False, highlight=False)
        console.print()
    console.print(f"[dim]{g.backend}/{g.model} · " + ", ".join(f"{k} {v:.2f}s" for k, v in g.latency_s.items()) + "[/]")


def judge_cache_for(backend: str):
    """The committed cache of model judgements for a backend (verdicts only; no answer text is stored)."""
    from interviewer import PROJECT_ROOT
    from interviewer.judgecache import JudgeCache

    return JudgeCache(PROJECT_ROOT / "evals" / "cache" / f"judge-{backend}.jsonl")


@app.command()
def calibrate(backend: Optional[str] = typer.Option(None, help="local, openai, compatible or fake"),
              dry_run: bool = typer.Option(False, "--dry-run", help="print the fit, do not write it"),
              as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Fit the score combination on the DL set's calib split (never heldout, never Mohler)."""
    from interviewer.calibrate import collect, fit, write
    from interviewer.evals.datasets import load_dl, select
    from interviewer.grader import Grader
    from interviewer.llm import make_llm

    llm = make_llm(backend=backend)
    rows = select(load_dl(), split="calib")
    grader = Grader(llm, judge_cache=judge_cache_for(llm.backend))  # INTERVIEWER_JUDGE_FORMAT picks the file
    records = collect(grader, rows, progress=not as_json)
    result = fit(records)
    result["fitted_on"]["backend"] = f"{llm.backend}/{llm.model}"
    result["fitted_on"]["judge_format"] = grader.judge_format
    if not dry_run:
        write(result, grader.calibration_file)
    if as_json:
        _emit_json(result)
    else:
        console.print_json(json.dumps(result))
        console.print("" if dry_run else f"written to {grader.calibration_file}")


def _register_plugins() -> None:
    """Commands that live beside their feature (interview, app, history, eval)."""
    import importlib

    for module in ("interviewer.interview_cli", "interviewer.evals.cli"):
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
