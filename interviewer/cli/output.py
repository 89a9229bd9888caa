"""What every command module shares: one console each for stdout and stderr, JSON output, a clean failure."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def fail(message: str, code: int = 2) -> None:
    """A clear one-line error on stderr and a non-zero exit, never a traceback."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def bank_or_fail():
    """The question bank, or a one-line error naming what is wrong with it."""
    from interviewer.settings import get_settings
    from interviewer.bank.bank import BankError, load_bank

    try:
        return load_bank(get_settings().knowledge_dir)
    except BankError as e:
        fail(str(e))
