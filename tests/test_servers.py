"""Team mode's shared servers, for real: the store against a `chroma run` server, and the `compatible` backend against
the embedded llama.cpp server's own OpenAI-compatible endpoint (what a team would point its app replicas at).

The Chroma tests need only the chromadb package's `chroma` executable; the model tests need the embedded model and
are `slow` like the other real-model tests.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from interviewer.settings import Settings
from interviewer.bank.store import Store
from interviewer.llm.localserver import _free_port

CHROMA_START_S = 60.0  # a cold `chroma run` opens its SQLite and HNSW files; seconds on this machine
CHROMA_POLL_S = 0.2
CHROMA_STOP_S = 10.0
HTTP_PROBE_TIMEOUT_S = 2.0
SELF_QUERIES = 8  # bank questions whose own text is searched for
COSINE_TOLERANCE = 1e-3  # HNSW returns float32 distances


def _chroma_executable() -> str:
    here = Path(sys.executable).with_name("chroma")
    found = str(here) if here.is_file() else shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` executable (chromadb's CLI) is not installed beside this Python")
    return found


def _heartbeat(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v2/heartbeat", timeout=HTTP_PROBE_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on a free port and a directory of its own, stopped at the end. Yields (host, port)."""
    root = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log_path = root / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([_chroma_executable(), "run", "--path", str(root / "data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + CHROMA_START_S
    try:
        while not _heartbeat(url):
            if proc.poll() is not None:
                pytest.fail(f"`chroma run` exited with code {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"`chroma run` did not answer {url}/api/v2/heartbeat within {CHROMA_START_S:.0f} s:\n"
                            f"{log_path.read_text(errors='replace')}")
            time.sleep(CHROMA_POLL_S)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=CHROMA_STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _server_settings(tmp_path: Path, host: str, port: int, collection: str) -> Settings:
    # chroma_path points into the test's own directory: a store that silently fell back to a local one would
    # create it, which the tests check does not happen.
    return Settings(data_dir=tmp_path, backend="fake", chroma_host=host, chroma_port=port, collection=collection,
                    chroma_path=tmp_path / "must-stay-absent")


@pytest.fixture(scope="module")
def server_store(chroma_server, tmp_path_factory, bank):
    """The whole bank, ingested into the server through the project's own store code."""
    host, port = chroma_server
    settings = _server_settings(tmp_path_factory.mktemp("replica-a"), host, port, "bank_on_server")
    store = Store(settings)
    report = store.ingest(bank, progress=False)
    return store, report


def _bank_chunks(bank) -> int:
    from interviewer.bank.chunking import question_chunks, reference_chunks

    return sum(len(question_chunks(q)) for q in bank.questions) + sum(len(reference_chunks(r)) for r in bank.references)


@pytest.mark.slow  # the fixture embeds the whole bank: a minute or two on 2 cores
def test_the_bank_ingests_into_a_chroma_server_and_counts_match(server_store, bank):
    store, report = server_store
    assert type(store.client).__name__ != "PersistentClient"
    assert not store.settings.chroma_dir.exists()  # nothing went to a local store
    assert report.added == len(bank.questions) + len(bank.references) and report.unchanged == 0
    assert report.chunks_embedded == _bank_chunks(bank) == store.count()
    assert len(store.questions()) == len(bank.questions)


@pytest.mark.slow  # the fixture embeds the whole bank: a minute or two on 2 cores
def test_bank_questions_find_themselves_through_the_server(server_store, bank):
    store, _ = server_store
    step = max(1, len(bank.questions) // SELF_QUERIES)
    picked = bank.questions[::step][:SELF_QUERIES]
    for q in picked:
        top = store.search(q.question, k=1)
        assert top and top[0].question_id == q.id, (q.id, top)
    # Scores are cosines (the collection's space on the server): checked against the embedder on a non-identical pair.
    from interviewer.bank.embeddings import get_embedder

    query = "randomly dropping units to prevent co-adaptation"
    hit = store.search(query, k=1)[0]
    v = get_embedder().embed([query, hit.text])
    assert hit.score == pytest.approx(float(v[0] @ v[1]), abs=COSINE_TOLERANCE) and hit.score < 1 - COSINE_TOLERANCE
    q = picked[0]
    assert store.question(q.id) == q
    ref = store.reference(q.id)
    assert ref.question == q and sum(c.kind == "key_point" for c in ref.chunks) == len(q.key_points)
    filtered = store.search("how to reduce overfitting", k=5, tier="fresher")
    assert filtered and all(h.tier == "fresher" for h in filtered)


@pytest.mark.slow  # the fixture embeds the whole bank: a minute or two on 2 cores
def test_a_second_replica_sees_the_same_collection_without_reingesting(server_store, tmp_path, bank):
    store, _ = server_store
    host, port = store.settings.chroma_host, store.settings.chroma_port
    replica = Store(_server_settings(tmp_path, host, port, store.settings.collection))
    assert replica.count() == store.count()
    q = bank.questions[len(bank.questions) // 2]
    assert replica.search(q.question, k=1)[0].question_id == q.id
    again = replica.ingest(bank, progress=False)
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == (0, 0, 0, 0)
    assert again.unchanged == len(bank.questions) + len(bank.references)
    assert not replica.settings.chroma_dir.exists()


def test_an_unreachable_chroma_server_is_a_clear_error(tmp_path):
    from interviewer.bank.store import StoreUnavailable

    port = _free_port()
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port} .*INTERVIEWER_CHROMA_HOST"):
        Store(_server_settings(tmp_path, "127.0.0.1", port, "nowhere"))
    assert not (tmp_path / "must-stay-absent").exists()


# --- the compatible backend against the embedded server's own endpoint -----------------------------------------------

@pytest.fixture(scope="module")
def embedded_endpoint(tmp_path_factory):
    """The embedded llama.cpp server (our sampler), started for a data dir of its own with the test's key (the
    compatible backend below is given it); yields its /v1 URL."""
    from interviewer.files import write_private
    from interviewer.llm.localserver import KEY_FILE, ensure_server, stop_server

    settings = Settings(data_dir=tmp_path_factory.mktemp("embedded"), models_path=Settings().models_dir,
                        backend="local")
    write_private(settings.data_dir / KEY_FILE, API_KEY)
    url = ensure_server(settings)
    yield url
    stop_server(settings)


GRADES_WAIT_S = 300.0  # bounds a failure: one grade on the embedded model takes seconds
API_KEY = "sk-team-" + secrets.token_hex(12)  # random: it can only turn up where something wrote it down


@pytest.fixture(scope="module")
def compatible(embedded_endpoint, tmp_path_factory):
    from interviewer.llm.registry import make_llm

    settings = Settings(data_dir=tmp_path_factory.mktemp("compatible"), models_path=Settings().models_dir,
                        backend="compatible", base_url=embedded_endpoint, model="qwen-team",
                        api_key=SecretStr(API_KEY))
    return settings, make_llm(settings)


@pytest.mark.slow
def test_the_probe_finds_what_the_embedded_server_does(compatible):
    """The probe's view of our server must match what the local backend declares about the same server."""
    from interviewer.llm.registry import LOCAL_CAPABILITIES

    _, llm = compatible
    caps = llm.capabilities
    assert llm.backend == "compatible"
    for field in ("grammar", "schema_mode", "logprobs", "sampler_options", "streams"):
        assert getattr(caps, field) == getattr(LOCAL_CAPABILITIES, field), (field, caps, LOCAL_CAPABILITIES)


@pytest.mark.slow
def test_the_embedded_server_really_does_what_the_capabilities_say(embedded_endpoint):
    """Raw requests, no code of ours on the client side: a GBNF grammar binds the reply and logprobs come back with
    it; `response_format` json_object with a schema binds it; OpenAI's json_schema does not work here."""
    chat = f"{embedded_endpoint}/chat/completions"
    ask = [{"role": "user", "content": 'Reply with the JSON object {"fruit": "apple"} and nothing else.'}]
    base = {"model": "x", "messages": ask, "max_tokens": 16, "temperature": 0.0}
    assert httpx.post(chat, json=base, timeout=120).status_code == 401  # the server asks for its key
    key = {"Authorization": f"Bearer {API_KEY}"}
    grammar = 'root ::= "{\\"colour\\":\\"" ("teal" | "mauve") "\\"}"'
    r = httpx.post(chat, json={**base, "grammar": grammar, "logprobs": True, "top_logprobs": 3}, headers=key,
                   timeout=120)
    r.raise_for_status()
    choice = r.json()["choices"][0]
    assert json.loads(choice["message"]["content"])["colour"] in ("teal", "mauve")
    assert any(t["top_logprobs"] for t in choice["logprobs"]["content"])
    schema = {"type": "object", "properties": {"colour": {"enum": ["teal", "mauve"]}}, "required": ["colour"]}
    r = httpx.post(chat, json={**base, "response_format": {"type": "json_object", "schema": schema}}, headers=key,
                   timeout=120)
    r.raise_for_status()
    assert json.loads(r.json()["choices"][0]["message"]["content"])["colour"] in ("teal", "mauve")
    r = httpx.post(chat, json={**base, "response_format": {"type": "json_schema", "json_schema": {
        "name": "Colour", "schema": schema}}}, headers=key, timeout=120)
    honoured = r.status_code == 200 and '"colour"' in (r.json()["choices"][0]["message"]["content"] or "")
    assert not honoured, "the server now honours json_schema: the probe and LOCAL_CAPABILITIES should say so"


@pytest.mark.slow
def test_a_chat_reply_through_the_compatible_backend(compatible):
    _, llm = compatible
    reply = llm.generate([{"role": "user", "content": "Name one activation function. One word."}], max_tokens=8)
    assert reply.text.strip() and reply.finish_reason in ("stop", "length")
    streamed = "".join(llm.stream([{"role": "user", "content": "Say yes."}], max_tokens=4, temperature=0.0))
    assert streamed.strip()


@pytest.mark.slow
def test_real_grades_through_the_compatible_backend_and_the_key_stays_out(compatible, bank, tmp_path):
    from interviewer.grading.grader import Grader
    from interviewer.interview.agent import Interviewer
    from interviewer.store import SessionDB
    from interviewer.session import SessionConfig
    from test_local_model import ANSWERS

    settings, llm = compatible
    q = bank.get("guide-22")
    grader = Grader(llm, settings=settings)
    right, wrong = (grader.score(q, ANSWERS[q.id][kind]) for kind in ("terse", "wrong"))
    for g in (right, wrong):
        assert 0.0 <= g.score <= 5.0 and not g.evidence_only, g.notes
        assert (g.backend, g.model, g.judgement) == ("compatible", "qwen-team", "logprobs")
        assert API_KEY not in g.model_dump_json()
    assert right.score > wrong.score, (right.score, wrong.score)

    db_path = tmp_path / "sessions.sqlite3"
    db = SessionDB(db_path)
    agent = Interviewer.start(SessionConfig(track="fresher", n_questions=1, mode="practice", user="team"), db=db,
                              backend="compatible", llm=llm, grader=grader, questions=[q])
    try:
        said = [u.resolve() for u in agent.opening()]  # utterances are lazy: resolving one runs its turn's work
        said += [u.resolve() for u in agent.handle(ANSWERS[q.id]["terse"])]
        if agent.phase == "awaiting_followup":
            said += [u.resolve() for u in agent.handle("skip")]
        said += [u.resolve() for u in agent.finish()]
        assert agent.wait_for_grades(timeout=GRADES_WAIT_S)
        assert not any(API_KEY in text for text in said)
        stored = db.load(agent.session.id)
        assert [r.grade is not None for r in stored.questions] == [True]
    finally:
        agent.close()
        db.close()
    written = [p for p in (*tmp_path.rglob("*"), *settings.data_dir.rglob("*")) if p.is_file()]
    assert any(p.name.startswith("sessions.sqlite3") for p in written)
    assert (settings.data_dir / "server-capabilities.json").is_file()
    for path in written:
        assert API_KEY.encode() not in path.read_bytes(), f"the API key was written to {path}"
