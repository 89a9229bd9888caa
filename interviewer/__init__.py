"""interviewer: a mock deep-learning interviewer with a measured rubric grader."""

__version__ = "0.1.0"
