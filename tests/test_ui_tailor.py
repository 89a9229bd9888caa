"""The app's job tailoring and practice schedule under AppTest, on the scripted toy model: a pasted job description
plans the interview, an unreadable document is refused with its reason and loses nothing, and the history lists every
question due for review."""

from __future__ import annotations

import io
import shutil
from datetime import datetime, timedelta, timezone

from checkout import PROJECT_ROOT
from interviewer.planning.practice import DEFAULT_PLAN_SIZE, review

from apptest import messages, new_app, start

JOBS = PROJECT_ROOT / "tests" / "fixtures" / "jobs"


def _with_store(store, data_dir) -> None:
    shutil.copytree(store.settings.chroma_dir, data_dir / "chroma")  # the app's data dir gets the ingested store


def _scanned_pdf() -> bytes:
    from pypdf import PdfWriter

    pdf = PdfWriter()
    pdf.add_blank_page(width=595, height=842)  # a page with no text layer, as a scanned PDF has
    buf = io.BytesIO()
    pdf.write(buf)
    return buf.getvalue()


def test_a_pasted_job_description_tailors_the_interview(app_env, bank, store, tmp_path):
    _with_store(store, tmp_path)
    db = app_env
    at = new_app()
    at.text_area(key="job_text").set_value((JOBS / "bakery.md").read_text())
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    assert any("Nothing in the question bank matches" in w.value for w in at.warning) and not db.list_sessions()
    at.text_area(key="job_text").set_value((JOBS / "llm_inference.md").read_text())
    sid = start(at, n=3)
    first = messages(at)[-1][1]
    assert "Why this question: the job asks for" in first
    assert db.load(sid).config.planned and len(db.load(sid).config.planned) == 3
    assert db.load(sid).config.job_topics == db.job_topics(db.load(sid).config.user) != []  # remembered for practice


def test_an_unreadable_job_document_is_refused_with_its_reason_and_nothing_is_lost(app_env, store, tmp_path):
    db = app_env
    at = new_app()
    at.selectbox(key="track").set_value("mixed")
    at.slider(key="n_questions").set_value(4)
    for name, data, reason in [("job.pdf", _scanned_pdf(), "job.pdf has no readable text (a scanned PDF"),
                               ("job.txt", b"", "job.txt has no readable text")]:
        at.file_uploader(key="job_file").set_value((name, data, "application/octet-stream")).run()
        assert not at.exception, at.exception
        assert [w.value for w in at.sidebar.warning if reason in w.value]  # said on upload, beside the uploader
        at.button(key="start").click().run()
        assert not at.exception, at.exception
        assert [w.value for w in at.main.warning if w.value.startswith(f"Not started: {reason}")]
        assert not db.list_sessions() and "sid" not in at.query_params
        assert at.selectbox(key="track").value == "mixed" and at.slider(key="n_questions").value == 4

    # a pasted job description is used in its place, and stays in its box
    _with_store(store, tmp_path)
    job = (JOBS / "llm_inference.md").read_text()
    at.text_area(key="job_text").set_value(job).run()
    assert any("The pasted job description is used" in w.value for w in at.sidebar.warning)
    sid = start(at, n=3, track="mixed")
    assert db.load(sid).config.planned and "Why this question: the job asks for" in messages(at)[-1][1]
    assert at.text_area(key="job_text").value == job

    # without the file, the set-up is interviewed by track
    at.text_area(key="job_text").set_value("")
    at.file_uploader(key="job_file").set_value(None)
    sid = start(at, n=4, track="mixed")
    config = db.load(sid).config
    assert not config.planned and (config.track, config.n_questions) == ("mixed", 4)


def test_the_history_lists_every_question_due_for_review(app_env, bank):
    db = app_env
    due = [q.id for q in bank.questions[:DEFAULT_PLAN_SIZE + 3]]  # more than one plan's worth
    month_ago = datetime.now(timezone.utc) - timedelta(days=30)
    for qid in due:
        review(db, "local", qid, 1.0, month_ago)
    at = new_app()
    at.radio(key="view").set_value("History").run()
    assert not at.exception, at.exception
    assert any(f"Due for review today: {len(due)}" in m.value for m in at.markdown)
    table = next(d.value for d in at.dataframe if "due since" in d.value.columns)
    assert sorted(table["question"]) == sorted(due)
