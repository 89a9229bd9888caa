"""The Chroma store: idempotent ingest of the bank, reference look-up and filtered semantic search."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import lru_cache

from pydantic import BaseModel, Field
from tqdm import tqdm

from interviewer.bank.anchors import Anchor
from interviewer.bank.bank import Bank, Question, ReferenceDoc, load_bank
from interviewer.bank.chunking import CHUNKER_VERSION, Chunk, question_chunks, reference_chunks
from interviewer.settings import Settings, get_settings
from interviewer.bank.embeddings import MODEL_NAME, MiniLMEmbeddingFunction


# A cold store embeds the whole bank once: 1,671 chunks in 38-49 s on this project's two-core machine
# (scripts/bench_store.py); every later start re-embeds only what changed.
BUILD_NOTE = "Building the question index (once, about 40 s)..."
ANCHOR_BATCH = 64  # anchors embedded per upsert (the embedder batches within it)
INDEX_BAR = "question index"


class Hit(BaseModel):
    question_id: str
    chunk_id: str
    kind: str
    text: str
    score: float = Field(description="cosine similarity, 1 is identical")
    tier: str | None = None
    concepts: list[str] = Field(default_factory=list)
    source: str


class ReferenceMaterial(BaseModel):
    """What the grader needs about one question, read back from the store."""

    question: Question
    chunks: list[Hit]


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    anchors_embedded: int = 0
    anchors_removed: int = 0
    seconds: float = 0.0


class StoreUnavailable(ValueError):
    """The Chroma server the settings name does not answer (a ValueError, as chromadb's own connection error is)."""


def make_client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as e:  # chromadb says only "Could not connect to a Chroma server": name the one we asked
            raise StoreUnavailable(f"no Chroma server answers at {settings.chroma_host}:{settings.chroma_port} "
                                   f"(INTERVIEWER_CHROMA_HOST / INTERVIEWER_CHROMA_PORT; start one with `chroma run`, "
                                   f"or unset the host for the local store): {e}") from e
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def _doc_hash(item: Question | ReferenceDoc) -> str:
    return f"{CHUNKER_VERSION}-{MODEL_NAME}-{item.content_hash()}"


def _metadata(item: Question | ReferenceDoc, chunk: Chunk) -> dict:
    concepts = list(item.concepts)
    meta = {
        "question_id": item.id,
        "kind": chunk.kind,
        "index": chunk.index,
        "source": item.source,
        "concepts": ",".join(concepts),
        "doc_hash": _doc_hash(item),
        "doc_type": "question" if isinstance(item, Question) else "reference",
    }
    # Chroma metadata are scalars: one boolean per concept makes concept filters exact.
    meta.update({f"c_{c}": True for c in concepts})
    if isinstance(item, Question):
        meta["tier"] = item.tier
        if chunk.kind == "question":
            meta["record"] = item.model_dump_json()  # the store alone can rebuild the question
    return meta


class Store:
    def __init__(self, settings: Settings | None = None, client=None) -> None:
        self.settings = settings or get_settings()
        self.client = client or make_client(self.settings)
        self.collection = self.client.get_or_create_collection(
            name=self.settings.collection,
            embedding_function=MiniLMEmbeddingFunction(),
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._anchors = None

    # -- ingest ------------------------------------------------------------------------------------------------
    def _existing_hashes(self) -> dict[str, str]:
        got = self.collection.get(include=["metadatas"])
        return {m["question_id"]: m["doc_hash"] for m in got["metadatas"] or []}

    def ingest(self, bank: Bank, progress: bool = True) -> IngestReport:
        start = time.perf_counter()
        report = IngestReport()
        existing = self._existing_hashes()
        items: list[Question | ReferenceDoc] = [*bank.questions, *bank.references]
        wanted = {item.id for item in items}
        for doc_id in sorted(set(existing) - wanted):
            self.collection.delete(where={"question_id": doc_id})
            report.removed += 1
        todo = []
        for item in items:
            if existing.get(item.id) == _doc_hash(item):
                report.unchanged += 1
                continue
            if item.id in existing:
                self.collection.delete(where={"question_id": item.id})
                report.updated += 1
            else:
                report.added += 1
            todo.append(item)
        bar = tqdm(todo, desc=INDEX_BAR, unit="doc", file=sys.stderr, disable=not progress or not todo)
        batch_ids, batch_docs, batch_meta = [], [], []
        for item in bar:
            chunks = question_chunks(item) if isinstance(item, Question) else reference_chunks(item)
            for c in chunks:
                batch_ids.append(c.id)
                batch_docs.append(c.text)
                batch_meta.append(_metadata(item, c))
            if len(batch_ids) >= 128:
                self._add(batch_ids, batch_docs, batch_meta)
                report.chunks_embedded += len(batch_ids)
                batch_ids, batch_docs, batch_meta = [], [], []
        if batch_ids:
            self._add(batch_ids, batch_docs, batch_meta)
            report.chunks_embedded += len(batch_ids)
        report.seconds = round(time.perf_counter() - start, 3)
        return report

    @property
    def anchors(self):
        """The authored anchors' collection (one document per graded answer, by `Anchor.text_id`)."""
        if self._anchors is None:
            self._anchors = self.client.get_or_create_collection(
                name=f"{self.settings.collection}_anchors", embedding_function=MiniLMEmbeddingFunction(),
                configuration={"hnsw": {"space": "cosine"}})
        return self._anchors

    def ingest_anchors(self, anchors: dict[str, list[Anchor]], report: IngestReport | None = None,
                       progress: bool = True) -> IngestReport:
        """Embed the anchors not yet in the store and drop those no longer authored (idempotent: an unchanged anchor
        is never embedded again)."""
        report = report or IngestReport()
        wanted = {a.text_id: a for items in anchors.values() for a in items}
        have = set(self.anchors.get(include=[])["ids"])
        gone = sorted(have - set(wanted))
        if gone:
            self.anchors.delete(ids=gone)
            report.anchors_removed += len(gone)
        todo = [wanted[i] for i in sorted(set(wanted) - have)]
        for start in tqdm(range(0, len(todo), ANCHOR_BATCH), desc="anchors", unit="batch", file=sys.stderr,
                          disable=not progress or not todo):
            batch = todo[start:start + ANCHOR_BATCH]
            self.anchors.upsert(ids=[a.text_id for a in batch], documents=[a.text for a in batch],
                                metadatas=[{"question_id": a.question_id} for a in batch])
            report.anchors_embedded += len(batch)
        return report

    def anchor_vectors(self, text_ids: list[str]):
        """Stored anchors' vectors by text id (those the store lacks are left out)."""
        import numpy as np

        got = self.anchors.get(ids=list(text_ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def _add(self, ids: list[str], docs: list[str], metas: list[dict]) -> None:
        self.collection.upsert(ids=ids, documents=docs, metadatas=metas)

    def count(self) -> int:
        return self.collection.count()

    # -- read ----------------------------------------------------------------------------------------------------
    def question(self, question_id: str) -> Question:
        got = self.collection.get(where={"$and": [{"question_id": question_id}, {"kind": "question"}]},
                                  include=["metadatas"])
        if not got["ids"]:
            raise KeyError(f"question {question_id!r} is not in the store (run `interviewer ingest`)")
        return Question.model_validate_json(got["metadatas"][0]["record"])

    def questions(self) -> list[Question]:
        got = self.collection.get(where={"kind": "question"}, include=["metadatas"])
        return sorted((Question.model_validate_json(m["record"]) for m in got["metadatas"]), key=lambda q: q.id)

    def reference(self, question_id: str) -> ReferenceMaterial:
        question = self.question(question_id)
        got = self.collection.get(where={"question_id": question_id}, include=["metadatas", "documents"])
        hits = [_hit(i, d, m, 1.0) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        order = {"question": 0, "answer": 1, "key_point": 2}
        hits.sort(key=lambda h: (order.get(h.kind, 3), h.chunk_id))
        return ReferenceMaterial(question=question, chunks=hits)

    def search(self, query: str, k: int = 5, *, tier: str | None = None, concept: str | None = None,
               source: str | None = None, kinds: list[str] | None = None, per_question: bool = True,
               exclude_question: str | None = None, questions_only: bool = True) -> list[Hit]:
        """Semantic search; with per_question, the best chunk of each question (the usual need)."""
        # Reference documents are few: drop them after the query rather than paying for a metadata filter.
        where = _where(tier=tier, concept=concept, source=source, kinds=kinds, exclude=exclude_question)
        n = min((k * 4 + 12) if per_question or questions_only else k, max(self.count(), 1))
        res = self.collection.query(query_texts=[query], n_results=n, where=where,
                                    include=["metadatas", "documents", "distances"])
        hits = [_hit(i, d, m, 1.0 - dist) for i, d, m, dist in
                zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])
                if not questions_only or m.get("doc_type") == "question"]
        if per_question:
            best: dict[str, Hit] = {}
            for h in hits:
                if h.question_id not in best or h.score > best[h.question_id].score:
                    best[h.question_id] = h
            hits = sorted(best.values(), key=lambda h: -h.score)
        return hits[:k]


def _where(*, tier, concept, source, kinds, exclude) -> dict | None:
    clauses: list[dict] = []
    if tier:
        clauses.append({"tier": tier})
    if concept:
        clauses.append({f"c_{concept}": True})
    if source:
        clauses.append({"source": source})
    if kinds:
        clauses.append({"kind": {"$in": list(kinds)}})
    if exclude:
        clauses.append({"question_id": {"$ne": exclude}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _hit(chunk_id: str, doc: str, meta: dict, score: float) -> Hit:
    return Hit(question_id=meta["question_id"], chunk_id=chunk_id, kind=meta["kind"], text=doc,
               score=round(float(score), 4), tier=meta.get("tier"),
               concepts=[c for c in meta.get("concepts", "").split(",") if c], source=meta["source"])


@lru_cache(maxsize=1)
def get_store() -> Store:
    return Store()


def ensure_ingested(store: Store | None = None, progress: bool = False) -> IngestReport:
    """Bring the store in line with the bank and its authored anchors (cheap when nothing changed)."""
    from interviewer.bank.anchors import load_anchors

    store = store or get_store()
    bank = load_bank(store.settings.knowledge_dir)
    report = store.ingest(bank, progress=progress)
    return store.ingest_anchors(load_anchors(store.settings.knowledge_dir, bank), report, progress=progress)


def ensure_index(store: Store, say: Callable[[str], None] | None = None) -> IngestReport:
    """The store brought in line with the bank; a cold one (empty: the first run on a data directory) is built with a
    note first (`say`) and a progress bar on stderr, so the wait is neither silent nor a surprise."""
    if say is not None and store.count() == 0:
        say(BUILD_NOTE)
    return ensure_ingested(store, progress=True)


def open_store(settings: Settings | None = None, say: Callable[[str], None] | None = None) -> Store:
    """The local (or configured) store, built first if it is cold (`ensure_index`)."""
    store = Store(settings)
    ensure_index(store, say)
    return store

