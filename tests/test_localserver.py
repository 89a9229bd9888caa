"""Reusing the shared local server: only one started with the same settings and the same server code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from interviewer.llm import localserver
from interviewer.settings import Settings

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
    monkeypatch.setattr(localserver, "_healthy", lambda url, key: True)
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

def test_the_setting_picks_the_sampler(tmp_path):
    ours = localserver.server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path))
    stock = localserver.server_command(Path("m.gguf"), 1234, Settings(data_dir=tmp_path, local_grammar_last=False))
    assert ours[1:3] == stock[1:3] == ["-m", "interviewer.llm.llamaserve"]  # the key proof either way
    assert stock[3] == "--stock-sampler" and "--stock-sampler" not in ours
    # same model, port and llama.cpp options either way; ours reads probabilities without logits for every position
    assert ours[3:] == stock[4:] + ["--logits_all", "false"]


def test_a_file_that_does_not_match_is_refused(tmp_path):
    s = Settings(data_dir=tmp_path, models_path=tmp_path / "m")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / localserver.MODEL_FILE).write_bytes(b"not a model")
    with pytest.raises(localserver.ModelError, match="refusing to load"):
        localserver.ensure_model(s)


def test_the_server_releases_freed_heap_after_each_completion_and_after_a_stream_ends(monkeypatch):
    from interviewer.llm import llamaserve

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


# The key: a web page or another local user must not use the server, nor pass for it.

def test_the_key_is_random_private_and_kept(tmp_path):
    import stat

    settings = Settings(data_dir=tmp_path / "data")
    key = localserver.api_key(settings)
    assert len(key) >= 32 and localserver.api_key(settings) == key
    assert stat.S_IMODE((settings.data_dir / localserver.KEY_FILE).stat().st_mode) == 0o600
    assert localserver.api_key(Settings(data_dir=tmp_path / "other")) != key


class _Impostor:
    """What another local user could run on the recorded port after a crash: it says yes to everything and keeps
    what it is sent."""

    def __init__(self) -> None:
        import http.server
        import threading

        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _yes(self):
                seen.append((self.command, self.path, self.headers.get("Authorization")))
                body = b'{"data": [{"id": "m"}]}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _yes

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_our_server_proves_it_holds_the_key_and_an_impostor_cannot(tmp_path, monkeypatch):
    import threading

    import uvicorn
    from fastapi import FastAPI

    from interviewer.llm.llamaserve import with_key_proof

    key = localserver.api_key(Settings(data_dir=tmp_path))
    monkeypatch.setenv("API_KEY", key)
    port = localserver._free_port()
    server = uvicorn.Server(uvicorn.Config(with_key_proof(FastAPI)(), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    impostor = _Impostor()
    try:
        ours = f"http://127.0.0.1:{port}/v1"
        while not server.started:  # state, not time: the thread sets it once it listens
            assert thread.is_alive()
            threading.Event().wait(0.01)
        assert localserver._healthy(ours, key)
        assert not localserver._healthy(ours, key + "-not-it")
        assert not localserver._healthy(impostor.url, key)
        assert impostor.seen and not any(auth for _, _, auth in impostor.seen)  # the key was never sent to it
    finally:
        server.should_exit = True
        thread.join()
        impostor.close()


def test_a_recorded_port_taken_by_an_impostor_gets_no_prompt_and_no_key(tmp_path, monkeypatch):
    impostor = _Impostor()
    started: list[tuple[list[str], dict]] = []
    procs: list[subprocess.Popen] = []

    def popen(cmd, **kw):
        started.append((cmd, kw.get("env") or {}))
        procs.append(REAL_POPEN(["sleep", "60"]))
        return procs[-1]

    real_healthy = localserver._healthy
    monkeypatch.setattr(localserver, "ensure_model", lambda settings, on_progress=None: Path("m.gguf"))
    monkeypatch.setattr(localserver.subprocess, "Popen", popen)
    monkeypatch.setattr(localserver, "_healthy", lambda url, key: real_healthy(url, key) if url == impostor.url
                        else bool(started))  # the server this call starts answers once started
    settings = Settings(data_dir=tmp_path)
    config = localserver.server_config(Path("m.gguf"), settings)
    localserver._state_file(settings).write_text(json.dumps({"url": impostor.url, "pid": 1, "config": config}))
    try:
        url = localserver.ensure_server(settings)
        assert url != impostor.url and len(started) == 1
        key = localserver.api_key(settings)
        cmd, env = started[0]
        assert env.get("API_KEY") == key and key not in " ".join(cmd)  # in its environment, not its command line
        assert [method for method, _, _ in impostor.seen] == ["GET"]  # asked for a proof; sent nothing
        assert not any(auth for _, _, auth in impostor.seen)
    finally:
        impostor.close()
        for proc in procs:
            proc.kill()
            proc.wait()
