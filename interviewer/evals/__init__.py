"""Measure the grader against human graders, side by side with baselines (`interviewer eval`).

datasets: rows from our labelled DL set, the Mohler set or a user CSV/JSONL; metrics: agreement with CIs;
baselines: mean, embedding cosine, naive judge; probes: robustness; cache: resumable grades; runner: one run.
"""
