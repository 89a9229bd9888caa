"""The package's layers (pyproject.toml, [tool.importlinter]): no module imports from a layer above its own, and no
import circle among the modules or subpackages of any package. `lint-imports` in the repository runs the same check."""

import subprocess
import sys
from pathlib import Path

from checkout import PROJECT_ROOT


def test_no_upward_import_and_no_import_circle():
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in run.stdout
