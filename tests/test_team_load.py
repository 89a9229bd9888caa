"""The team load run (scripts/bench_team.py): 20 candidates in parallel on the toy model, one database (each engine),
one grading pool; no cross-talk, no lost turn, every answer graded; 4 candidates on the real embedded model, whose
grades queue behind each other. And the checks themselves catch both faults."""

from __future__ import annotations

import pytest

from interviewer.settings import Settings
from interviewer.grading.grader import Grader
from interviewer.store import SessionDB
from interviewer.session import Turn
from team_load import CandidateRun, LoadConfig, check_sessions, run_team, user_of
from interviewer.llm.fake import toy_llm

CANDIDATES, QUESTIONS = 20, 1
REAL_CANDIDATES = 4


def _run(db: SessionDB, bank, settings, candidates: int = CANDIDATES, questions: int = QUESTIONS, llm=None,
         backend: str = "fake"):
    llm = llm or toy_llm()
    config = LoadConfig(candidates=candidates, questions=questions, turns=questions * 3, track="fresher")
    return run_team(db, bank.questions, config, llm=llm, make_grader=lambda: Grader(llm, None, settings),
                    backend=backend)


def test_parallel_candidates_keep_their_own_turns(db_target, bank, session_settings):
    db = SessionDB(db_target)
    report = _run(db, bank, session_settings)
    assert not report.errors, report.errors
    f = report.findings
    assert f.cross_talk == [] and f.lost_turns == [] and f.ungraded == []
    assert f.turns_sent == f.turns_stored >= CANDIDATES * QUESTIONS  # at least one answer per question
    sessions = db.list_sessions()
    assert sorted(s.user for s in sessions) == sorted(user_of(i) for i in range(CANDIDATES))
    assert all(s.phase == "finished" and s.graded == QUESTIONS for s in sessions)
    assert report.ok and report.p50_ms is not None


def test_wrong_sign_ins_and_a_zip_bomb_during_the_run_cost_no_turn_and_let_nobody_in(db_target, bank,
                                                                                       session_settings):
    """A burst of wrong passwords at one account from many addresses, and a .docx bomb uploaded, while candidates
    interview: their sessions are intact, the burst runs a few password checks and is refused the rest, the bomb is
    refused unread."""
    from interviewer.team import accounts
    from interviewer.team.throttle import FREE_FAILURES, MAX_CONCURRENT_CHECKS

    db = SessionDB(db_target)
    llm = toy_llm()
    config = LoadConfig(candidates=4, questions=1, turns=3, track="fresher", wrong_sign_ins=16, bomb_bytes=200_000)
    report = run_team(db, bank.questions, config, llm=llm, make_grader=lambda: Grader(llm, None, session_settings))
    f, abuse = report.findings, report.abuse
    assert f.cross_talk == [] and f.lost_turns == [] and f.ungraded == [] and not report.errors
    assert abuse.sign_ins == 16 and abuse.signed_in == 0
    assert abuse.password_checks <= FREE_FAILURES + MAX_CONCURRENT_CHECKS - 1  # then every try is backed off
    assert abuse.password_checks + abuse.backed_off + abuse.busy == 16 and abuse.backed_off > 0
    assert abuse.bomb.startswith("refused") and "would expand to 20" in abuse.bomb
    assert report.ok and report.peak_rss_mib > 0 and "peak RSS" in report.lines()[-2]
    assert not accounts.team_mode(Settings(), db)  # the run's account is gone: the database is as it was


def test_the_checks_catch_cross_talk_and_lost_turns(db, bank, session_settings):
    report = _run(db, bank, session_settings, candidates=2, questions=1)
    assert report.ok

    runs = []
    for s in db.list_sessions():
        stored = db.load(s.id)
        runs.append(CandidateRun(number=int(s.user.split("-")[1]), user=s.user, session_id=s.id,
                                 sent=[t.text for t in stored.turns if t.role == "candidate"]))
    assert check_sessions(db, runs).model_dump(exclude={"turns_sent", "turns_stored"}) == {
        "cross_talk": [], "lost_turns": [], "ungraded": []}

    victim, other = runs[0], runs[1]
    db.add_turn(victim.session_id, Turn(seq=len(db.load(victim.session_id).turns), role="interviewer", kind="note",
                                        text=f"echo: {other.sent[0]}"))
    other.sent.append(f"[{other.user} turn-999] a message that never reached the database")
    found = check_sessions(db, runs)
    assert any(victim.user in line and other.user in line for line in found.cross_talk)
    assert any(line.startswith(other.user) and "missing" in line for line in found.lost_turns)


@pytest.mark.slow
def test_candidates_on_the_real_embedded_model_queue_and_keep_their_own_turns(tmp_path, bank):
    from interviewer.llm.registry import make_llm

    settings = Settings()  # the embedded server of the default data dir, shared with the other real-model tests
    db = SessionDB(tmp_path / "team.sqlite3")
    report = _run(db, bank, settings, candidates=REAL_CANDIDATES, questions=1, llm=make_llm(settings, "local"),
                  backend="local")
    assert not report.errors, report.errors
    f = report.findings
    assert f.cross_talk == [] and f.lost_turns == [] and f.ungraded == []
    assert report.max_queue_position >= 1  # one model for four candidates: someone's grade waited in line
    print("\n".join(report.lines()))
