"""Team mode's accounts as stored: name, password hash, role (the rules are in `interviewer.team.accounts`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from interviewer.store.database import Repository


class StoredAccount(BaseModel):
    """A team-mode sign-in; the password only as its hash (team/accounts.py)."""

    name: str
    password_hash: str
    role: str
    created_at: datetime


class Accounts(Repository):
    """Sign-in accounts."""

    def save_account(self, account: StoredAccount) -> None:
        with self._connect() as con:
            con.execute("INSERT INTO accounts VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                        "password_hash=excluded.password_hash, role=excluded.role",
                        (account.name, account.password_hash, account.role, account.created_at.isoformat()))

    def account(self, name: str) -> StoredAccount | None:
        with self._connect() as con:
            row = con.execute("SELECT name, password_hash, role, created_at FROM accounts WHERE name=?",
                              (name,)).fetchone()
        return StoredAccount(name=row[0], password_hash=row[1], role=row[2], created_at=row[3]) if row else None

    def accounts(self) -> list[StoredAccount]:
        with self._connect() as con:
            rows = con.execute("SELECT name, password_hash, role, created_at FROM accounts ORDER BY name").fetchall()
        return [StoredAccount(name=r[0], password_hash=r[1], role=r[2], created_at=r[3]) for r in rows]

    def has_accounts(self, role: str | None = None) -> bool:
        """Whether any account (of this role) exists: a database with accounts is a team database."""
        sql = "SELECT 1 FROM accounts" + (" WHERE role=?" if role else "") + " LIMIT 1"
        with self._connect() as con:
            return con.execute(sql, (role,) if role else ()).fetchone() is not None

    def remove_account(self, name: str) -> bool:
        with self._connect() as con:
            return con.execute("DELETE FROM accounts WHERE name=?", (name,)).rowcount > 0

