"""`interviewer ingest | bank | search`: the question bank and its Chroma store."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from interviewer.cli.output import bank_or_fail, console, emit_json, err, fail


def ingest(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Embed the question bank into the Chroma store (unchanged content is not re-embedded)."""
    from interviewer.bank.store import get_store

    from interviewer.bank.anchors import load_anchors

    bank = bank_or_fail()
    store = get_store()
    report = store.ingest(bank, progress=not as_json)
    report = store.ingest_anchors(load_anchors(store.settings.knowledge_dir, bank), report, progress=not as_json)
    data = {**report.model_dump(), "questions": len(bank.questions), "references": len(bank.references),
            "chunks_in_store": store.count()}
    if as_json:
        emit_json(data)
        return
    console.print(f"Ingested {data['questions']} questions and {data['references']} reference documents "
                  f"in {report.seconds:.2f} s: {report.added} added, {report.updated} updated, "
                  f"{report.removed} removed, {report.unchanged} unchanged; "
                  f"{report.chunks_embedded} chunks embedded, {data['chunks_in_store']} in the store; "
                  f"{report.anchors_embedded} graded anchors embedded, {report.anchors_removed} removed.")


def bank(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Totals of the question bank by tier, concept and source."""
    stats = bank_or_fail().stats()
    if as_json:
        emit_json(stats)
        return
    console.print(f"{stats['questions']} questions, {stats['references']} reference documents")
    for key in ("by_tier", "by_concept", "by_source"):
        table = Table(title=key.replace("_", " "), show_header=False)
        for name, count in sorted(stats[key].items(), key=lambda kv: -kv[1]):
            table.add_row(name, str(count))
        console.print(table)


def search(query: str = typer.Argument(..., help="what to look for"),
           k: int = typer.Option(5, "--k", min=1, max=50),
           tier: Optional[str] = typer.Option(None, help="filter by tier"),
           concept: Optional[str] = typer.Option(None, help="filter by concept slug"),
           source: Optional[str] = typer.Option(None, help="guide, project or user"),
           as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Semantic search over the bank: ranked questions with scores."""
    from interviewer.bank.store import ensure_index, get_store

    if not query.strip():
        fail("the query is empty")
    store = get_store()
    if store.count() == 0:  # the first search on a data directory builds the index: said, with progress on stderr
        ensure_index(store, say=err.print)
    hits = store.search(query, k=k, tier=tier, concept=concept, source=source)
    if as_json:
        emit_json([h.model_dump() for h in hits])
        return
    table = Table("rank", "score", "question id", "tier", "matched text")
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), f"{h.score:.3f}", h.question_id, h.tier or "-", h.text[:90].replace("\n", " "))
    console.print(table)


COMMANDS = {"ingest": ingest, "bank": bank, "search": search}
