"""The `interviewer` command: the commands of each part of the product, gathered on one typer app.

Each command module names its commands in `COMMANDS` (and groups of subcommands in `GROUPS`) and imports nothing
from here, so no import goes in a circle.
"""

from __future__ import annotations

import typer

from interviewer.cli import anchors, doctor, evals, grading, interview, knowledge, team, voice

app = typer.Typer(help="Mock deep-learning interviews with a measured rubric grader.", no_args_is_help=True,
                  add_completion=False)
for _module in (knowledge, grading, interview, voice, evals, team, anchors, doctor):
    for _name, _command in _module.COMMANDS.items():
        app.command(_name)(_command)
    for _name, _group in getattr(_module, "GROUPS", {}).items():
        app.add_typer(_group, name=_name)


def main() -> None:  # pragma: no cover
    app()
