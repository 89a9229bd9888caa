"""What every command module shares (a module of its own: cli.py imports the plugin modules, so they cannot import it)."""

from __future__ import annotations

import typer
from rich.console import Console

err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """A clear one-line error on stderr and a non-zero exit, never a traceback."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)
