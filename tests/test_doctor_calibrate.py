"""`interviewer doctor` and `interviewer calibrate --dataset file` on the toy model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from interviewer.cli.main import app


@pytest.fixture
def env(monkeypatch, tmp_path, store):
    """The CLI on the toy model, with its own data directory (and a copy of the ingested store)."""
    import shutil

    from interviewer.settings import get_settings

    shutil.copytree(store.settings.chroma_dir, tmp_path / "chroma")
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTERVIEWER_BACKEND", "fake")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()  # the next test reads its own environment


def test_doctor_reports_every_part(env):
    result = CliRunner().invoke(app, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert set(checks) == {"backend", "structured output", "store", "database", "calibration", "grading", "voice"}
    assert checks["backend"]["status"] == "pass" and "fake" in checks["backend"]["detail"]
    assert checks["grading"]["status"] == "pass" and "judgement by" in checks["grading"]["detail"]
    assert checks["store"]["status"] == "pass" and checks["database"]["status"] == "pass"
    from interviewer.store.migrations import MIGRATIONS

    assert f"schema {MIGRATIONS[-1].__name__}" in checks["database"]["detail"]
    # the test install has the voice extras: the speech model is found and its sha256 checked
    assert checks["voice"]["status"] == "pass" and "sha256 ok" in checks["voice"]["detail"]
    assert result.exit_code == 0


def test_doctor_fails_loudly_when_the_backend_cannot_start(env, monkeypatch):
    from interviewer.settings import get_settings

    monkeypatch.setenv("INTERVIEWER_BACKEND", "compatible")  # no base URL
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1 and "FAIL" in result.stdout and "base URL" in result.stdout


def test_calibrate_to_your_own_graders_makes_a_named_scale(env, bank):
    tmp_path = env
    rows = []
    for qid in ("guide-22", "guide-10", "guide-14", "guide-13"):
        q = bank.get(qid)
        for answer, score in ((" ".join(q.key_points), 10), (q.key_points[0], 8), ("I do not know.", 2)):
            rows.append({"question_id": qid, "question": q.question, "reference": q.reference_answer,
                         "answer": answer, "score": score, "max_score": 10})
    labels = tmp_path / "mine.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(app, ["calibrate", "--dataset", "file", "--path", str(labels), "--name", "lenient",
                                      "--json"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "calibrations" / "lenient.json").read_text())
    assert saved["name"] == "lenient" and saved["scale"]["slope"] >= 0
    assert saved["fitted_on"]["user"]["rows"] == len(rows)
    from interviewer.settings import Settings
    from interviewer.grading.grader import Grader
    from interviewer.llm.fake import toy_llm

    q = bank.get("guide-22")
    ours = Grader(toy_llm(), settings=Settings(data_dir=tmp_path)).score(q, q.key_points[0])
    theirs = Grader(toy_llm(), settings=Settings(data_dir=tmp_path, calibration="lenient")).score(
        q, q.key_points[0])
    assert theirs.calibration == "lenient" and theirs.score > ours.score  # these graders are more lenient
    bad = CliRunner().invoke(app, ["calibrate", "--dataset", "file", "--path", str(labels)])
    assert bad.exit_code == 2 and "--name" in bad.output
