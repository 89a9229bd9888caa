"""Reusing the shared local server: only one started with the same settings and the same server code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from interviewer.models import localserver
from interviewer.config import Settings

REAL_POPEN = subprocess.Popen  # fake_start patches subprocess.Popen itself (localserver uses the same module)


@pytest.fixture
def fake_start(monkeypatch):
    """No model and no llama.cpp: every URL is healthy and a started "server" is a sleep process."""
    started: list[list[str]] = []
    procs: list[subprocess.Popen] = []
    def popen(cmd, **kw):
        started.append(cmd)
        procs.append(REAL_POPEN(["sleep", "60"]))
        return procs[-1]

    monkeypatch.setattr(localserver, "ensure_model", lambda settings, on_progress=None: Path("m.gguf"))
    monkeypatch.setattr(localserver, "_healthy", lambda url: True)
    monkeypatch.setattr(localserver.subprocess, "Popen", popen)
    yield started
    for proc in procs:
        proc.kill()
        proc.wait()


def _running(settings: Settings, config) -> subprocess.Popen:
    """A stand-in for a server another process started: a real process, so that stopping it can be observed."""
    proc = REAL_POPEN(["sleep", "60"])
    state = {"url": "http://127.0.0.1:1/v1", "pid": proc.pid, "model": "m.gguf"}
    if config is not None:
        state["config"] = config
    localserver._state_file(settings).write_text(json.dumps(state))
    return proc


def test_a_server_with_the_same_settings_is_reused(tmp_path, fake_start):
    settings = Settings(data_dir=tmp_path)
    old = _running(settings, localserver.server_config(Path("m.gguf"), settings))
    try:
        assert localserver.ensure_server(settings) == "http://127.0.0.1:1/v1"
        assert fake_start == [] and old.poll() is None
    finally:
        old.kill()
        old.wait()


@pytest.mark.parametrize("config", [
    None,  # started by a version that did not record its settings
    "other-settings",
])
def test_a_server_with_other_settings_or_older_code_is_restarted(tmp_path, fake_start, config):
    settings = Settings(data_dir=tmp_path)
    old = _running(settings, config)
    messages: list[str] = []
    url = localserver.ensure_server(settings, on_progress=messages.append)
    assert old.wait(timeout=10) is not None  # the old server was stopped
    assert len(fake_start) == 1 and url != "http://127.0.0.1:1/v1"
    assert any("restarting" in m for m in messages)
    state = json.loads(localserver._state_file(settings).read_text())
    assert state["config"] == localserver.server_config(Path("m.gguf"), settings)


def test_the_config_tells_decodings_apart(tmp_path):
    on = localserver.server_config(Path("m.gguf"), Settings(data_dir=tmp_path))
    off = localserver.server_config(Path("m.gguf"), Settings(data_dir=tmp_path, local_jump_forward=False))
    assert on != off and on["code"] == off["code"]


@pytest.mark.parametrize("pid", [0, -1, "12"])
def test_a_state_file_with_a_bad_pid_signals_nothing(tmp_path, pid):
    # os.kill(0, ...) would signal this whole process group (pytest and the shell that runs it)
    settings = Settings(data_dir=tmp_path)
    localserver._state_file(settings).write_text(json.dumps({"url": "http://127.0.0.1:1/v1", "pid": pid}))
    assert localserver.stop_server(settings) is True
    assert not localserver._state_file(settings).exists()


# Pure: the command line and the model-file check, no model loaded and no server started.

def test_the_setting_picks_the_server_module(tmp_path):
    ours = localserver.server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path))
    stock = localserver.server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path, local_grammar_last=False))
    assert ours[1:3] == ["-m", "interviewer.models.llamaserve"]
    assert stock[1:3] == ["-m", "llama_cpp.server"]
    # same model, port and llama.cpp options either way; ours reads probabilities without logits for every position
    assert ours[3:] == stock[3:] + ["--logits_all", "false"]


def test_a_file_that_does_not_match_is_refused(tmp_path):
    s = Settings(data_dir=tmp_path, models_path=tmp_path / "m")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / localserver.MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(localserver.ModelError, match="refusing to load"):
        localserver.ensure_model(s)


def test_the_server_releases_freed_heap_after_each_completion_and_after_a_stream_ends(monkeypatch):
    from interviewer.models import llamaserve

    trims = []
    monkeypatch.setattr(llamaserve, "_release_freed_memory", lambda: trims.append(1))
    monkeypatch.setattr(llamaserve, "_chat_completion",
                        lambda self, *a, **kw: iter(["a", "b"]) if kw.get("stream") else {"choices": []})
    assert llamaserve.create_chat_completion(None, messages=[]) == {"choices": []}
    assert len(trims) == 1
    stream = llamaserve.create_chat_completion(None, messages=[], stream=True)
    assert next(stream) == "a" and len(trims) == 1  # not while chunks are still being sent
    assert list(stream) == ["b"] and len(trims) == 2
    assert llamaserve._malloc_trim is not None  # glibc here: the trim is real, not skipped
