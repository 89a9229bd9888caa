"""An interview built for a job: the bank's questions that match what a job description (and a CV) asks for, each
with the phrase it matched ("why this question").

Matching is retrieval: every phrase of the job description is searched (dense MiniLM search; BM25 fused with it did
not help, see experiments/README.md) and each question collects credit for the phrases it answers, by rank, where the dense
cosine shows real overlap. The model, when there is one, names the bank concepts the job stresses; its answer is
bound to the bank's concept list by the schema (it cannot invent one) and questions on those concepts get more
credit. A CV's phrases count less: they say what the candidate claims, worth probing, while the job says what will
be asked. The job's topics are kept with the session, so today's practice offers new questions on them first.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from interviewer.bank.bank import CONCEPTS, Question
from interviewer.llm.base import LLM, LLMError
from interviewer.prompts import load_prompt
from interviewer.text import sentences

MAX_DOCUMENT_BYTES = 10_000_000  # a 10 MB document is far beyond any job description; refuse rather than parse
MAX_PDF_PAGES = 40               # a job ad is a page or two; a long PDF's later pages are not about the job
MAX_DOCUMENT_CHARS = 20_000      # what is read of a long document or a paste (the model sees less: MAX_PROMPT_CHARS)
# A .docx is a zip: its parts are checked by their uncompressed sizes (ZipInfo.file_size) before python-docx expands
# them, so a few megabytes that inflate to gigabytes are refused unread. Real job ads and CVs unpack to well under 5 MB
# (their text is a few hundred kB; pictures are stored, not inflated much).
MAX_UNZIPPED_BYTES = 50_000_000
MAX_ZIP_ENTRIES = 1_000
MAX_PROMPT_CHARS = 6_000
MIN_TEXT_CHARS = 40              # less than this is not a job description (an empty file, a scanned PDF)
MAX_PHRASES = 40
MIN_PHRASE_WORDS = 4             # shorter lines are titles and headings ("Computer Vision Engineer", "Requirements")
PER_PHRASE = 5                   # hits per phrase that can earn credit
MATCH_FLOOR = 0.35               # dense cosine under which a hit is not a match (MiniLM: unrelated DL text ~0.1-0.3)
CONCEPT_BOOST = 1.5              # credit multiplier for questions on a concept the model says the job stresses
CV_WEIGHT = 0.5
MAX_CONCEPTS = 6
MAX_PER_CONCEPT = 3              # a plan spreads over the job's topics
READABLE = (".txt", ".md", ".pdf", ".docx")

Concept = Literal[CONCEPTS]  # type: ignore[valid-type]


class DocumentError(ValueError):
    """A document that cannot be read as text, with a message to show as it is."""


class JobConcepts(BaseModel):
    concepts: list[Concept] = Field(default_factory=list, max_length=MAX_CONCEPTS)


class Match(BaseModel):
    question_id: str
    phrase: str  # the job (or CV) phrase it matched best
    source: Literal["job", "cv"]
    score: float

    @property
    def reason(self) -> str:
        where = "the job asks for" if self.source == "job" else "your CV says"
        return f'{where} "{self.phrase}"'


class TailoredPlan(BaseModel):
    concepts: list[str]  # what the model said the job stresses (empty without a model)
    topics: list[str] = Field(default_factory=list)  # the job's bank concepts: the model's, else the questions' own
    items: list[Match]
    phrases: int         # job phrases searched
    unmatched: list[str]  # job phrases nothing in the bank matched

    @property
    def question_ids(self) -> list[str]:
        return [m.question_id for m in self.items]


def check_size(name: str, size: int) -> None:
    """Refuses a document too large to be a job description (before it is read, where the size is known)."""
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"{name} is {size / 1e6:.1f} MB; documents up to {MAX_DOCUMENT_BYTES / 1e6:.0f} MB "
                            "are read. Paste the job description's text instead")


def check_unzipped(name: str, data: bytes) -> None:
    """Refuses a zip (a .docx) whose parts would expand beyond MAX_UNZIPPED_BYTES, from its directory alone. The
    sizes a zip declares bound what zipfile will inflate: it stops a part that runs past its declared size."""
    try:
        entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile:
        raise DocumentError(f"{name} is not a valid .docx file; paste the text instead") from None
    unzipped = sum(e.file_size for e in entries)
    if len(entries) > MAX_ZIP_ENTRIES or unzipped > MAX_UNZIPPED_BYTES:
        raise DocumentError(f"{name} would expand to {unzipped / 1e6:,.0f} MB in {len(entries)} part(s); documents up "
                            f"to {MAX_UNZIPPED_BYTES / 1e6:.0f} MB unpacked are read. Paste the text instead")


def cut_pasted(text: str) -> str:
    """A pasted text cut like a document's (MAX_DOCUMENT_CHARS): a paste of megabytes is not a job description."""
    return (text or "").strip()[:MAX_DOCUMENT_CHARS]


