"""Where the tests find the repository's own files (fixtures, the evals' data, the shipped resources in the tree)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESOURCES = PROJECT_ROOT / "interviewer" / "resources"
