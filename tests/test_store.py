from __future__ import annotations

import socket

import numpy as np
import pytest

from interviewer.bank.bank import Bank, Question
from interviewer.settings import Settings
from interviewer.bank.store import Store


def _q(qid: str, question: str, answer: str, tier="fresher", concepts=("optimization",)) -> Question:
    return Question(id=qid, tier=tier, concepts=list(concepts), question=question, reference_answer=answer,
                    key_points=["First checkable claim here", "Second checkable claim", "Third checkable claim"],
                    source="user")


def _small_bank() -> Bank:
    return Bank(questions=[
        _q("lr", "What does the learning rate control in gradient descent?",
           "The learning rate scales each gradient step; too large diverges, too small converges slowly."),
        _q("drop", "What does dropout do?", "Dropout zeroes random activations during training to regularize.",
           tier="intermediate", concepts=("regularization",)),
        _q("att", "Why scale dot-product attention by sqrt(d_k)?",
           "Dot products grow with dimension; scaling keeps softmax out of saturation.", tier="advanced",
           concepts=("transformers-attention",)),
    ])


@pytest.fixture
def fresh_store(tmp_path):
    return Store(Settings(data_dir=tmp_path, backend="fake"))


def test_ingest_is_idempotent_and_tracks_changes(fresh_store):
    bank = _small_bank()
    first = fresh_store.ingest(bank, progress=False)
    assert (first.added, first.unchanged) == (3, 0) and first.chunks_embedded > 0
    n = fresh_store.count()
    again = fresh_store.ingest(bank, progress=False)
    assert (again.added, again.updated, again.removed, again.unchanged, again.chunks_embedded) == (0, 0, 0, 3, 0)
    assert fresh_store.count() == n

    changed = _q("lr", "What does the learning rate control in gradient descent?",
                 "It sets the step size; a schedule with warmup then decay is standard practice today.")
    edited = Bank(questions=[changed, bank.questions[1]])
    third = fresh_store.ingest(edited, progress=False)
    assert (third.updated, third.removed, third.unchanged) == (1, 1, 1)
    assert "warmup" in fresh_store.question("lr").reference_answer
    with pytest.raises(KeyError, match="att"):
        fresh_store.question("att")
    assert {h.question_id for h in fresh_store.search("attention softmax scaling", k=5)} == {"lr", "drop"}


def test_anchors_ingest_once_and_give_back_their_vectors(fresh_store):
    from interviewer.grading.anchor_book import AnchorBook
    from interviewer.bank.anchors import Anchor, reference_anchor
    from interviewer.bank.embeddings import get_embedder

    bank = _small_bank()
    terse = Anchor(question_id="drop", text="It switches off random units while training.", score=3, level="terse")
    anchors = {q.id: [reference_anchor(q)] for q in bank.questions}
    anchors["drop"].append(terse)
    first = fresh_store.ingest_anchors(anchors, progress=False)
    assert (first.anchors_embedded, first.anchors_removed) == (4, 0)
    again = fresh_store.ingest_anchors(anchors, progress=False)
    assert (again.anchors_embedded, again.anchors_removed) == (0, 0)
    stored = fresh_store.anchor_vectors([terse.text_id, "not-there"])
    assert list(stored) == [terse.text_id]
    assert np.allclose(stored[terse.text_id], get_embedder().embed([terse.text])[0], atol=1e-5)
    # A book over the store reads the stored vector; an anchor the store lacks is embedded on the spot.
    fresh = Anchor(question_id="drop", text="Dropout makes the network smaller.", score=0.5, level="graded")
    vecs = AnchorBook(anchors, store=fresh_store).vectors([terse, fresh])
    assert vecs.shape == (2, stored[terse.text_id].shape[0]) and np.allclose(vecs[0], stored[terse.text_id])
    anchors["drop"] = anchors["drop"][:1]
    third = fresh_store.ingest_anchors(anchors, progress=False)
    assert (third.anchors_embedded, third.anchors_removed) == (0, 1)


def test_store_survives_reopen(tmp_path):
    settings = Settings(data_dir=tmp_path, backend="fake")
    Store(settings).ingest(_small_bank(), progress=False)
    reopened = Store(settings)
    assert reopened.ingest(_small_bank(), progress=False).unchanged == 3


def test_reference_material_comes_back_from_the_store(store, bank):
    ref = store.reference("guide-22")
    assert ref.question == bank.get("guide-22")
    kinds = [c.kind for c in ref.chunks]
    assert kinds[0] == "question" and "answer" in kinds
    assert kinds.count("key_point") == len(ref.question.key_points)
    assert all(c.text.startswith("Q: ") for c in ref.chunks if c.kind != "question")


