"""Team mode's accounts: who may sign in, with which role, and what each role may open.

Passwords are kept only as argon2id hashes (argon2-cffi's PasswordHasher, its RFC 9106 defaults); a sign-in with
an unknown name still verifies against a hash, so a wrong name and a wrong password take the same time and say the
same thing. Hashes made with older parameters are upgraded at the next sign-in. Repeated failures back off and only
a few checks run at once (`throttle.py`: each takes 64 MiB).

A candidate opens only their own sessions; an instructor opens anyone's and sees the cohort. The laptop default
(team mode off) has no accounts: whoever runs the app owns everything in it. A database that holds an account is a
team database whatever the settings say (`team_mode`), so running a command against it without the setting skips
nothing.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel

from interviewer.settings import Settings
from interviewer.store.accounts import Accounts
from interviewer.store.accounts import StoredAccount
from interviewer.session import now
from interviewer.team.throttle import SIGN_IN_THROTTLE, SignInRefused, SignInThrottle

Role = Literal["candidate", "instructor"]
ROLES: tuple[str, ...] = get_args(Role)
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; a megabyte "password" is a mistake or an attack
NAME = re.compile(r"^[\w.@+-]{1,64}$")  # what shows in history and the cohort table: no spaces or markup


class AccountError(ValueError):
    """A request about accounts that cannot be done: the reason, never the password."""


class Account(BaseModel):
    """Who is signed in; the hash stays in the database."""

    name: str
    role: Role

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"


def _hasher():
    try:
        from argon2 import PasswordHasher
    except ImportError as e:
        raise AccountError("team mode needs the team extra: pip install -e '.[team]'") from e
    return PasswordHasher()


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher().hash("not a password of anyone")
    return _DUMMY_HASH


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"a password has at most {MAX_PASSWORD_CHARS} characters")


def add(db: Accounts, name: str, password: str, role: str = "candidate", *, replace: bool = False) -> Account:
    """Create an account (or, with replace, set a new password and role)."""
    if not NAME.match(name):
        raise AccountError("a name is 1-64 letters, digits or . _ @ + - (no spaces)")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: choose {', '.join(ROLES)}")
    check_password(password)
    existing = db.account(name)
    if existing and not replace:
        raise AccountError(f"an account named {name!r} exists (use --replace to set a new password)")
    db.save_account(StoredAccount(name=name, password_hash=_hasher().hash(password), role=role,
                                  created_at=existing.created_at if existing else now()))
    return Account(name=name, role=role)


def remove(db: Accounts, name: str) -> None:
    """Remove the account; its sessions stay (`forget.forget_user` deletes them)."""
    if not db.remove_account(name):
        raise AccountError(f"no account named {name!r}")


def listing(db: Accounts) -> list[Account]:
    return [Account(name=a.name, role=a.role) for a in db.accounts()]


def sign_in(db: Accounts, name: str, password: str, *, client: str | None = None,
            throttle: SignInThrottle = SIGN_IN_THROTTLE) -> Account | None:
    """The account if the password is right, else None (the same answer for an unknown name). `client`: where the
    attempt comes from (the app's remote address), backed off apart from the name. Raises AccountError, without
    checking the password, while this name or client must wait after repeated failures or while too many checks
    run at once (`throttle.py`)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    try:
        throttle.check(name, client)
        with throttle.check_slot():
            throttle.check(name, client)  # again: failures of the tries it waited behind count too
            stored = db.account(name) if name else None
            try:
                hasher.verify(stored.password_hash if stored else _dummy_hash(), password[:MAX_PASSWORD_CHARS])
            except (VerificationError, InvalidHashError):
                stored = None
            if stored is not None and hasher.check_needs_rehash(stored.password_hash):
                db.save_account(stored.model_copy(update={"password_hash": hasher.hash(password)}))
    except SignInRefused as e:
        raise AccountError(str(e)) from None
    if stored is None:
        throttle.failed(name, client)
        return None
    throttle.succeeded(name, client)
    return Account(name=stored.name, role=stored.role)


def current(db: Accounts, account: Account) -> Account | None:
    """The account as the database holds it now: None once removed, the new role once changed (read on every page,
    so a removed or demoted account loses its access at its next click)."""
    stored = db.account(account.name)
    return None if stored is None else Account(name=stored.name, role=stored.role)


def team_mode(settings: Settings, db: Accounts) -> bool:
    """Whether every command and the app ask for a sign-in: always once the database holds an account; before that,
    when the setting asks for it (a new team database: the app shows the sign-in while the first accounts are made).
    """
    return settings.team_mode or db.has_accounts()


def may_open(viewer: Account | None, owner: str, *, team_mode: bool) -> bool:
    """Whether `viewer` may read, resume or delete a session (or history) that belongs to `owner`. A signed-in
    account is held to its role whatever `team_mode` says: accounts exist only in team mode."""
    if viewer is None:
        return not team_mode
    return viewer.instructor or viewer.name == owner
