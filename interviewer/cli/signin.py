"""Who runs a command, in team mode. The terminal asks for a sign-in as the app does (`--as NAME`, the password at a
hidden prompt or from standard input with `--password-stdin`), and the same rule decides what the account may open
(`accounts.may_open`): a candidate reads, resumes, practises and deletes only their own sessions; an instructor
anyone's, and the cohort. Off team mode nobody signs in. `interviewer users` stays the database administrator's:
it is how the first instructor is made."""

from __future__ import annotations

import sys

import typer

from interviewer.cli.output import fail

AS_HELP = "team mode: your account (the password is asked, or read with --password-stdin)"
PASSWORD_STDIN_HELP = "team mode: read the password from the first line of standard input"


def sign_in(db, as_name: str | None, password_stdin: bool):
    """The signed-in account in team mode (a clear exit when none), else None."""
    from interviewer.config import get_settings
    from interviewer.interview import accounts

    if not get_settings().team_mode:
        return None
    if not as_name:
        fail("team mode: sign in with --as NAME (the password is asked, or read with --password-stdin)")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("Password", hide_input=True)
    if (account := accounts.sign_in(db, as_name, password)) is None:
        fail("wrong name or password")
    return account


def require_open(viewer, owner: str, what: str) -> None:
    """Exit unless the signed-in account may open what belongs to `owner` (always may, off team mode)."""
    from interviewer.config import get_settings
    from interviewer.interview.accounts import may_open

    if not may_open(viewer, owner, team_mode=get_settings().team_mode):
        fail(f"{what} belongs to another candidate: only they or an instructor may open it")


def require_instructor(viewer, what: str) -> None:
    from interviewer.config import get_settings

    if get_settings().team_mode and not viewer.instructor:
        fail(f"{what} is for instructors")


def whose(viewer, asked: str | None, default: str) -> str:
    """The user a command acts for: the one asked for (checked), else the signed-in account, else the default."""
    user = asked or (viewer.name if viewer else default)
    require_open(viewer, user, f"the history of {user!r}")
    return user
