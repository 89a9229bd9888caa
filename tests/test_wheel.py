"""The package as a user installs it: a wheel built from the checkout, installed into a fresh virtual environment
outside it, runs from any folder. Its bank, prompts, calibration, app and Streamlit settings are package data; nothing
may be read from the repository's layout (the checkout is not on this environment's path)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from checkout import PROJECT_ROOT, RESOURCES
from interviewer.bank.bank import load_bank
from interviewer.llm.localserver import _free_port

pytestmark = pytest.mark.slow  # builds and installs a wheel, embeds the bank, starts the app: a few minutes
STEP_TIMEOUT_S = 900
# What the wheel is not built from: the checkout's top-level folders beside the package, and caches anywhere.
NOT_BUILT = {".git", ".venv", "build", "data", "test-output", "evals", "tests", "scripts", "experiments", "docs"}


def _not_built(folder: str, names: list[str]) -> set[str]:
    top = NOT_BUILT if Path(folder) == PROJECT_ROOT else set()
    return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}
APP_START_S = 180
ANSWER = ("Dropout randomly zeroes activations during training so units cannot co-adapt; it is switched off at "
          "inference.")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict, Path]:
    """(the environment's bin folder, the environment to run it in, a folder outside the checkout to run it from)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source, dist, venv, elsewhere = tmp / "source", tmp / "dist", tmp / "venv", tmp / "elsewhere"
    elsewhere.mkdir()
    # Built from a copy of the working tree: setuptools leaves build/ beside the sources, and a build/ left by an
    # earlier build would put modules since deleted into the wheel.
    shutil.copytree(PROJECT_ROOT, source, ignore=_not_built)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(source)], cwd=tmp,
                   check=True, capture_output=True, timeout=STEP_TIMEOUT_S)
    [wheel] = dist.glob("interviewer-*.whl")
    uv = Path(sys.executable).with_name("uv")  # `make install` puts uv in the project's environment
    subprocess.run([str(uv), "venv", "-q", str(venv), "--python", sys.executable], check=True, timeout=STEP_TIMEOUT_S)
    subprocess.run([str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)],
                   check=True, timeout=STEP_TIMEOUT_S)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(INTERVIEWER_CONFIG=str(tmp / "no-config.toml"), INTERVIEWER_DATA_DIR=str(tmp / "data"),
               PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    return venv / "bin", env, elsewhere


def _run(installed, *args: str) -> str:
    bin_dir, env, elsewhere = installed
    done = subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_installed_package_is_the_wheel_with_its_data(installed):
    where = Path(_run(installed, "python", "-c", "import interviewer; print(interviewer.__file__)").strip())
    assert installed[0].parent in where.parents and PROJECT_ROOT not in where.parents
    shipped = _run(installed, "python", "-c", "from interviewer.settings import Settings; s = Settings(); "
                   "print(s.knowledge_dir); print(s.prompts_dir)").split()
    assert all(installed[0].parent in Path(p).parents for p in shipped)


def test_the_wheel_lists_the_bank(installed):
    stats = json.loads(_run(installed, "interviewer", "bank", "--json"))
    assert stats["questions"] == len(load_bank(RESOURCES / "knowledge").questions) > 0


def test_the_wheel_grades_an_answer_on_the_fake_backend(installed):
    grade = json.loads(_run(installed, "interviewer", "grade", "--backend", "fake", "-q", "guide-22", "-a", ANSWER,
                            "--json"))
    assert grade["question_id"] == "guide-22" and grade["backend"] == "fake" and not grade["evidence_only"]
    assert grade["key_points"] and 0 < grade["score"] <= 5 and grade["feedback"]


def test_the_wheel_serves_the_app(installed):
    bin_dir, env, elsewhere = installed
    unused_port = _free_port()
    app = subprocess.Popen([str(bin_dir / "interviewer"), "app", "--backend", "fake", "--port", str(unused_port)],
                           cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + APP_START_S, None
        while time.monotonic() < deadline and app.poll() is None:
            try:
                page = httpx.get(f"http://localhost:{unused_port}/", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(1)
        assert page is not None and page.status_code == 200, app.stdout.read() if app.poll() is not None else ""
        assert httpx.get(f"http://localhost:{unused_port}/_stcore/health", timeout=5).text == "ok"
    finally:
        app.terminate()
        app.wait(timeout=30)
    # The page's script itself, as the server runs it for a browser: drawn from the installed package, no exception.
    drawn = _run(installed, "python", "-c", "import pathlib, interviewer.ui as ui; "
                 "from streamlit.testing.v1 import AppTest; "
                 "at = AppTest.from_file(str(pathlib.Path(ui.__file__).with_name('app.py')), default_timeout=300); "
                 "at.run(); assert not at.exception, at.exception; print([h.value for h in at.header])")
    assert "Deep-learning mock interview" in drawn
