"""Deleting a person's data: every session (turns, grades), the seen-questions list and the practice schedule in the
database, then any recordings of those sessions kept on disk."""

from __future__ import annotations

from pathlib import Path

from interviewer.store import SessionDB
from interviewer.voice import recordings


def forget_user(db: SessionDB, data_dir: Path, user: str) -> int:
    """Returns the number of sessions deleted."""
    sessions = db.session_ids(user)
    deleted = db.delete_user(user)
    recordings.delete(data_dir, sessions)
    return deleted
