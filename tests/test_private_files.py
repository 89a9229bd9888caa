"""People's data on a shared machine: the data directory, the sessions file (and its -wal and -shm), kept
recordings, the model server's key, state and log, and the probe file are their owner's alone (0700 folders, 0600
files), whatever the umask says."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from interviewer.settings import Settings
from interviewer.store import SessionDB
from interviewer.session import Session, SessionConfig
from interviewer.llm import localserver, probe
from interviewer.llm.base import Capabilities
from interviewer.voice import recordings

REAL_POPEN = subprocess.Popen


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def default_umask():
    """The usual 022, under which new files are world-readable unless made otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_sessions_file_and_its_log_are_the_owners_alone(tmp_path):
    data = tmp_path / "data"
    db = SessionDB(data / "interviewer.sqlite3")
    import sqlite3

    reader = sqlite3.connect(data / "interviewer.sqlite3")  # keeps -wal and -shm in place while we look
    try:
        reader.execute("SELECT COUNT(*) FROM sessions").fetchall()
        db.create(Session(config=SessionConfig(user="ann")))
        assert _mode(data) == 0o700
        files = sorted(p.name for p in data.iterdir())
        assert files == ["interviewer.sqlite3", "interviewer.sqlite3-shm", "interviewer.sqlite3-wal"]
        assert all(_mode(data / name) == 0o600 for name in files), {n: oct(_mode(data / n)) for n in files}
    finally:
        reader.close()


def test_a_kept_recording_is_the_owners_alone(tmp_path):
    path = recordings.keep(tmp_path / "data", "s-1", "q0.wav", b"RIFF")
    assert path.read_bytes() == b"RIFF" and _mode(path) == 0o600
    assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700  # recordings/ and the session's


def test_the_model_servers_key_state_and_log_are_the_owners_alone(tmp_path, monkeypatch):
    procs: list[subprocess.Popen] = []

    def popen(cmd, **kw):
        procs.append(REAL_POPEN(["sleep", "60"]))
        return procs[-1]

    monkeypatch.setattr(localserver, "ensure_model", lambda settings, on_progress=None: Path("m.gguf"))
    monkeypatch.setattr(localserver, "_healthy", lambda url, key: bool(procs))
    monkeypatch.setattr(localserver.subprocess, "Popen", popen)
    settings = Settings(data_dir=tmp_path / "data")
    try:
        localserver.ensure_server(settings)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert _mode(settings.data_dir) == 0o700
    for name in (localserver.KEY_FILE, "local-server.json", "local-server.log"):
        assert _mode(settings.data_dir / name) == 0o600, name
    assert json.loads((settings.data_dir / "local-server.json").read_text())["pid"] == procs[0].pid


def test_the_probe_file_is_the_owners_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(probe, "probe", lambda client, model: Capabilities())
    probe.capabilities_for(None, "http://llm.internal:8080/v1", "m", tmp_path / "data")
    assert _mode(tmp_path / "data" / probe.PROBE_FILE) == 0o600 and _mode(tmp_path / "data") == 0o700
