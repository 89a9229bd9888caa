"""Spoken answers kept on disk, only when the candidate turns "keep my recordings" on: one folder per session under
the data directory, removed with the rest of a person's data."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from interviewer.files import private_dir, write_private

FOLDER = "recordings"


def folder(data_dir: Path, session_id: str) -> Path:
    return Path(data_dir) / FOLDER / session_id


_lock = threading.Lock()  # a recording kept and its person's data deleted at the same moment: one after the other


def keep(data_dir: Path, session_id: str, name: str, data: bytes,
         still_there: Callable[[], bool] | None = None) -> Path | None:
    """Save a recording (0600, in 0700 folders); None, writing nothing, when `still_there` says the session is gone
    (its person deleted their data while a tab was still open)."""
    with _lock:
        if still_there is not None and not still_there():
            return None
        return write_private(private_dir(folder(data_dir, session_id)) / name, data)


def delete(data_dir: Path, session_ids: list[str]) -> int:
    """Removes the sessions' recording folders; returns how many files went with them."""
    files = 0
    with _lock:
        for sid in session_ids:
            if (path := folder(data_dir, sid)).is_dir():
                files += sum(1 for p in path.iterdir() if p.is_file())
                shutil.rmtree(path)
    return files
