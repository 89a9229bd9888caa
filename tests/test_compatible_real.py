"""The compatible backend against a REAL OpenAI-compatible server: llama-cpp-python's stock `llama_cpp.server` (no
sampler of ours, as a user's own server would be) serving the embedded model's weights. Runs in CI.

Its capabilities are probed like any server's; the grade must be a real one (the model's judgement, read from the
server's logprobs) and agree with the embedded path on the same answers within MAX_GAP.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from interviewer.settings import Settings
from interviewer.grading.anchor_book import AnchorBook
from interviewer.grading.grader import Grader
from interviewer.llm.registry import make_llm
from interviewer.llm.localserver import _free_port, ensure_model, stop_server
from test_local_model import ANSWERS

pytestmark = pytest.mark.slow
MAX_GAP = 0.5


@pytest.fixture(scope="module")
def stock_url(tmp_path_factory):
    model = ensure_model(Settings())
    port = _free_port()
    log = (tmp_path_factory.mktemp("stock") / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--n_threads", "2", "--chat_format", "chatml",
                             "--verbose", "false"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, "the stock llama_cpp.server exited"
        time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def both(stock_url, tmp_path_factory):
    models = Settings().models_dir
    compat = Settings(data_dir=tmp_path_factory.mktemp("compat"), models_path=models, backend="compatible",
                      base_url=stock_url, model="qwen")
    local = Settings(data_dir=tmp_path_factory.mktemp("local"), models_path=models, backend="local")
    yield (compat, make_llm(compat)), (local, make_llm(local))
    stop_server(local)


def test_the_probe_finds_what_llama_cpp_python_honours(both):
    (_, llm), _ = both
    caps = llm.capabilities
    assert caps.grammar and caps.logprobs and caps.streams
    assert caps.schema_mode == "json_object+schema"  # its json_schema answers HTTP 500


def test_grades_are_real_and_agree_with_the_embedded_path(both, bank):
    (cs, compat), (ls, local) = both
    # The judge through each transport, zero-anchor: the anchored score is the same arithmetic on top (tests of its
    # own), and the compatible server would first grade each question's nine anchors for itself.
    gaps = {}
    for qid, answers in ANSWERS.items():
        q = bank.get(qid)
        for kind, text in answers.items():
            a = Grader(compat, settings=cs, anchors=AnchorBook()).score(q, text)
            b = Grader(local, settings=ls, anchors=AnchorBook()).score(q, text)
            assert not a.evidence_only and a.judgement == "logprobs", (qid, kind, a.notes)
            gaps[f"{qid}/{kind}"] = (a.score, b.score)
    print(gaps)
    assert max(abs(a - b) for a, b in gaps.values()) <= MAX_GAP, gaps


def test_a_practice_interview_through_the_compatible_backend(both, bank, tmp_path):
    from interviewer.interview.agent import Interviewer
    from interviewer.store import SessionDB
    from interviewer.session import SessionConfig

    (cs, compat), _ = both
    db = SessionDB(tmp_path / "s.sqlite3")
    agent = Interviewer.start(SessionConfig(track="fresher", n_questions=2, mode="practice", user="c"), db=db,
                              llm=compat, grader=Grader(compat, settings=cs, anchors=AnchorBook()),
                              questions=bank.questions)  # zero-anchor: the anchors' own grades are tested apart
    try:
        said = [u.resolve() for u in agent.opening()]
        for _ in range(6):
            if agent.phase == "finished":
                break
            q = bank.get(agent.current.question_id)
            if agent.phase == "awaiting_followup":
                said += [u.resolve() for u in agent.handle("I'm not sure, let's move on: skip")]
                continue
            said += [u.resolve() for u in agent.handle("hint")]
            said += [u.resolve() for u in agent.handle(q.key_points[0] + " " + q.key_points[1])]
        agent.finish()
        agent.wait_for_grades(timeout=300)
        stored = db.load(agent.session.id)
        grades = [r.grade for r in stored.questions if r.grade is not None]
        assert grades and not any(g.evidence_only for g in grades)
        assert any(text.startswith("Hint:") for text in said) and any("Score:" in text for text in said)
    finally:
        agent.close()
