"""Files that hold people's data, made readable by their owner only, whatever the process's umask.

The data directory holds answers, grades, recordings, the model server's key and logs; on a shared machine the
default umask (022) would let every local user read them. Folders are made 0700 and files 0600 when they are made;
an existing folder or file keeps the mode its owner gave it.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path | str) -> Path:
    """The folder, made readable by its owner only if it does not exist yet, as is every missing folder above it."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.is_dir()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    return path


def write_private(path: Path | str, data: bytes | str) -> Path:
    """Write a whole file that only its owner may read (made 0600 before a byte is written; replaced atomically)."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


def open_private_append(path: Path | str):
    """A log file opened for appending, made 0600 if new."""
    path = Path(path)
    private_dir(path.parent)
    return os.fdopen(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, PRIVATE_FILE), "ab")
