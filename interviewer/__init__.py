"""interviewer: a mock deep-learning interviewer with a measured rubric grader."""

from pathlib import Path

__version__ = "0.1.0"

# Data that ships beside the package in the repository (editable install).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
