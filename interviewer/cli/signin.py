"""Who runs a command, in team mode. The terminal asks for a sign-in as the app does (`--as NAME`, the password at a
hidden prompt or from standard input with `--password-stdin`), and the same rule decides what the account may open
(`accounts.may_open`): a candidate reads, resumes, practises and deletes only their own sessions; an instructor
anyone's, and the cohort. Team mode is the database's (`accounts.team_mode`): once it holds an account, every command
asks, whatever INTERVIEWER_TEAM_MODE says. Off team mode nobody signs in. `interviewer users` makes the first
accounts without a sign-in; once an instructor exists, it asks for one's (interviewer/cli/team.py)."""

from __future__ import annotations

import sys

import typer

from interviewer.cli.output import fail

AS_HELP = "team mode: your account (the password is asked, or read with --password-stdin)"
PASSWORD_STDIN_HELP = "team mode: read the password from the first line of standard input"


def authenticate(db, as_name: str, password_stdin: bool):
    """The account whose password is given (at a hidden prompt, or the first line of standard input); a clear exit
    for a wrong name or password (the same answer for both)."""
    from interviewer.team import accounts

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("Password", hide_input=True)
    if (account := accounts.sign_in(db, as_name, password)) is None:
        fail("wrong name or password")
    return account


def sign_in(db, as_name: str | None, password_stdin: bool):
    """The signed-in account in team mode (a clear exit when none), else None: an account exactly when team mode is
    on, which `require_open` and `require_instructor` rely on."""
    from interviewer.settings import get_settings
    from interviewer.team import accounts

    if not accounts.team_mode(get_settings(), db):
        return None
    if not as_name:
        fail("team mode: sign in with --as NAME (the password is asked, or read with --password-stdin)")
    return authenticate(db, as_name, password_stdin)


def require_open(viewer, owner: str, what: str) -> None:
    """Exit unless the signed-in account may open what belongs to `owner` (always may, off team mode)."""
    from interviewer.team.accounts import may_open

    if not may_open(viewer, owner, team_mode=viewer is not None):
        fail(f"{what} belongs to another candidate: only they or an instructor may open it")


def require_instructor(viewer, what: str) -> None:
    if viewer is not None and not viewer.instructor:
        fail(f"{what} is for instructors")


def whose(viewer, asked: str | None, default: str) -> str:
    """The user a command acts for: the one asked for (checked), else the signed-in account, else the default."""
    user = asked or (viewer.name if viewer else default)
    require_open(viewer, user, f"the history of {user!r}")
    return user
