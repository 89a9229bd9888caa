"""The conversation eval's checks and its runner, on the toy model (the real-model run is committed in evals/results)."""

from __future__ import annotations

import json


from interviewer.evals import interviews as ce


def test_grounded_needs_the_candidates_own_words():
    answer = "use pack_padded_sequence so the lstm ignores the padding"
    assert ce.grounded("You said “use pack_padded_sequence so the lstm”. Why?", answer)
    assert ce.grounded("So the lstm ignores the padding: how does it know where a sequence ends?", answer)
    assert not ce.grounded("You said “the model learns hierarchical features”. Why?", answer)
    assert not ce.grounded("How does hierarchical feature learning compare with shallow features?", answer)


def test_moves_are_read_from_the_opener():
    assert ce.move_of("You said “x y”. Are you sure about that? What follows?") == "challenge"
    assert ce.move_of("No problem: “x y” is a start. Let's take a simpler step. What is it?") == "step-down"
    assert ce.move_of("You mentioned “x y”. Where does masking come into this?") == "probe"


def test_scripts_cover_every_persona():
    items = {"excellent": "E", "partial": "P", "incomplete": "I", "misconception": "M", "off-topic": "O"}
    said = ce.scripts(items, other="X")
    assert set(said) == set(ce.PERSONAS)
    assert said["partial"] == ["P", "I"] and said["clarify"][-1] == "P" and said["hint"][:1] == ["hint"]
    assert said["off-topic"] == ["O", "P"] and said["another-question"] == ["X", "P"]  # off, then on the question
    del items["off-topic"]
    assert set(ce.scripts(items)) == set(ce.PERSONAS) - set(ce.OFF_QUESTION)  # left out without their answers


def test_another_question_answer_comes_from_a_question_with_no_shared_concept(bank):
    chosen = [(qid, {"excellent": f"E-{qid}"}) for qid in ("guide-22", "reg-early-stopping", "guide-03")]
    others = ce.other_answers(chosen, bank.by_id())
    assert others["guide-22"] == "E-guide-03"  # early stopping shares regularization with dropout: skipped
    for qid, answer in others.items():
        assert not set(bank.get(qid).concepts) & set(bank.get(answer.removeprefix("E-")).concepts)


def _convo(persona: str, *replies: tuple[str, str]) -> ce.Conversation:
    lines = [ce.Line(role="interviewer", kind="question", text="Q?")]
    for kind, text in replies:
        lines += [ce.Line(role="candidate", kind="message", text="my answer"),
                  ce.Line(role="interviewer", kind=kind, text=text, grounded=kind == "followup" or None,
                          strays=(text == "stray?") if kind == "followup" else None)]
    return ce.Conversation(question_id="guide-22", tier="fresher", question="Q?", persona=persona, lines=lines)


def test_the_off_question_counts():
    redirect = "You talked about “my answer”, but I'm asking what is a dropout. Could you answer that?"
    convos = [_convo("off-topic", ("redirect", redirect), ("followup", "You said “my answer”. Why?")),
              _convo("off-topic", ("followup", "stray?")),
              _convo("another-question", ("question", "Q2?")),
              _convo("partial", ("followup", "You said “my answer”. Why?")),
              _convo("misconception", ("redirect", redirect))]
    s = ce.summarise(convos)
    assert s["off_question_redirected"] == {"n": 3, "k": 1, "rate": 0.3333}
    assert s["off_question_redirected_by_persona"]["another-question"]["k"] == 0
    assert s["off_question_claims_followed_up"]["k"] == 1  # the second: a follow-up straight after the claim
    assert s["on_topic_redirected"] == {"n": 2, "k": 1, "rate": 0.5}
    assert s["followups_on_the_question"] == {"n": 3, "k": 2, "rate": 0.6667}
    assert s["redirect_forms"] == {"quote": 2}


