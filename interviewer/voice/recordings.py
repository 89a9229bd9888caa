"""Spoken answers kept on disk, only when the candidate turns "keep my recordings" on: one folder per session under
the data directory, removed with the rest of a person's data."""

from __future__ import annotations

import shutil
from pathlib import Path

FOLDER = "recordings"


def folder(data_dir: Path, session_id: str) -> Path:
    return Path(data_dir) / FOLDER / session_id


def keep(data_dir: Path, session_id: str, name: str, data: bytes) -> Path:
    path = folder(data_dir, session_id) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def delete(data_dir: Path, session_ids: list[str]) -> int:
    """Removes the sessions' recording folders; returns how many files went with them."""
    files = 0
    for sid in session_ids:
        if (path := folder(data_dir, sid)).is_dir():
            files += sum(1 for p in path.iterdir() if p.is_file())
            shutil.rmtree(path)
    return files
