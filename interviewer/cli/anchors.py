"""`interviewer anchors add | list`: graded answers the grader reads an answer against, from a labelled file.

A file has the columns of `interviewer eval --dataset file` (question_id, question, reference, answer, score,
max_score, ...). Every row's question_id must be a bank question: a file with rows for unknown ids is refused whole,
naming them, so a typo never half-imports a file. Scores are rescaled to the grader's 0-5. In team mode adding and
listing are for instructors (`--as NAME`): an anchor moves every later grade of its question, and a person's graded
answer is theirs to see, not another candidate's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from interviewer.cli.output import bank_or_fail, console, emit_json, fail
from interviewer.cli.signin import AS_HELP, PASSWORD_STDIN_HELP, require_instructor, sign_in

anchors = typer.Typer(help="Graded answers the grader reads answers against: the bank's, and people's.",
                      no_args_is_help=True)
UNKNOWN_SHOWN = 5  # unknown question ids named in the refusal
LISTED_TEXT_CHARS = 120  # an anchor's text in the table (--json has it whole)


def _db():
    from interviewer.settings import get_settings
    from interviewer.store.database import DatabaseError
    from interviewer.store import SessionDB

    try:
        return SessionDB(get_settings().database)
    except DatabaseError as e:
        fail(str(e))


def file_anchors(path: Path, bank_ids: set[str], author: str) -> tuple[list, int]:
    """The anchors of a labelled file and how many rows had an empty answer (nothing to read an answer against);
    a DatasetError for a file that cannot be read or names questions the bank lacks."""
    from interviewer.evals.datasets import DatasetError, load_file
    from interviewer.session import now
    from interviewer.bank.anchors import Anchor

    rows = load_file(path)
    if unknown := sorted({r.question_id for r in rows} - bank_ids):
        more = f" and {len(unknown) - UNKNOWN_SHOWN} more" if len(unknown) > UNKNOWN_SHOWN else ""
        raise DatasetError(f"{path}: question ids not in the bank: {', '.join(unknown[:UNKNOWN_SHOWN])}{more} "
                           "(nothing added; `interviewer search` finds a question's id)")
    created = now().isoformat()
    found = [Anchor(question_id=r.question_id, text=r.answer, score=round(r.score5, 4), level="graded",
                    rationale=f"graded in {path.name}", source="file", author=author, created=created)
             for r in rows if r.answer.strip()]
    return found, len(rows) - len(found)


@anchors.command("add")
def add(path: Path = typer.Option(..., "--path", help="a CSV or JSONL with the columns of `eval --dataset file`"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        as_name: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
        password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP)) -> None:
    """Add graded answers from a labelled file as anchors of their bank questions (a file added twice adds
    nothing new)."""
    from interviewer.evals.datasets import DatasetError
    from interviewer.store.reviews import Reviews

    db = _db()
    viewer = sign_in(db, as_name, password_stdin)
    require_instructor(viewer, "adding anchors")
    try:
        found, empty = file_anchors(path, {q.id for q in bank_or_fail().questions},
                                    viewer.name if viewer else path.name)
    except DatasetError as e:
        fail(str(e))
    added = Reviews(db.database).add(found)
    summary = {"added": added, "already_there": len(found) - added, "empty_answers_skipped": empty,
               "questions": sorted({a.question_id for a in found})}
    if as_json:
        emit_json(summary)
        return
    console.print(f"{added} anchors added to {len(summary['questions'])} questions"
                  + (f", {summary['already_there']} already there" if summary["already_there"] else "")
                  + (f", {empty} rows with an empty answer skipped" if empty else "") + ".")


@anchors.command("list")
def listing(question: str = typer.Option(..., "--question", "-q", help="a bank question id, e.g. guide-22"),
            as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
            as_name: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
            password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP)) -> None:
    """A question's anchors: the bank's (reference and authored) and people's (instructors' reviews, files), each
    with its level, score, source, author and date."""
    from interviewer.settings import get_settings
    from interviewer.grading.grader import authored_anchors
    from interviewer.store.reviews import Reviews

    db = _db()
    require_instructor(sign_in(db, as_name, password_stdin), "listing anchors")
    if question not in {q.id for q in bank_or_fail().questions}:
        fail(f"no question {question!r} in the bank (`interviewer search` finds questions by topic)")
    found = [*authored_anchors(get_settings()).get(question, []), *Reviews(db.database).anchors_for(question)]
    if as_json:
        emit_json([a.model_dump(exclude_none=True) for a in found])
        return
    table = Table("level", "score", "source", "author", "date", "text")
    for a in found:
        text = " ".join(a.text.split())
        shown = text if len(text) <= LISTED_TEXT_CHARS else text[:LISTED_TEXT_CHARS] + "..."
        # Text, not markup: a person's answer or a file's name drawn as typed, never read as [link=...] or [bold]
        table.add_row(a.level, f"{a.score:g}", a.source, Text(a.author or "-"), (a.created or "-")[:10], Text(shown))
    console.print(table)


GROUPS = {"anchors": anchors}
COMMANDS: dict = {}
