"""How `interviewer app` starts Streamlit: the environment and the command line the browser test and benchmarks share."""

from __future__ import annotations

from checkout import PROJECT_ROOT
from interviewer.cli.interview import MALLOC_ARENAS, app_command, app_environ


def test_the_app_runs_with_few_malloc_arenas_unless_the_user_chose_otherwise():
    assert app_environ({"PATH": "/bin"}) == {"PATH": "/bin", "MALLOC_ARENA_MAX": MALLOC_ARENAS}
    assert app_environ({"MALLOC_ARENA_MAX": "8"})["MALLOC_ARENA_MAX"] == "8"


def test_the_command_runs_the_app_script_headless_only_when_asked():
    cmd = app_command("127.0.0.1", 8600, headless=True)
    assert str(PROJECT_ROOT / "interviewer" / "ui" / "app.py") in cmd
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert "--server.headless" not in app_command("localhost", 8501)
