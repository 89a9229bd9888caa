"""The conversation eval: scripted candidates talk to the real interviewer, and automatic checks count what a senior
interviewer would not do.

Candidates (per question): strong (the labelled excellent answer), partial, unsure (a vague hedge), misconception
(the labelled confident wrong answer), clarify (asks what the question means, generically and then specifically,
then answers partly), hint (asks for both hints, then answers partly), off-topic (the labelled off-topic answer,
where the question has one, then the partial answer) and another-question (the excellent answer to another chosen
question that shares no concept with this one, then the partial answer). Every candidate skips any follow-up its
script has no reply for. The answers are the DL set's own (evals/datasets/dl), so most first answers' judgements
replay from the committed judge cache; the interviewer's lines are the model's, fresh. The interviewer has the whole
bank and the store, as in the app, so a redirect can name the question an answer is closer to.

Checks, per interviewer line (follow-up, hint, clarification):
- leak: `conversation.LeakCheck` against every key point and reference sentence, the candidate's own words excluded
  (the live check runs before a line is said, so this counts what got past it, e.g. a safe-by-construction template);
  a flag on a template that only restates the question (`conversation.restates_question`: no word but the
  question's, the candidate's and the templates' own) is a false alarm by construction, counted apart;
- grounded (follow-ups): it quotes the candidate's latest answer verbatim, or shares a 4-word run with it;
- answers the question (clarifications): the grader, given the clarification as if it were an answer, scores it
  ANSWERS_BY or more above what it gives the bare question text (the grader credits a restated question a little),
  unless it only restates the question;
- on the question's topic (follow-ups): `conversation.strays`, the live check, reads the probe against the question
  and against the answer it follows;
- redirects: an off-question candidate's first answer should get a redirect (interview/redirect.py), never a
  follow-up on its claim; an on-topic candidate's should not;
- origin: the model's phrasing, a template, or both (the model's line was unusable or rejected by the leak check).
`recount` counts a finished run again from its transcripts (no model).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from interviewer.settings import evals_dir
from interviewer.interview import conversation as conv
from interviewer.interview import redirect
from interviewer.bank.bank import Question

PERSONAS = ("strong", "partial", "unsure", "misconception", "clarify", "hint", "off-topic", "another-question")
OFF_QUESTION = ("off-topic", "another-question")  # candidates whose first answer is off the question
UNSURE_ANSWER = ("I am not totally sure, but I think it has to do with making the model train better and "
                 "generalize.")
GENERIC_CLARIFY = "What do you mean exactly, can you clarify what you are asking?"
SPECIFIC_CLARIFY = "Do you mean in theory, or how you would do it in practice?"
ANSWERS_BY = 1.0  # a clarification graded this much above the bare question, as an answer, has answered it
# The interviewer waits this long for the quick score that decides between a follow-up, a redirect and moving on (the
# app waits 30 s, then moves on): a busy machine slows the eval down instead of changing what it counts.
DECIDE_TIMEOUT_S = 600.0
LINE_KINDS = ("followup", "hint", "clarify", "redirect")


class Line(BaseModel):
    role: str
    kind: str
    text: str
    origin: str = ""
    seconds: float = 0.0
    leak: str | None = None
    restates: bool | None = None  # a template that only restates the question (conversation.restates_question)
    grounded: bool | None = None
    strays: bool | None = None  # a follow-up about the candidate's claim rather than the question
    move: str | None = None
    answer_score: float | None = None
    question_score: float | None = None


class Conversation(BaseModel):
    question_id: str
    tier: str
    question: str
    persona: str
    lines: list[Line] = Field(default_factory=list)
    score: float | None = None


def scripts(items: dict[str, str], other: str | None = None) -> dict[str, list[str]]:
    """What each candidate says, in order; `items` maps a DL answer kind to its text for one question, `other` is an
    excellent answer to another question. A candidate the question has no answer for is left out."""
    partial = items["partial"]
    said = {
        "strong": [items["excellent"]],
        "partial": [partial, items.get("incomplete", partial)],
        "unsure": [UNSURE_ANSWER, "Sorry, I really don't know."],
        "misconception": [items["misconception"], "Yes, I'm quite sure about that."],
        "clarify": [GENERIC_CLARIFY, SPECIFIC_CLARIFY, partial],
        "hint": ["hint", "another hint please", partial],
    }
    if "off-topic" in items:
        said["off-topic"] = [items["off-topic"], partial]
    if other:
        said["another-question"] = [other, partial]
    return said


def other_answers(chosen: list[tuple[str, dict[str, str]]], bank: dict[str, Question]) -> dict[str, str]:
    """For each chosen question, the excellent answer of the next chosen one that shares none of its concepts."""
    out = {}
    for i, (qid, _) in enumerate(chosen):
        for other_id, items in chosen[i + 1:] + chosen[:i]:
            if not set(bank[qid].concepts) & set(bank[other_id].concepts):
                out[qid] = items["excellent"]
                break
    return out


def move_of(text: str) -> str:
    if "Are you sure about" in text:
        return "challenge"
    if text.startswith("No problem"):
        return "step-down"
    return "probe"


def _runs(text: str, n: int = 4) -> set[tuple[str, ...]]:
    toks = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def grounded(followup: str, answer: str) -> bool:
    quotes = re.findall(r"“([^”]+)”", followup)
    return any(q in answer for q in quotes) or bool(_runs(followup) & _runs(answer))


def template_only(line: Line, question: str, tier: str) -> bool:
    """The line has no model-written part: the clarification is the bare rephrase, the others fell back."""
    if line.kind == "clarify":
        return line.text == conv.rephrase(question, tier)
    return line.origin in ("template", "model+template")


def restates(line: Line, question: str, tier: str, heard: str) -> bool:
    """A template with no word but the question's, the candidate's (`heard`: all they said so far) and its own."""
    return template_only(line, question, tier) and conv.restates_question(line.text, question, heard)


def heard_so_far(lines: list[Line]) -> str:
    return " ".join(ln.text for ln in lines if ln.role == "candidate")


def run_one(q: Question, persona: str, said: list[str], *, llm, grader, db, check: conv.LeakCheck,
            bank: dict[str, Question] | None = None, store=None) -> Conversation:
    from interviewer.interview.agent import Interviewer
    from interviewer.session import SessionConfig, planned_fields

    config = SessionConfig(track=q.tier, mode="interview", user=f"eval-{persona}", **planned_fields({q.id: "eval"}))
    agent = Interviewer.start(config, db=db, llm=llm, grader=grader, questions=list((bank or {q.id: q}).values()),
                              leak_check=check, store=store, decide_timeout_s=DECIDE_TIMEOUT_S)
    convo = Conversation(question_id=q.id, tier=q.tier, question=q.question, persona=persona)
    secrets = conv.secrets_of(q.reference_answer, q.key_points)
    question_score: float | None = None  # the bare question graded as an answer: the baseline of a clarification
    try:
        for u in agent.opening(greet=False):
            convo.lines.append(Line(role="interviewer", kind=u.kind, text=u.resolve()))
        answers: list[str] = []
        queue = list(said)
        while agent.phase != "finished":
            message = queue.pop(0) if queue else "skip"
            convo.lines.append(Line(role="candidate", kind="message", text=message))
            t0 = time.perf_counter()
            out = agent.handle(message)
            texts = [u.resolve() for u in out]
            seconds = time.perf_counter() - t0
            rec = agent.session.questions[0]
            answers = list(rec.answers)
            for u, text in zip(out, texts):
                line = Line(role="interviewer", kind=u.kind, text=text, origin=u.origin, seconds=round(seconds, 2))
                if u.kind == "redirect":  # what it adds to the question's own ask, as the live check reads it
                    line.leak = check.reason(redirect.beyond_the_question(text, q), secrets, q.question,
                                             said=heard_so_far(convo.lines))
                elif u.kind in LINE_KINDS:
                    line.leak = check.reason(text, secrets, q.question, said=" ".join(answers))
                if u.kind in LINE_KINDS:
                    line.restates = restates(line, q.question, q.tier, heard_so_far(convo.lines))
                if u.kind == "followup":
                    line.grounded = grounded(text, answers[-1] if answers else "")
                    line.strays = conv.strays(text, q.question, q.reference_answer, answers[-1] if answers else "",
                                              check.embed)
                    line.move = move_of(text)
                if u.kind == "clarify":
                    if question_score is None:
                        question_score = round(grader.score(q, q.question).score, 2)
                    line.answer_score = round(grader.score(q, text).score, 2)
                    line.question_score = question_score
                convo.lines.append(line)
        agent.wait_for_grades(600)
        grade = agent.session.questions[0].grade
        convo.score = grade.score if grade is not None else None
    finally:
        agent.close()
    return convo


def choose(rows, n_questions: int, seed: int) -> list[tuple[str, dict[str, str]]]:
    """Questions of the DL set that have excellent, partial and misconception answers, spread over tiers."""
    by_q: dict[str, dict[str, str]] = {}
    for r in rows:
        by_q.setdefault(r.question_id, {})[r.kind] = r.answer
    ok = sorted(qid for qid, kinds in by_q.items() if {"excellent", "partial", "misconception"} <= set(kinds))
    random.Random(seed).shuffle(ok)
    return [(qid, by_q[qid]) for qid in ok[:n_questions]]


def first_reply(c: Conversation) -> Line | None:
    """The interviewer's first line after the candidate's first message."""
    said = next((i for i, ln in enumerate(c.lines) if ln.role == "candidate"), None)
    if said is None:
        return None
    return next((ln for ln in c.lines[said + 1:] if ln.role == "interviewer"), None)


REDIRECT_FORMS = ("topic", "other", "quote", "plain")


def redirect_form(text: str) -> str:
    """Which redirect template a line was built from: what it says the answer was about."""
    for form in REDIRECT_FORMS:
        if text.startswith(conv.REDIRECT[form].split("{")[0]):
            return form
    return "other"


def rate(flags: list[bool]) -> dict:
    return {"n": len(flags), "k": int(sum(flags)), "rate": round(float(np.mean(flags)), 4) if flags else None}


def answers_by(ln: Line) -> bool:
    """Graded as an answer, the clarification scores ANSWERS_BY above the bare question."""
    return (ln.answer_score or 0) - (ln.question_score or 0) >= ANSWERS_BY


def summarise(convos: list[Conversation]) -> dict:
    lines = [(c, ln) for c in convos for ln in c.lines if ln.role == "interviewer" and ln.kind in LINE_KINDS]
    follow = [(c, ln) for c, ln in lines if ln.kind == "followup"]
    clar = [ln for _, ln in lines if ln.kind == "clarify"]
    by_persona = {p: [c for c in convos if c.persona == p] for p in PERSONAS}
    off = [c for c in convos if c.persona in OFF_QUESTION]
    on = [c for c in convos if c.persona not in OFF_QUESTION]
    redirects = [ln for _, ln in lines if ln.kind == "redirect"]

    def first_followup(c: Conversation) -> Line | None:
        return next((ln for ln in c.lines if ln.kind == "followup"), None)

    seconds = [ln.seconds for _, ln in lines]
    summary = {
        "conversations": len(convos),
        "questions": len({c.question_id for c in convos}),
        "interviewer_lines": {k: sum(1 for _, ln in lines if ln.kind == k) for k in LINE_KINDS},
        # A flag on a template made only of the question's words and the templates' own is a false alarm by
        # construction: counted apart, not as a leak.
        "flagged": rate([ln.leak is not None for _, ln in lines]),
        "flagged_restatements": rate([ln.leak is not None for _, ln in lines if ln.restates]),
        "leaks": rate([ln.leak is not None and not ln.restates for _, ln in lines]),
        "leaks_by_kind": {k: rate([ln.leak is not None and not ln.restates for _, ln in lines if ln.kind == k])
                          for k in LINE_KINDS},
        "leak_reasons": dict(Counter(ln.leak for _, ln in lines if ln.leak)),
        # Pure templates are built from the question's words (clarifications) or its concept tags (hints): a flag on
        # one is the check's false alarm. Lines with any model-written part are what the live check has to stop.
        "leaks_in_model_lines": rate([ln.leak is not None for _, ln in lines if ln.origin == "model"]),
        "leaks_in_template_lines": rate([ln.leak is not None for _, ln in lines if ln.origin != "model"]),
        "followups_grounded": rate([bool(ln.grounded) for _, ln in follow]),
        "followups_on_the_question": rate([not ln.strays for _, ln in follow]),
        # Off-question candidates: the first answer redirected, or (what a senior interviewer would not do) followed up
        "off_question_redirected": rate([(f := first_reply(c)) is not None and f.kind == "redirect" for c in off]),
        "off_question_redirected_by_persona": {p: rate([(f := first_reply(c)) is not None and f.kind == "redirect"
                                                        for c in by_persona[p]]) for p in OFF_QUESTION},
        "off_question_claims_followed_up": rate([(f := first_reply(c)) is not None and f.kind == "followup"
                                                 for c in off]),
        "on_topic_redirected": rate([any(ln.kind == "redirect" for ln in c.lines) for c in on]),
        "redirect_forms": dict(Counter(redirect_form(ln.text) for ln in redirects)),
        "followups_on_strong_answers": rate([first_followup(c) is not None for c in by_persona["strong"]]),
        "clarifications_graded_above_question": rate([answers_by(ln) for ln in clar]),
        "clarifications_that_answer": rate([answers_by(ln) and not ln.restates for ln in clar]),
        "clarification_answer_score_max": max((ln.answer_score or 0 for ln in clar), default=None),
        "question_text_score_mean": round(float(np.mean([ln.question_score or 0 for ln in clar])), 2) if clar
        else None,
        "misconceptions_challenged": rate([(f := first_followup(c)) is not None and f.move == "challenge"
                                           for c in by_persona["misconception"]]),
        "unsure_stepped_down": rate([(f := first_followup(c)) is not None and f.move == "step-down"
                                     for c in by_persona["unsure"]]),
        "followup_rate_by_persona": {p: rate([first_followup(c) is not None for c in cs])
                                     for p, cs in by_persona.items()},
        "origin_by_kind": {k: dict(Counter(ln.origin for _, ln in lines if ln.kind == k)) for k in LINE_KINDS},
        "mean_score_by_persona": {p: round(float(np.mean([c.score for c in cs if c.score is not None])), 2)
                                  for p, cs in by_persona.items() if any(c.score is not None for c in cs)},
        "turn_seconds_p50": round(float(np.percentile(seconds, 50)), 2) if seconds else None,
        "turn_seconds_p95": round(float(np.percentile(seconds, 95)), 2) if seconds else None,
    }
    return summary


def transcript_md(c: Conversation) -> str:
    out = [f"### {c.question_id} ({c.tier}) · candidate: {c.persona}", ""]
    for ln in c.lines:
        who = "**Interviewer**" if ln.role == "interviewer" else "**Candidate**"
        tags = [t for t in (ln.origin and f"origin: {ln.origin}", ln.move and f"move: {ln.move}",
                            ln.leak and (f"flagged: {ln.leak}, restates the question" if ln.restates
                                         else f"LEAK: {ln.leak}"),
                            ln.grounded is not None and f"grounded: {'yes' if ln.grounded else 'no'}",
                            ln.strays and "about the claim, not the question",
                            ln.answer_score is not None and f"graded as an answer: {ln.answer_score}, the bare "
                                                            f"question: {ln.question_score}") if t]
        suffix = f" _({'; '.join(tags)})_" if tags else ""
        out.append(f"- {who} [{ln.kind}]: {ln.text.replace(chr(10), ' ')}{suffix}")
    out.append(f"- final score: {c.score}")
    return "\n".join(out) + "\n"


def report_md(summary: dict, convos: list[Conversation], meta: dict, n_shown: int = 12) -> str:
    def r(x: dict) -> str:
        return f"{x['k']}/{x['n']} ({100 * x['rate']:.1f}%)" if x.get("n") else "n/a"

    s = summary
    rows = [
        ("interviewer lines that leak a key point (target <= 2%)", r(s["leaks"])),
        ("  lines the check flagged, all kinds", r(s["flagged"])),
        ("  of the templates that only restate the question, flagged (not counted as leaks)",
         r(s["flagged_restatements"])),
        *((f"  {k} lines that leak", r(v)) for k, v in s["leaks_by_kind"].items()),
        ("  lines in the model's words that leak", r(s["leaks_in_model_lines"])),
        ("  template lines flagged (templates use only the question's words or a key point's one term)",
         r(s["leaks_in_template_lines"])),
        ("follow-ups grounded in the answer (target >= 90%)", r(s["followups_grounded"])),
        ("follow-ups on the question's topic, not the claim's", r(s["followups_on_the_question"])),
        ("off-question answers redirected (target >= 90%)", r(s["off_question_redirected"])),
        *((f"  {p}", r(v)) for p, v in s["off_question_redirected_by_persona"].items()),
        ("off-question claims followed up (target 0)", r(s["off_question_claims_followed_up"])),
        ("on-topic candidates redirected (should be rare)", r(s["on_topic_redirected"])),
        ("strong answers that got a follow-up (should be rare)", r(s["followups_on_strong_answers"])),
        ("clarifications that answer the question (target 0)", r(s["clarifications_that_answer"])),
        ("  clarifications graded as an answer 1.0 above the bare question, restatements included",
         r(s["clarifications_graded_above_question"])),
        ("misconceptions challenged (first follow-up is a challenge)", r(s["misconceptions_challenged"])),
        ("unsure answers given a stepping stone", r(s["unsure_stepped_down"])),
        ("interviewer turn time p50 / p95 (s)", f"{s['turn_seconds_p50']} / {s['turn_seconds_p95']}"),
    ]
    out = ["# Conversation eval", "",
           f"Model: {meta['model']} · {s['conversations']} conversations on {s['questions']} bank questions · "
           f"candidates: {', '.join(PERSONAS)} · command: `{meta['command']}`", "",
           "| check | result |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows), "",
           "Follow-up rate by candidate: " + ", ".join(f"{p} {r(v)}" for p, v in
                                                      s["followup_rate_by_persona"].items()), "",
           "Where the lines came from (model / template / model+template): " + "; ".join(
               f"{k}: {dict(v)}" for k, v in s["origin_by_kind"].items()), "",
           "What the redirects said the answer was about (the nearest question's concepts, that question, the "
           "candidate's words, nothing): " + ", ".join(f"{k} {v}" for k, v in s["redirect_forms"].items()), "",
           "Mean final score by candidate: " + ", ".join(f"{p} {v}" for p, v in
                                                         s["mean_score_by_persona"].items()), "",
           "## Transcripts", ""]
    shown: list[Conversation] = []
    for persona in PERSONAS:  # two per candidate, from different questions
        pool = [c for c in convos if c.persona == persona and c.question_id not in {x.question_id for x in shown}]
        shown.extend(pool[:max(1, n_shown // len(PERSONAS))])
    out.extend(transcript_md(c) for c in shown)
    out.append(f"All {len(convos)} transcripts: `transcripts.jsonl` beside this report.")
    return "\n".join(out) + "\n"


def recount(src: Path, out: Path, command: str = "") -> dict:
    """A finished run's summary and report again, from its transcripts: each line keeps the leak check's verdict
    of the run, and is marked again for restating the question; a follow-up from a run before the topic check gets
    it (MiniLM; no language model needed), read against the message it replied to."""
    from interviewer.settings import get_settings
    from interviewer.bank.bank import load_bank

    convos = [Conversation.model_validate_json(line) for line in
              (src / "transcripts.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    bank = {q.id: q for q in load_bank(get_settings().knowledge_dir).questions}
    for c in convos:
        for i, ln in enumerate(c.lines):
            if ln.role == "interviewer" and ln.kind in LINE_KINDS:
                ln.restates = restates(ln, c.question, c.tier, heard_so_far(c.lines[:i]))
            if ln.kind == "followup" and ln.strays is None and (q := bank.get(c.question_id)) is not None:
                replied_to = next((x.text for x in reversed(c.lines[:i]) if x.role == "candidate"), "")
                ln.strays = conv.strays(ln.text, q.question, q.reference_answer, replied_to, conv._default_embed)
    meta = {k: v for k, v in json.loads((src / "summary.json").read_text()).items()
            if k in ("model", "backend", "seed", "command")}
    meta["command"] = f"{meta.get('command', '')}; recounted: {command}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "transcripts.jsonl").write_text("".join(c.model_dump_json() + "\n" for c in convos), encoding="utf-8")
    return write_results(out, convos, meta)


def write_results(out: Path, convos: list[Conversation], meta: dict) -> dict:
    """summary.json and report.md for a run's conversations; returns the summary with the run's metadata."""
    summary = summarise(convos)
    (out / "summary.json").write_text(json.dumps({**meta, **summary}, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_md(summary, convos, meta), encoding="utf-8")
    return {**meta, **summary}


LEAK_LABELS = evals_dir() / "datasets" / "leaks.yaml"


def leak_label_agreement(path: Path = LEAK_LABELS) -> dict:
    """How the live leak check agrees with the hand-labelled lines: leaks caught, safe lines rejected."""
    import yaml

    from interviewer.bank.bank import load_bank
    from interviewer.settings import get_settings

    bank = {q.id: q for q in load_bank(get_settings().knowledge_dir).questions}
    items = yaml.safe_load(path.read_text(encoding="utf-8"))["items"]
    check = conv.LeakCheck()
    hits = []
    for it in items:
        q = bank[it["question_id"]]
        hits.append((bool(it["leak"]), check.reason(it["line"], conv.secrets_of(q.reference_answer, q.key_points),
                                                    q.question)))
    leaks = [r for leak, r in hits if leak]
    safe = [r for leak, r in hits if not leak]
    return {"lines": len(hits), "leaks": len(leaks), "leaks_caught": sum(r is not None for r in leaks),
            "safe": len(safe), "safe_lines_rejected": sum(r is not None for r in safe),
            "caught_by": dict(Counter(r for r in leaks if r)),
            "thresholds": {"meaning_floor": check.floor, "meaning_gain": check.gain, "word_share": conv.WORD_SHARE,
                           "ngram": conv.NGRAM}}


def run(*, backend: str | None, n_questions: int, seed: int, out: Path, personas: tuple[str, ...] = PERSONAS,
        command: str = "", store=None) -> dict:
    """`store`: the store the redirects search (default: the settings' own, built first if it is cold)."""
    from interviewer.bank.bank import load_bank
    from interviewer.settings import get_settings
    from interviewer.store import SessionDB
    from interviewer.evals.runner import grader_and_llm
    from interviewer.evals.datasets import load_dl

    settings = get_settings()
    grader, llm, backend = grader_and_llm(backend)
    bank = {q.id: q for q in load_bank(settings.knowledge_dir).questions}
    if store is None:
        from interviewer.bank.store import open_store

        store = open_store(settings, say=lambda m: print(m, flush=True))
    check = conv.LeakCheck()
    chosen = choose(load_dl(), n_questions, seed)
    others = other_answers(chosen, bank)
    out.mkdir(parents=True, exist_ok=True)
    convos: list[Conversation] = []
    with tempfile.TemporaryDirectory() as tmp, (out / "transcripts.jsonl").open("w", encoding="utf-8") as f:
        db = SessionDB(Path(tmp) / "eval.sqlite3")
        for i, (qid, items) in enumerate(chosen, 1):
            said = scripts(items, others.get(qid))
            for persona in (p for p in personas if p in said):
                c = run_one(bank[qid], persona, said[persona], llm=llm, grader=grader, db=db, check=check, bank=bank,
                            store=store)
                convos.append(c)
                f.write(c.model_dump_json() + "\n")
                f.flush()
            print(f"[{i}/{len(chosen)}] {qid}", flush=True)
    meta = {"model": getattr(llm, "cache_id", backend), "backend": backend, "seed": seed, "command": command}
    return write_results(out, convos, meta)