def test_a_fake_run_writes_transcripts_rates_and_a_readable_report(tmp_path, monkeypatch, store):
    monkeypatch.setenv("INTERVIEWER_DATA_DIR", str(tmp_path / "data"))
    from interviewer.settings import get_settings
    get_settings.cache_clear()
    summary = ce.run(backend="fake", n_questions=2, seed=0, out=tmp_path / "run", command="test", store=store)
    lines = [json.loads(x) for x in (tmp_path / "run" / "transcripts.jsonl").read_text().splitlines()]
    off = [c for c in lines if c["persona"] in ce.OFF_QUESTION]
    assert len(lines) == summary["conversations"] and len(lines) - len(off) == 2 * (len(ce.PERSONAS) - 2)
    assert off and summary["off_question_redirected"]["n"] == len(off)
    for c in off:  # the redirect, if any, is the reply to the first answer, which then is not graded
        kinds = [ln["kind"] for ln in c["lines"] if ln["role"] == "interviewer"]
        assert "redirect" not in kinds or kinds[1] == "redirect"
    assert summary["followups_on_strong_answers"]["n"] == 2
    followups = [ln for c in lines for ln in c["lines"] if ln["kind"] == "followup"]
    assert followups and summary["followups_grounded"]["n"] == len(followups)
    assert all(ln["grounded"] == ce.grounded(ln["text"], _last_answer(c, ln))
               for c in lines for ln in c["lines"] if ln["kind"] == "followup")
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| follow-ups grounded in the answer" in report and "### " in report
    get_settings.cache_clear()


def _last_answer(convo: dict, line: dict) -> str:
    """The candidate's latest answer before this follow-up (commands and clarifying questions are not answers)."""
    before = convo["lines"][:convo["lines"].index(line)]
    said = [ln["text"] for ln in before if ln["role"] == "candidate" and ln["text"] not in
            ("hint", "another hint please", ce.GENERIC_CLARIFY, ce.SPECIFIC_CLARIFY, "skip")]
    return said[-1] if said else ""


def test_a_rephrase_restates_the_question_and_a_line_with_new_words_does_not():
    from interviewer.interview import conversation as conv

    q = "What is dropout, and how does it behave at inference?"
    assert conv.restates_question(conv.rephrase(q, "fresher"), q)
    assert conv.restates_question("You said “it drops units”. Is there an important aspect of this you haven't "
                                  "covered yet?", q, said="it drops units at random")
    assert not conv.restates_question("Is dropout switched off at inference?", q)
    assert not conv.restates_question("Think about it in terms of regularization: what is the mechanism at work?", q)


def test_a_flagged_restatement_is_counted_apart_from_leaks_and_a_recount_marks_it(tmp_path):
    from interviewer.interview import conversation as conv

    q = "What is dropout?"
    rephrase = conv.rephrase(q, "fresher")
    lines = [ce.Line(role="interviewer", kind="question", text=q),
             ce.Line(role="candidate", kind="message", text=ce.GENERIC_CLARIFY),
             ce.Line(role="interviewer", kind="clarify", text=rephrase, origin="template", leak="meaning",
                     answer_score=2.5, question_score=1.0),
             ce.Line(role="candidate", kind="message", text="it helps"),
             ce.Line(role="interviewer", kind="followup", text="You said “it helps”. Is it switched off at "
                     "inference?", origin="model", leak="meaning")]
    convo = ce.Conversation(question_id="guide-22", tier="fresher", question=q, persona="clarify", lines=lines)
    src = tmp_path / "run"
    src.mkdir()
    (src / "transcripts.jsonl").write_text(convo.model_dump_json() + "\n")
    (src / "summary.json").write_text(json.dumps({"model": "toy", "backend": "fake", "seed": 0, "command": "x"}))
    s = ce.recount(src, tmp_path / "again", "test")
    assert s["flagged"]["k"] == 2 and s["leaks"]["k"] == 1 and s["flagged_restatements"] == {"n": 1, "k": 1,
                                                                                            "rate": 1.0}
    assert s["clarifications_graded_above_question"]["k"] == 1 and s["clarifications_that_answer"]["k"] == 0
    again = [json.loads(x) for x in (tmp_path / "again" / "transcripts.jsonl").read_text().splitlines()]
    assert [ln["restates"] for ln in again[0]["lines"] if ln["kind"] in ce.LINE_KINDS] == [True, False]
    assert again[0]["lines"][-1]["strays"] is False  # a follow-up from before the topic check is checked now
    assert "restates the question" in (tmp_path / "again" / "report.md").read_text()
