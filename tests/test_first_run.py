"""A first run without surprises: the commands that build the question index say so (with progress), and the shipped
Streamlit settings hide the developer items from candidates."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
import yaml
from typer.testing import CliRunner

from checkout import PROJECT_ROOT
from interviewer.cli.interview import app_command
from interviewer.bank.store import BUILD_NOTE, INDEX_BAR

SMALL_BANK = ("guide-03", "guide-22", "guide-14")  # a bank of three questions builds in seconds


@pytest.fixture
def cli(tmp_path, monkeypatch, bank):
    """The knowledge and plan commands on a cold data directory with a three-question bank."""
    from interviewer.cli import interview, knowledge
    from interviewer.settings import get_settings
    from interviewer.bank.store import get_store

    small = tmp_path / "knowledge" / "questions"
    small.mkdir(parents=True)
    (small / "small.yaml").write_text(yaml.safe_dump(
        {"questions": [bank.get(i).model_dump() for i in SMALL_BANK]}, sort_keys=False))
    monkeypatch.setenv("INTERVIEWER_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INTERVIEWER_BACKEND", "fake")
    get_settings.cache_clear()
    get_store.cache_clear()
    app = typer.Typer()
    for name, command in {**knowledge.COMMANDS, **interview.COMMANDS}.items():
        app.command(name)(command)
    yield app, CliRunner()
    get_settings.cache_clear()
    get_store.cache_clear()


def test_the_first_search_says_it_builds_the_index_with_progress_and_the_next_says_nothing(cli):
    app, runner = cli
    first = runner.invoke(app, ["search", "dropout", "--json"])
    assert first.exit_code == 0, first.output
    assert BUILD_NOTE in first.stderr and INDEX_BAR in first.stderr  # the note, then the progress bar
    assert first.stdout.lstrip().startswith("[")  # the JSON on stdout stays clean
    again = runner.invoke(app, ["search", "dropout", "--json"])
    assert again.exit_code == 0 and BUILD_NOTE not in again.stderr and INDEX_BAR not in again.stderr


def test_plan_on_a_cold_store_says_it_builds_the_index(cli, tmp_path):
    app, runner = cli
    jd = tmp_path / "job.txt"
    jd.write_text("We are hiring an ML engineer who knows dropout, regularization and end-to-end learning.")
    res = runner.invoke(app, ["plan", "--jd", str(jd), "--n", "2"])
    assert res.exit_code == 0, res.output
    assert BUILD_NOTE in res.stderr and INDEX_BAR in res.stderr


def test_the_shipped_streamlit_settings_hide_the_developer_items():
    # Streamlit reads the project's file when started from the project folder (and only then: from elsewhere the
    # toolbar is "auto", which shows Deploy, Rerun and Clear cache on localhost)...
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert '\ntoolbarMode = "viewer"' in shown
    # ...and `interviewer app` passes the setting itself, wherever it is started from.
    cmd = app_command("127.0.0.1", 8600)
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "viewer"
