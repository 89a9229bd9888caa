"""`interviewer users add | remove | list` and `interviewer cohort`: team mode's accounts and the instructors' view.

Passwords are read at a hidden prompt (twice) or, for scripts, from standard input with --password-stdin; never
from the command line, where they would stay in the shell history and the process list. `users` makes the first
accounts without a sign-in (a new database has nobody to sign in as); once an instructor exists, it asks for an
instructor's (`--as NAME`). `cohort` asks for one in team mode.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from interviewer.cli.output import console, emit_json, fail
from interviewer.cli.signin import AS_HELP, PASSWORD_STDIN_HELP, authenticate, require_instructor, sign_in

users = typer.Typer(help="Team mode's accounts (sign-in with a password, role candidate or instructor).",
                    no_args_is_help=True)


def _db():
    from interviewer.settings import get_settings
    from interviewer.store.database import DatabaseError
    from interviewer.store import SessionDB

    try:
        return SessionDB(get_settings().database)
    except DatabaseError as e:
        fail(str(e))


MANAGER_AS_HELP = "an instructor's account: required once an instructor exists (the password is asked, or read " \
                  "with --password-stdin)"


def _as_manager(db, as_name: str | None, password_stdin: bool) -> None:
    """Exit unless this may manage accounts: an instructor's sign-in, once an instructor exists; before that (a new
    team database), whoever reaches the database makes the first accounts."""
    if not as_name and not db.has_accounts(role="instructor"):
        return
    if not as_name:
        fail("accounts are managed by an instructor: sign in with --as NAME "
             "(the password is asked, or read with --password-stdin)")
    require_instructor(authenticate(db, as_name, password_stdin), "managing accounts")


def _password(from_stdin: bool, name: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt(f"New password for {name}", hide_input=True, confirmation_prompt=True)


@users.command("add")
def add(name: str = typer.Argument(..., help="the sign-in name"),
        role: str = typer.Option("candidate", help="candidate or instructor"),
        password_stdin: bool = typer.Option(False, "--password-stdin",
                                            help="read the password from standard input (with --as: yours on the "
                                                 "first line, the new account's on the next)"),
        replace: bool = typer.Option(False, "--replace", help="set a new password (and role) for an existing name"),
        as_name: Optional[str] = typer.Option(None, "--as", help=MANAGER_AS_HELP)) -> None:
    """Create an account (or reset its password with --replace)."""
    from interviewer.team import accounts

    db = _db()
    _as_manager(db, as_name, password_stdin)
    try:
        account = accounts.add(db, name, _password(password_stdin, name), role, replace=replace)
    except accounts.AccountError as e:
        fail(str(e))
    console.print(f"Account {account.name!r} ({account.role}) saved.")


@users.command("remove")
def remove(name: str = typer.Argument(...),
           delete_data: bool = typer.Option(False, "--delete-data", help="also delete every session of this name"),
           as_name: Optional[str] = typer.Option(None, "--as", help=MANAGER_AS_HELP),
           password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP)) -> None:
    """Remove an account; its sessions stay unless --delete-data."""
    from interviewer.settings import get_settings
    from interviewer.team import accounts
    from interviewer.store.forget import forget_user

    db = _db()
    _as_manager(db, as_name, password_stdin)
    try:
        accounts.remove(db, name)
    except accounts.AccountError as e:
        fail(str(e))
    deleted = forget_user(db, get_settings().data_dir, name) if delete_data else 0
    console.print(f"Account {name!r} removed" + (f", {deleted} sessions deleted." if delete_data else "."))


@users.command("list")
def listing(as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
            as_name: Optional[str] = typer.Option(None, "--as", help=MANAGER_AS_HELP),
            password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP)) -> None:
    """The accounts and their roles (never a password or its hash)."""
    from interviewer.team import accounts

    db = _db()
    _as_manager(db, as_name, password_stdin)
    found = accounts.listing(db)
    if as_json:
        emit_json([a.model_dump() for a in found])
        return
    table = Table("name", "role")
    for a in found:
        table.add_row(a.name, a.role)
    console.print(table if found else "No accounts yet: interviewer users add NAME --role instructor")


def cohort(csv_path: Optional[Path] = typer.Option(None, "--csv", help="write the table as CSV to this file"),
           as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
           as_name: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
           password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP)) -> None:
    """Per candidate and concept: the latest score, the recent mean and the trend (in team mode, for instructors)."""
    from interviewer.team.cohort import cohort as build, to_csv

    db = _db()
    require_instructor(sign_in(db, as_name, password_stdin), "the cohort")
    rows = build(db)
    if csv_path:
        csv_path.write_text(to_csv(rows), encoding="utf-8")
        console.print(f"{len(rows)} rows written to {csv_path}")
        return
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("candidate", "concept", "answers", "latest", "recent mean", "trend")
    for r in rows:
        table.add_row(r.candidate, r.concept, str(r.answers), f"{r.latest:.1f}", f"{r.mean_recent:.1f}",
                      "-" if r.trend is None else f"{r.trend:+.1f}")
    console.print(table if rows else "No graded answers yet.")


COMMANDS = {"cohort": cohort}
GROUPS = {"users": users}