def read_document(data: bytes, name: str) -> str:
    """Plain text of a .txt/.md/.pdf/.docx document; a clear DocumentError for what cannot be read."""
    suffix = Path(name).suffix.lower()
    if suffix not in READABLE:
        raise DocumentError(f"{name}: {suffix or 'no extension'} is not read; use {', '.join(READABLE)} or paste the "
                            "text")
    check_size(name, len(data))
    try:
        if suffix == ".pdf":
            text = _pdf_text(data)
        elif suffix == ".docx":
            from docx import Document

            check_unzipped(name, data)
            doc = Document(io.BytesIO(data))
            text = "\n".join(p.text for p in doc.paragraphs)
        else:
            text = data.decode("utf-8", errors="replace")
    except DocumentError:
        raise
    except Exception as e:  # pypdf and python-docx raise many kinds for damaged files
        raise DocumentError(f"{name} could not be read ({type(e).__name__}); paste the text instead") from None
    text = text.strip()[:MAX_DOCUMENT_CHARS]
    if len(text) < MIN_TEXT_CHARS:
        hint = " (a scanned PDF has no text layer: paste the text instead)" if suffix == ".pdf" else ""
        raise DocumentError(f"{name} has no readable text{hint}")
    return text


def _pdf_text(data: bytes) -> str:
    """The text of the first MAX_PDF_PAGES pages, stopping once MAX_DOCUMENT_CHARS are in (the rest is cut anyway)."""
    from pypdf import PdfReader

    pages: list[str] = []
    for page in PdfReader(io.BytesIO(data)).pages[:MAX_PDF_PAGES]:
        pages.append(page.extract_text() or "")
        if sum(map(len, pages)) >= MAX_DOCUMENT_CHARS:
            break
    return "\n".join(pages)


def phrases(text: str) -> list[str]:
    """The job's lines and sentences, each a thing it asks for ("3+ years with PyTorch", "serving LLMs at scale").
    One pass that stops at MAX_PHRASES, and reads at most MAX_DOCUMENT_CHARS: linear in what it reads."""
    out: list[str] = []
    seen: set[str] = set()
    for line in re.split(r"[\r\n]+", (text or "")[:MAX_DOCUMENT_CHARS]):
        line = re.sub(r"^\s*([-*•·▪◦]|\d+[.)])\s*", "", line).strip()
        for piece in sentences(line, also_at=";"):
            piece = piece.strip(" .:-")
            if len(piece.split()) >= MIN_PHRASE_WORDS and piece.lower() not in seen:
                seen.add(piece.lower())
                out.append(piece)
                if len(out) == MAX_PHRASES:
                    return out
    return out


def job_concepts(llm: LLM | None, job: str, cv: str = "") -> list[str]:
    """The bank concepts the job stresses, by the model; [] without a model or when it fails (matching goes on)."""
    if llm is None:
        return []
    cv_block = f"CANDIDATE CV:\n<document>\n{cv[:MAX_PROMPT_CHARS // 2]}\n</document>" if cv else ""
    messages = [{"role": "system", "content": load_prompt("job_concepts", concepts=", ".join(CONCEPTS), n=MAX_CONCEPTS)},
                {"role": "user", "content": load_prompt("job_concepts_user", job=job[:MAX_PROMPT_CHARS], cv=cv_block)}]
    try:
        found, _ = llm.structured(messages, JobConcepts, max_tokens=120, task="job_concepts")
    except LLMError:
        return []
    return list(dict.fromkeys(found.concepts))


def tailor(store, questions: list[Question], job: str, *, cv: str = "", llm: LLM | None = None,
           n: int = 8) -> TailoredPlan:
    """The n bank questions that best match the job (and CV), each with the phrase that earned it."""
    bank = {q.id: q for q in questions}
    named = job_concepts(llm, job, cv)
    stressed = set(named)
    credit: dict[str, float] = {}
    best: dict[str, Match] = {}
    job_phrases = phrases(job)
    unmatched = []
    for source, weight, texts in (("job", 1.0, job_phrases), ("cv", CV_WEIGHT, phrases(cv) if cv else [])):
        for phrase in texts:
            hits = [h for h in store.search(phrase, k=PER_PHRASE) if h.score >= MATCH_FLOOR and h.question_id in bank]
            if not hits and source == "job":
                unmatched.append(phrase)
            for rank, h in enumerate(hits):
                boost = CONCEPT_BOOST if stressed & set(bank[h.question_id].concepts) else 1.0
                gain = weight * boost * h.score / (rank + 1)
                credit[h.question_id] = credit.get(h.question_id, 0.0) + gain
                if h.question_id not in best or gain > best[h.question_id].score:
                    best[h.question_id] = Match(question_id=h.question_id, phrase=phrase, source=source,
                                                score=round(gain, 4))
    picked: list[Match] = []
    per_concept: dict[str, int] = {}
    for qid in sorted(credit, key=lambda q: -credit[q]):
        concept = bank[qid].concepts[0]
        if per_concept.get(concept, 0) >= MAX_PER_CONCEPT:
            continue
        per_concept[concept] = per_concept.get(concept, 0) + 1
        picked.append(best[qid].model_copy(update={"score": round(credit[qid], 4)}))
        if len(picked) == n:
            break
    counts = Counter(c for m in picked for c in bank[m.question_id].concepts)
    return TailoredPlan(concepts=named, topics=named or [c for c, _ in counts.most_common()], items=picked,
                        phrases=len(job_phrases), unmatched=unmatched)
