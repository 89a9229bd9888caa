"""An interview built for a job: documents read (or refused clearly), job phrases matched to the bank by retrieval,
the model's topics bound to the bank's concepts, "why this question" for each."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from checkout import PROJECT_ROOT
from interviewer.store import SessionDB
from interviewer.planning.tailor import (CONCEPT_BOOST, MAX_DOCUMENT_CHARS, MAX_PDF_PAGES, DocumentError, JobConcepts,
                                          job_concepts, phrases, read_document, tailor)
from interviewer.bank.bank import CONCEPTS

JOBS = PROJECT_ROOT / "tests" / "fixtures" / "jobs"  # job descriptions written by the project for these tests
LLM_JOB = (JOBS / "llm_inference.md").read_text()
VISION_JOB = (JOBS / "computer_vision.md").read_text()
BAKERY_JOB = (JOBS / "bakery.md").read_text()
SERVING = {"transformers-attention", "deployment-mlops", "training-at-scale", "nlp", "generative-models"}
VISION = {"cnns", "computer-vision", "transfer-learning", "data-preprocessing"}


def test_job_lines_become_phrases_and_titles_are_left_out():
    got = phrases(LLM_JOB)
    assert "Optimise transformer inference: KV caching, batching, speculative decoding" in got
    assert "LLM Inference Engineer" not in got and not any(p.startswith("-") for p in got)


def test_documents_are_read_or_refused_with_a_reason(tmp_path):
    from docx import Document
    from pypdf import PdfWriter

    assert read_document(LLM_JOB.encode(), "job.md").startswith("LLM Inference Engineer")
    doc = Document()
    for line in LLM_JOB.splitlines():
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    assert "KV caching" in read_document(buf.getvalue(), "job.docx")
    scanned = PdfWriter()
    scanned.add_blank_page(width=595, height=842)  # a page with no text layer, as a scanned PDF has
    buf = io.BytesIO()
    scanned.write(buf)
    with pytest.raises(DocumentError, match="scanned PDF"):
        read_document(buf.getvalue(), "job.pdf")
    with pytest.raises(DocumentError, match="could not be read"):
        read_document(b"%PDF-1.7 broken", "job.pdf")
    with pytest.raises(DocumentError, match="no readable text"):
        read_document(b"   \n", "job.txt")
    with pytest.raises(DocumentError, match="MB"):
        read_document(b"x" * (11 << 20), "job.txt")
    with pytest.raises(DocumentError, match="not read"):
        read_document(b"data", "job.xlsx")


LARGE_PDF_BYTES = 5_000_000  # a job ad padded into a large PDF: half the size limit, far more pages than are read
FILLER = "Our benefits include a gym membership, a pension plan and free lunches on every working day"


def _text_pdf(pages: list[list[str]]) -> bytes:
    """A PDF of these pages, each line set in Helvetica by a raw content stream (as text-layer PDFs are)."""
    from pypdf import PdfWriter
    from pypdf.generic import ContentStream, DictionaryObject, NameObject

    helvetica = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                                  NameObject("/BaseFont"): NameObject("/Helvetica")})
    writer = PdfWriter()
    for lines in pages:
        page = writer.add_blank_page(width=595, height=842)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): helvetica})})
        content = ContentStream(None, None)
        content.set_data(("BT /F1 10 Tf 12 TL 40 800 Td\n" + "\n".join(f"({line}) '" for line in lines) + "\nET")
                         .encode())
        page.replace_contents(content)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_a_5_mb_pdf_is_read_from_its_first_pages():
    job = [line for line in LLM_JOB.splitlines() if line.strip()]
    # short pages first, so the page limit ends the reading before the character limit does
    pages = [[f"Page {i}: {job[i % len(job)]}"] for i in range(1, MAX_PDF_PAGES + 2)]
    while sum(len(line) for page in pages for line in page) < LARGE_PDF_BYTES:
        pages.append([f"Page {len(pages) + 1}: {FILLER}"] * 60)
    pdf = _text_pdf(pages)
    assert len(pdf) >= LARGE_PDF_BYTES
    text = read_document(pdf, "job.pdf")
    assert text.startswith("Page 1: ") and f"Page {MAX_PDF_PAGES}: " in text
    assert f"Page {MAX_PDF_PAGES + 1}: " not in text and FILLER not in text
    assert "KV caching" in text  # the job's own lines came through the text layer
    long_pages = _text_pdf([[f"Page {i}: {FILLER}"] * 60 for i in range(1, MAX_PDF_PAGES + 1)])
    text = read_document(long_pages, "job.pdf")
    assert len(text) == MAX_DOCUMENT_CHARS and f"Page {MAX_PDF_PAGES}: " not in text  # long pages: the characters end it


def test_the_models_topics_can_only_be_bank_concepts():
    assert JobConcepts.model_validate({"concepts": ["cnns"]}).concepts == ["cnns"]
    with pytest.raises(ValueError):
        JobConcepts.model_validate({"concepts": ["kubernetes"]})
    schema = json.dumps(JobConcepts.model_json_schema())
    assert all(c in schema for c in CONCEPTS)  # the enum the server's schema mode enforces


@pytest.mark.parametrize("job, topics", [(LLM_JOB, SERVING), (VISION_JOB, VISION)])
def test_a_job_gets_mostly_its_own_topics_with_the_phrase_that_matched(store, bank, job, topics):
    from interviewer.llm.fake import toy_llm

    plan = tailor(store, bank.questions, job, llm=toy_llm(), n=8)
    assert len(plan.items) == 8 and set(plan.concepts) <= set(CONCEPTS)
    on_topic = [m for m in plan.items if topics & set(bank.get(m.question_id).concepts)]
    assert len(on_topic) >= 6, [(m.question_id, bank.get(m.question_id).concepts) for m in plan.items]
    assert all(m.phrase in phrases(job) and m.reason.startswith("the job asks for") for m in plan.items)


def test_a_job_the_bank_cannot_serve_matches_nothing(store, bank):
    plan = tailor(store, bank.questions, BAKERY_JOB, n=8)
    assert plan.items == [] and len(plan.unmatched) == plan.phrases == 3


@pytest.mark.parametrize("reply, fail", [("{}", True), ('{"concepts": ["kubernetes"]}', False)],
                         ids=["model down", "model invents a concept twice"])
def test_a_failing_model_names_no_topics_and_retrieval_still_plans(store, bank, reply, fail):
    from interviewer.llm.fake import FakeLLM

    llm = FakeLLM(reply, fail=fail)
    assert job_concepts(llm, VISION_JOB) == []
    plan = tailor(store, bank.questions, VISION_JOB, llm=llm, n=6)
    alone = tailor(store, bank.questions, VISION_JOB, n=6)
    assert plan.concepts == [] and plan.question_ids == alone.question_ids and len(plan.items) == 6
    assert plan.topics and set(plan.topics) <= set(CONCEPTS)  # the questions' own concepts stand in


def test_a_concept_the_model_names_moves_its_questions_up(store, bank):
    from interviewer.llm.fake import FakeLLM

    llm = FakeLLM('{"concepts": ["cnns"]}')
    alone = tailor(store, bank.questions, VISION_JOB, n=8)
    named = tailor(store, bank.questions, VISION_JOB, llm=llm, n=8)
    assert named.concepts == named.topics == ["cnns"] and llm.calls[0]["task"] == "job_concepts"
    before = {m.question_id: (i, m.score) for i, m in enumerate(alone.items)}
    after = {m.question_id: (i, m.score) for i, m in enumerate(named.items)}
    on_cnns = [q for q in before if q in after and "cnns" in bank.get(q).concepts]
    others = [q for q in before if q in after and q not in on_cnns]
    assert on_cnns and others
    assert all(after[q][1] == pytest.approx(before[q][1] * CONCEPT_BOOST, rel=1e-3) for q in on_cnns)
    assert all(after[q][1] == before[q][1] for q in others)
    assert any(after[q][0] < before[q][0] for q in on_cnns)  # ahead of questions it followed without the model


def test_a_cv_adds_its_claims_with_less_weight(store, bank):
    cv = "Built a sentiment classifier with LSTMs and bidirectional RNNs; tuned gradient clipping for exploding gradients."
    plan = tailor(store, bank.questions, LLM_JOB, cv=cv, n=10)
    from_cv = [m for m in plan.items if m.source == "cv"]
    assert from_cv and all(m.reason.startswith("your CV says") for m in from_cv)
    assert plan.items[0].source == "job"


def test_plan_command_says_when_nothing_in_the_bank_matches(tmp_path, monkeypatch, session_settings, store):
    from interviewer.cli.main import app
    from interviewer.settings import get_settings

    job = tmp_path / "bakery.txt"
    job.write_text(BAKERY_JOB)
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(session_settings.data_dir))  # the ingested store
    monkeypatch.setenv("INTERVIEWER_BACKEND", "fake")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["plan", "--jd", str(job)])
    finally:
        get_settings.cache_clear()
    said = " ".join(result.output.split())  # the terminal wraps lines
    assert result.exit_code == 2 and result.stdout == ""
    assert "nothing in the question bank matches bakery.txt (3 phrases searched)" in said and "--track" in said


def test_plan_and_interview_commands_take_a_job_description(tmp_path, monkeypatch, session_settings, store):
    from interviewer.cli.main import app
    from interviewer.settings import get_settings

    job = tmp_path / "job.md"
    job.write_text(LLM_JOB)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:
        f.truncate(3_000_000_000)  # sparse: 3 GB by its size, nothing on disk; refused before it is read
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(session_settings.data_dir))  # the ingested store
    monkeypatch.setenv("INTERVIEWER_BACKEND", "fake")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["plan", "--jd", str(job), "--n", "4", "--json"])
        bad = CliRunner().invoke(app, ["plan", "--jd", str(empty)])
        too_big = CliRunner().invoke(app, ["plan", "--jd", str(huge)])
        run = CliRunner().invoke(app, ["interview", "--jd", str(job), "--n", "2", "--user", "jd-test"],
                                 input="end\n")
        practise = CliRunner().invoke(app, ["practice", "--user", "jd-test", "--json"])
        topics = SessionDB(get_settings().database).job_topics("jd-test")
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    assert len(plan["items"]) == 4 and all(i["phrase"] for i in plan["items"])
    assert bad.exit_code == 2 and "no readable text" in bad.output
    assert too_big.exit_code == 2 and "huge.txt is 3000.0 MB" in " ".join(too_big.output.split())
    assert run.exit_code == 0, run.output
    assert "Why this question: the job asks for" in " ".join(run.output.split())  # the terminal wraps lines
    # the job is remembered: today's practice offers new questions on its topics first
    assert practise.exit_code == 0, practise.output
    first = json.loads(practise.stdout)["items"][0]
    assert topics and first["concept"] in topics and "a topic of your target job" in first["reason"]