def test_search_filters(store):
    hits = store.search("how to reduce overfitting", k=10, tier="fresher")
    assert hits and all(h.tier == "fresher" for h in hits)
    hits = store.search("gates that control memory", k=8, concept="rnns")
    assert hits and all("rnns" in h.concepts for h in hits)
    hits = store.search("applications of deep learning", k=5, source="guide")
    assert hits and all(h.source == "guide" for h in hits)
    assert len({h.question_id for h in hits}) == len(hits)  # one hit per question
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_registered_chroma_function_embeds_with_the_packaged_model(store):
    from chromadb.utils.embedding_functions import known_embedding_functions

    from interviewer.bank.embeddings import MiniLMEmbeddingFunction

    assert known_embedding_functions[MiniLMEmbeddingFunction.name()] is MiniLMEmbeddingFunction
    (v,) = MiniLMEmbeddingFunction()(["hello"])
    assert len(v) == 384 and abs(sum(float(x) * float(x) for x in v) - 1) < 1e-4
    hits = store.search("randomly dropping units to prevent co-adaptation", k=3)
    assert any(h.question_id == "guide-22" for h in hits)


def test_offline_ingest_and_query(tmp_path, monkeypatch, bank):
    """No network in this process: any connection attempt (other than loopback) raises."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
            return real_connect(self, address)
        raise OSError(f"network disabled in test: {address}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: (_ for _ in ()).throw(OSError("DNS disabled")))
    s = Store(Settings(data_dir=tmp_path, backend="fake"))
    small = Bank(questions=bank.questions[:10], references=bank.references[:2])
    assert s.ingest(small, progress=False).added == 12
    assert s.search(bank.questions[3].question, k=1)[0].question_id == bank.questions[3].id


def test_embeddings_are_normalised_and_semantic():
    from interviewer.bank.embeddings import get_embedder

    e = get_embedder()
    v = e.embed(["dropout randomly zeroes activations", "dropout drops units at random during training",
                 "the capital of France is Paris", ""])
    assert v.shape == (4, 384)
    assert abs(float((v[0] ** 2).sum()) - 1) < 1e-4
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.3


def test_embedding_batches_stay_within_the_token_budget_and_give_each_text_its_own_vector():
    from interviewer.bank.embeddings import BATCH, MAX_TOKENS, TOKEN_BUDGET, get_embedder

    e = get_embedder()
    long = " ".join(f"term{i}" for i in range(400))  # truncated to MAX_TOKENS
    texts = [long, "short one", long + " variant", *[f"key point number {i} about dropout" for i in range(20)], ""]
    lengths = [len(t.ids) for t in e._tok.encode_batch([t or " " for t in texts])]
    assert max(lengths) == MAX_TOKENS and len(set(lengths)) > 2  # unpadded: the tokenizer file's padding is off
    batches = list(e._batches(lengths))
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))
    assert all(len(b) <= BATCH and len(b) * max(lengths[i] for i in b) <= TOKEN_BUDGET for b in batches)
    together = e.embed(texts)
    alone = [e.embed_one(t) for t in texts]
    assert np.abs(together - np.array(alone)).max() < 1e-5  # padding and batch company do not move a vector


class _HeldExecutor:
    """Runs what is submitted only when told to: the store's opening is observed before and after, no timing."""

    def __init__(self):
        self.jobs = []

    def submit(self, fn, *args):
        self.jobs.append((fn, args))

    def run_all(self):
        for fn, args in self.jobs:
            fn(*args)


def test_background_store_answers_once_open_and_says_why_not_before(tmp_path):
    from interviewer.bank.background import BackgroundStore

    settings = Settings(data_dir=tmp_path, backend="fake")
    Store(settings).ingest(_small_bank(), progress=False)
    pool = _HeldExecutor()
    bg = BackgroundStore(settings, pool, ingest=False)
    with pytest.raises(RuntimeError, match="still being built"):
        bg.search("dropout", k=1)
    pool.run_all()
    assert bg.search("what does dropout do", k=1)[0].question_id == "drop"


def test_background_store_remembers_an_empty_store_without_filling_it(tmp_path):
    from interviewer.bank.background import BackgroundStore

    settings = Settings(data_dir=tmp_path, backend="fake")
    pool = _HeldExecutor()
    bg = BackgroundStore(settings, pool, ingest=False)
    pool.run_all()
    for _ in range(2):  # the same reason each time, and no second attempt to open
        with pytest.raises(RuntimeError, match="store is empty"):
            bg.search("dropout", k=1)
    assert len(pool.jobs) == 1 and Store(settings).count() == 0


def test_background_store_gives_anchor_vectors_once_open_and_none_before(tmp_path):
    from concurrent.futures import Future

    from interviewer.bank.anchors import Anchor
    from interviewer.bank.background import BackgroundStore

    class Later:  # an executor that runs nothing until told
        def submit(self, fn, *args):
            self.call = (fn, args)
            return Future()

    pool = Later()
    settings = Settings(data_dir=tmp_path, backend="fake")
    bg = BackgroundStore(settings, pool, ingest=False)
    a = Anchor(question_id="drop", text="It switches off random units while training.", score=3, level="terse")
    assert bg.anchor_vectors([a.text_id]) == {}
    Store(settings).ingest_anchors({"drop": [a]}, progress=False)
    Store(settings).ingest(_small_bank(), progress=False)
    fn, args = pool.call
    fn(*args)
    assert list(bg.anchor_vectors([a.text_id])) == [a.text_id]
