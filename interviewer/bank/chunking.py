"""Question-prefixed short chunks: measured to retrieve better than whole Q&As."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from interviewer.bank.bank import Question, ReferenceDoc
from interviewer.text import sentences

ChunkKind = Literal["question", "answer", "key_point", "reference"]
CHUNKER_VERSION = "2"  # part of every content hash: a chunking change re-embeds everything
MIN_WORDS, MAX_WORDS = 30, 60

# Chunks are packed from clauses: a piece may end after a colon or a semicolon, not only a full stop.
PIECE_ENDS = ";:"


class Chunk(BaseModel):
    id: str
    text: str
    kind: ChunkKind
    question_id: str
    index: int


def split_words(text: str, min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> list[str]:
    """Pack sentences into pieces of min..max words; a sentence longer than max is cut on word boundaries."""
    pieces: list[list[str]] = [[]]
    for sentence in sentences(text, also_at=PIECE_ENDS):
        words = sentence.split()
        while len(words) > max_words:
            if pieces[-1]:
                pieces.append([])
            pieces[-1].extend(words[:max_words])
            pieces.append([])
            words = words[max_words:]
        if pieces[-1] and len(pieces[-1]) + len(words) > max_words:
            pieces.append([])
        pieces[-1].extend(words)
        if len(pieces[-1]) >= min_words:
            pieces.append([])
    pieces = [p for p in pieces if p]
    # A short tail joins its predecessor rather than standing alone with little context.
    if len(pieces) > 1 and len(pieces[-1]) < min_words // 2:
        tail = pieces.pop()
        pieces[-1].extend(tail)
    return [" ".join(p) for p in pieces]


def question_chunks(q: Question) -> list[Chunk]:
    prefix = f"Q: {q.question}\n"
    chunks = [Chunk(id=f"{q.id}::question::0", text=q.question, kind="question", question_id=q.id, index=0)]
    for i, piece in enumerate(split_words(q.reference_answer)):
        chunks.append(Chunk(id=f"{q.id}::answer::{i}", text=f"{prefix}A: {piece}", kind="answer",
                            question_id=q.id, index=i))
    for i, point in enumerate(q.key_points):
        chunks.append(Chunk(id=f"{q.id}::key_point::{i}", text=f"{prefix}Key point: {point}", kind="key_point",
                            question_id=q.id, index=i))
    return chunks


def reference_chunks(doc: ReferenceDoc) -> list[Chunk]:
    prefix = f"{doc.title}\n"
    return [Chunk(id=f"{doc.id}::reference::{i}", text=prefix + piece, kind="reference", question_id=doc.id, index=i)
            for i, piece in enumerate(split_words(doc.text))]
