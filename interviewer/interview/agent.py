"""The interviewer: a state machine over a Session, independent of any UI.

`opening()` greets and asks the first question; `handle(message)` takes one candidate message and returns what the
interviewer says next, as `Utterance`s the caller prints or streams in order. Every candidate message is saved before
anything else happens. Grading runs on a thread pool: a quick `Grader.score` steers follow-ups and difficulty (waited
for at most `decide_timeout_s`), the prose feedback runs in the background (interview mode) or is streamed right away
(practice mode) as a background utterance that the caller shows beside the next question, never before it. Model
failures never reach the caller: every model-phrased line has a templated fallback, and every line that could give
the answer away passes the leak check of `interviewer.interview.conversation` first.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from interviewer.grading.grade import Grade
from interviewer.grading.scorer import Scorer
from interviewer.grading.screen import screen
from interviewer.interview import conversation as conv
from interviewer.store import SessionDB
from interviewer.grades.jobs import GradingJobs, skipped_grade
from interviewer.grades.queue import GradingQueue
from interviewer.interview.intents import quick_intent
from interviewer.interview.phrasing import LINES, REQUESTS, Phraser
from interviewer.interview.picking import initial_level, pick_question
from interviewer.interview.redirect import MAX_REDIRECTS, OffQuestion, Topics
from interviewer.interview.redirect import choose as choose_redirect
from interviewer.interview.redirect import lines as redirect_lines
from interviewer.session import MAX_LEVEL, QuestionRecord, Session, SessionConfig, Turn
from interviewer.interview.transcript import TranscriptWriter, Utterance
from interviewer.text import word_cut
from interviewer.bank.bank import Question
from interviewer.llm.base import LLM
from interviewer.voice.delivery import Delivery

FOLLOWUP_BELOW = 3.5  # a quick score under this, with a key point missing, earns a follow-up
STRONG_ANSWER = 4.0   # at or above this, no follow-up unless a key point was contradicted
MAX_FOLLOWUPS = 2
IMPORTANT_POINTS = 3  # the first key points of a question are its essentials
MAX_HINTS = len(conv.HINT_LEVELS)
LEVEL_UP_AT = 4.0     # mixed track: a strong answer moves up a difficulty level...
LEVEL_DOWN_BELOW = 2.5  # ...and a weak one down
NO_FOLLOWUP_FLAGS = {"empty", "gibberish", "injection", "off-topic"}
# What one message may hold (a long spoken answer is ~2,000 characters; the grader reads the first 4,000): a paste
# beyond it is kept to its start, said so, and never stored whole in a shared database.
MAX_MESSAGE_CHARS = 12_000

MOVES: dict[str, str] = LINES["moves"]  # how each follow-up move is described to the model
HINT_STRENGTHS: dict[str, str | None] = LINES["hint_strengths"]  # per level; None: templated only
SKIP: dict[str, str] = LINES["skip"]  # the acknowledgement of a skip: before any answer, or after one
CLOSING: dict[str, str] = LINES["closing"]  # the last line, per mode; `after`: to a message once it is over
REPEAT: dict[str, str] = LINES["repeat"]  # the question as first asked; then the open follow-up, if any


# --- the interviewer -----------------------------------------------------------------------------------------------

def _one_turn_at_a_time(method):
    @functools.wraps(method)
    def serialised(self, *args, **kwargs):
        with self._turn_lock:
            return method(self, *args, **kwargs)
    return serialised


class Interviewer:
    def __init__(self, session: Session, *, llm: LLM | None, grader: Scorer, questions: list[Question], db: SessionDB,
                 executor: ThreadPoolExecutor | None = None, decide_timeout_s: float = 30.0,
                 leak_check: conv.LeakCheck | None = None, grading_queue: GradingQueue | None = None,
                 store=None, grading: GradingJobs | None = None) -> None:
        """`grading`: the session's grading jobs already under way (a sweep's), taken over with the grader given."""
        self.session = session
        self.db = db
        self.bank = {q.id: q for q in questions}
        self.term_counts = conv.term_counts([p for q in questions for p in q.key_points])
        self.decide_timeout_s = decide_timeout_s
        self.phraser = Phraser(llm, leak_check or conv.LeakCheck())
        # What an answer off the question is about: the store's search (the grader's, unless one is given).
        self.topics = Topics(self.leak_check.embed, store if store is not None else getattr(grader, "store", None),
                             self.bank)
        self.grading = grading or GradingJobs(session, db, grader, self.bank, executor, grading_queue)
        self.grading.grader = grader
        self.transcript = TranscriptWriter(session, db)
        self._lock = threading.RLock()
        # One candidate turn at a time, even when the session is open in two tabs (the UI shares one agent per
        # session). Pool threads never take it, so waiting on a score future under it cannot deadlock.
        self._turn_lock = threading.RLock()
        self.recent = db.recent_question_ids(session.user)
        self.rng = random.Random(session.id)

    # The model and the grader can be swapped between turns (the app's backend menu).
    @property
    def llm(self) -> LLM | None:
        return self.phraser.llm

    @llm.setter
    def llm(self, llm: LLM | None) -> None:
        self.phraser.llm = llm

    @property
    def grader(self):
        return self.grading.grader

    @grader.setter
    def grader(self, grader) -> None:
        self.grading.grader = grader

    @property
    def leak_check(self) -> conv.LeakCheck:
        return self.phraser.leak_check

    # -- construction ----------------------------------------------------------------------------------------------
    @classmethod
    def start(cls, config: SessionConfig, *, db: SessionDB, backend: str = "", session_id: str | None = None,
              **kwargs) -> Interviewer:
        """A new session; its id (random unless given) also seeds which questions it draws."""
        ids = {"id": session_id} if session_id else {}
        session = Session(config=config, level=initial_level(config), backend=backend, **ids)
        db.create(session)
        return cls(session, db=db, **kwargs)

    @classmethod
    def resume(cls, session_id: str, *, db: SessionDB, **kwargs) -> Interviewer | None:
        """Reload a session (the app's ?sid=, the CLI's --resume); grading that was lost with a previous process is
        queued again."""
        session = db.load(session_id)
        if session is None:
            return None
        agent = cls(session, db=db, **kwargs)
        agent.requeue_lost_grades()
        return agent

    def requeue_lost_grades(self) -> list[int]:
        """Queue the grades lost with a previous process (`GradingJobs.requeue_lost_grades`); the indexes queued."""
        return self.grading.requeue_lost_grades()

    @property
    def phase(self) -> str:
        return self.session.phase

    @property
    def current(self) -> QuestionRecord | None:
        return self.session.current

    def question(self, rec: QuestionRecord) -> Question:
        return self.bank[rec.question_id]

    def _say(self, kind: str, text: str = "", **kwargs) -> Utterance:
        return self.transcript.say(kind, text, **kwargs)

    # -- the flow -----------------------------------------------------------------------------------------------------
    @_one_turn_at_a_time
    def opening(self, greet: bool = True) -> list[Utterance]:
        """Greeting and first question; nothing when the session has already begun (e.g. a UI re-run)."""
        if self.session.phase != "new":
            return []
        out = [self._say("greeting", chunks=self.phraser.greeting(self.session.config))] if greet else []
        return out + self._ask_next()

    def _ask_next(self) -> list[Utterance]:
        cfg = self.session.config
        q = None
        if len(self.session.questions) < cfg.n_questions:
            q = pick_question(list(self.bank.values()), self.session, self.recent, self.rng)
        if q is None:
            return self._close_session()
        rec = QuestionRecord(index=len(self.session.questions), question_id=q.id, tier=q.tier,
                             concepts=list(q.concepts), question=q.question)
        with self._lock:
            self.session.questions.append(rec)
            self.session.phase = "awaiting_answer"
        self.db.save_question(self.session.id, rec)
        self.db.mark_seen(self.session.user, [q.id])
        self.db.save_state(self.session)
        self.grading.background(self.grader.prepare, q)
        return [self._say("question", self.question_text(rec))]

    def question_text(self, rec: QuestionRecord) -> str:
        text = f"**Question {rec.index + 1} of {self.session.config.n_questions}** ({rec.tier}): {rec.question}"
        if reason := self.session.config.plan_reasons.get(rec.question_id):
            text += f"\n\n_Why this question: {reason}_"
        return text

    @_one_turn_at_a_time
    def handle(self, message: str, *, delivery: Delivery | None = None) -> list[Utterance]:
        """One candidate message in, the interviewer's reply out. The message is saved before anything else.
        `delivery`: how a spoken message was said (kept with the answer; it never changes the grade)."""
        if self.session.phase == "new":
            return self.opening()
        if len(message) > MAX_MESSAGE_CHARS:
            cut = word_cut(message, MAX_MESSAGE_CHARS) or message[:MAX_MESSAGE_CHARS]
            note = self._say("note", f"Your message was {len(message):,} characters long; I kept its first "
                                     f"{len(cut):,}.")
            return [note, *self.handle(cut, delivery=delivery)]
        rec = self.current
        turn = Turn(seq=self.transcript.next_seq(), role="candidate", kind="message", text=message,
                    question_index=rec.index if rec else None)
        self.transcript.record(turn)
        if self.session.phase == "finished" or rec is None:
            return [self._say("note", CLOSING["after"])]
        intent = quick_intent(message) or self.phraser.classify(rec.question, message)
        turn.kind = "answer" if intent == "answer" else intent
        self.transcript.record(turn)
        if intent == "answer":
            return self._on_answer(rec, message, delivery)
        return getattr(self, f"_on_{intent}")(rec, message)

    def _on_repeat(self, rec: QuestionRecord, message: str = "") -> list[Utterance]:
        """The question as first asked, then the follow-up still waiting for an answer, if there is one."""
        text = REPEAT["question"].format(question=self.question_text(rec))
        if self.session.phase == "awaiting_followup" and rec.followups:
            text += "\n\n" + REPEAT["followup"].format(followup=rec.followups[-1])
        return [self._say("repeat", text)]

    def _secrets(self, q: Question) -> list[str]:
        return conv.secrets_of(q.reference_answer, q.key_points)

    def _on_clarify(self, rec: QuestionRecord, message: str) -> list[Utterance]:
        """The question restated from its own words; the model adds a sentence on a specific clarifying question
        (which case, which setting), kept only when it gives nothing away."""
        q = self.question(rec)
        restated = conv.rephrase(q.question, q.tier)
        if conv.generic_clarification(message, q.question) or conv.asks_depth(message):
            return [self._say("clarify", restated, origin="template")]
        scope, origin = self.phraser.line("interview_clarify", {"question": q.question, "message": message},
                                     task="clarify", secrets=self._secrets(q), question=q.question, fallbacks=[""],
                                     usable=lambda t: len(t.split()) <= REQUESTS["clarify"]["max_words"],
                                     frame=lambda t: f"{t} {restated}".strip())
        origin = "model+template" if origin == "model" else origin
        return [self._say("clarify", f"{scope} {restated}".strip(), origin=origin)]

    def _on_hint(self, rec: QuestionRecord, message: str = "") -> list[Utterance]:
        level = len(rec.hints)
        if level >= MAX_HINTS:
            return [self._say("hint", "That's all the hints I can give for this one. Give it your best shot, "
                                      "or type \"skip\" to move on.")]
        q = self.question(rec)
        if self.session.phase == "awaiting_followup" and rec.probed:
            point = rec.probed[-1]  # nudge towards what the follow-up is after
        else:
            point = (rec.probed[-1] if level and rec.probed else None) or self._next_target(rec, q) or q.key_points[0]
            if point not in rec.probed:
                rec.probed.append(point)
        previous = f"PREVIOUS HINT (say more than this): {rec.hints[-1]}\n" if rec.hints else ""
        strength = HINT_STRENGTHS[conv.HINT_LEVELS[level]]
        note = (f" (Hint {level + 1} of {MAX_HINTS}: the score for this question is now capped at "
                f"{self.grader.hint_cap(level + 1):g}.)")
        text, origin = self.phraser.line("interview_hint", {"question": q.question, "point": point,
                                               "strength": strength, "previous": previous},
                            task="hint", secrets=self._secrets(q), question=q.question,
                            fallbacks=conv.fallback_hints(level, point, q.question, q.concepts, self.term_counts),
                            said=rec.combined_answer(), ask_model=strength is not None,
                            usable=lambda t: all(t.lower() != h.lower() for h in rec.hints) and conv.usable_hint(t),
                            frame=lambda t: f"Hint: {t}{note}")
        rec.hints.append(text)
        self.db.save_question(self.session.id, rec)
        return [self._say("hint", f"Hint: {text}{note}", origin=origin)]

    def _on_skip(self, rec: QuestionRecord, message: str = "") -> list[Utterance]:
        if not rec.answers:
            rec.skipped = True
        said = SKIP["unanswered"] if rec.skipped else SKIP["answered"]
        return [self._say("ack", said)] + self._close_question(rec)

    def _on_end(self, rec: QuestionRecord, message: str = "") -> list[Utterance]:
        if not rec.answers:
            rec.skipped = True
        out = self._close_question(rec, ask_next=False)
        return out + self._close_session()

    def _on_answer(self, rec: QuestionRecord, message: str, delivery: Delivery | None = None) -> list[Utterance]:
        q = self.question(rec)
        languages = self.llm.capabilities.languages if self.llm is not None else None
        screened = screen(message, languages=frozenset(languages) if languages else None,
                          context=" ".join([q.question, q.reference_answer, *q.key_points]))
        if "unsupported-language" in screened.flags:
            return [self._say("nudge", screened.notes[-1])]
        if screened.is_void:  # "asdf", "...": ask again rather than grade it (no model needed)
            return [self._say("nudge", "I didn't quite catch an answer there. Could you put it in a sentence or "
                                       "two? You can also type \"hint\" or \"skip\".")]
        rec.answers.append(message)
        if delivery is not None:
            rec.delivery.append(delivery)
        self.db.save_question(self.session.id, rec)
        probing_over = len(rec.followups) >= MAX_FOLLOWUPS or (rec.followups and not conv.substantive(message,
                                                                                                  q.question))
        if probing_over:  # nothing left to decide ("I don't know", "yes, I'm sure"): move on without waiting
            self.grading.score_future(rec)
            return self._close_question(rec)
        grade = self.grading.quick_score(rec, self.decide_timeout_s)
        if grade is None:
            return self._close_question(rec)
        if self.session.phase == "awaiting_answer" and len(rec.off_question) < MAX_REDIRECTS:
            if (off := self.topics.off_question(message, grade, q)) is not None:
                return self._redirect(rec, q, message, off)
        rec.decision_score = grade.score
        plan = self._followup_plan(rec, grade, message)
        if plan is None:
            return self._close_question(rec)
        text, origin = self._followup_text(rec, q, plan, message)
        rec.followups.append(text)
        rec.probed.append(plan.target)
        self.session.phase = "awaiting_followup"
        self.db.save_question(self.session.id, rec)
        self.db.save_state(self.session)
        return [self._say("followup", text, origin=origin)]

    def _redirect(self, rec: QuestionRecord, q: Question, message: str, off: OffQuestion) -> list[Utterance]:
        """An answer off the question: set aside (kept, not graded), and the question asked again with what the
        answer was about; the question stays open and no grade changes."""
        rec.answers.pop()
        rec.off_question.append(message)
        self.db.save_question(self.session.id, rec)
        text = choose_redirect(redirect_lines(off, q, message), self.leak_check, q, message)
        return [self._say("redirect", text, origin="template")]

    def _followup_plan(self, rec: QuestionRecord, grade: Grade, message: str) -> conv.FollowupPlan | None:
        if NO_FOLLOWUP_FLAGS & set(grade.flags):
            return None
        plan = conv.plan_followup(message, grade, rec.probed, IMPORTANT_POINTS)
        if plan is None or plan.move == "challenge":
            return plan  # a contradiction is challenged whatever the score
        # Key points are ordered most-important first: one of the first few missing earns a probe below a strong score.
        important_missing = any(k.status == "missing" for k in grade.key_points[:IMPORTANT_POINTS])
        if grade.score >= STRONG_ANSWER or (grade.score >= FOLLOWUP_BELOW and not important_missing):
            return None
        return plan

    def _followup_text(self, rec: QuestionRecord, q: Question, plan: conv.FollowupPlan,
                       message: str) -> tuple[str, str]:
        """A quote of the candidate's latest answer, then one question towards the target point that states nothing
        of it (the model's, or a fallback)."""
        quote = conv.pick_quote(message, plan.target, preferred=plan.quote, embed=self.leak_check.embed)
        plan = plan.model_copy(update={"quote": quote})
        n = len(rec.followups)
        probes = conv.FALLBACK_PROBES[plan.move]
        pointer = [conv.pointer_probe(plan.target, q.question, self.term_counts)] if plan.move == "probe" else []
        opener = conv.opener(plan, n)
        probe, origin = self.phraser.line("interview_followup", {"question": q.question, "missing": plan.target,
                                                    "answer": message[-1500:], "quote": quote or "(nothing quotable)",
                                                    "move": MOVES[plan.move]},
                             task="followup", secrets=self._secrets(q), question=q.question,
                             fallbacks=[*pointer, probes[n % len(probes)]], said=message,
                             usable=lambda t: conv.usable_probe(t) and not conv.strays(
                                 t, q.question, q.reference_answer, message, self.leak_check.embed),
                             frame=lambda t: f"{opener} {t}")
        return f"{opener} {probe}", origin

    # -- grading -------------------------------------------------------------------------------------------------------
    def _next_target(self, rec: QuestionRecord, q: Question, grade: Grade | None = None) -> str | None:
        missing = [k.point for k in grade.key_points if k.status == "missing"] if grade else list(q.key_points)
        return next((p for p in missing if p not in rec.probed), None)

    def _close_question(self, rec: QuestionRecord, ask_next: bool = True) -> list[Utterance]:
        rec.closed = True
        if self.session.config.track == "mixed":
            self._adapt(0.0 if rec.skipped else rec.decision_score)
        self.db.save_question(self.session.id, rec)
        self.db.save_state(self.session)
        out: list[Utterance] = []
        if rec.skipped:
            self.grading.set_grade(rec, skipped_grade(self.question(rec)))
        elif self.session.config.mode == "practice":
            # Claimed and stored as soon as the score is made, not when the page has drawn the feedback (a candidate
            # who answers on, switches page or closes the tab meanwhile loses nothing); the feedback streams from the
            # same score, shown whatever the claim says: the candidate is waiting for it.
            self.grading.score_future(rec)
            self.grading.grade_in_background(rec)
            out.append(self._say("feedback", chunks=self._feedback_chunks(rec), index=rec.index, background=True))
        else:
            self.grading.grade_in_background(rec)
        return out + (self._ask_next() if ask_next else [])

    def _adapt(self, score: float | None) -> None:
        if score is None:
            return  # the quick score did not arrive in time: stay at this level
        if score >= LEVEL_UP_AT:
            self.session.level = min(MAX_LEVEL, self.session.level + 1)
        elif score < LEVEL_DOWN_BELOW:
            self.session.level = max(0, self.session.level - 1)

    def _feedback_chunks(self, rec: QuestionRecord) -> Iterator[str]:
        q = self.question(rec)
        try:
            grade = self.grading.score_future(rec).result()
        except Exception:  # the grading job stored the error
            yield "I couldn't grade that answer just now; it will show as ungraded in your report."
            return
        cap = f" (capped at {grade.hint_cap:g} after {len(rec.hints)} hint(s))" if grade.hint_cap is not None else ""
        yield f"**Feedback on question {rec.index + 1}. Score: {grade.score:.1f}/5**{cap}\n\n"
        yield from self.grader.stream_feedback(q, rec.combined_answer(), grade)

    def _close_session(self) -> list[Utterance]:
        self.session.phase = "finished"
        self.db.save_state(self.session)
        n = sum(1 for r in self.session.questions if r.closed)
        text = CLOSING["practice" if self.session.config.mode == "practice" else "interview"].format(n=n)
        return [self._say("closing", text)]

    @_one_turn_at_a_time
    def finish(self) -> list[Utterance]:
        """End the interview now (a button in the UI); the open question counts as skipped if unanswered."""
        rec = self.current
        if self.session.phase == "finished":
            return []
        if rec is not None:
            return self._on_end(rec)
        return self._close_session()

    # -- waiting for results ---------------------------------------------------------------------------------------
    def pending(self) -> int:
        return self.grading.pending()

    def queue_position(self) -> int | None:
        """How many answers this session's next grade waits behind; None when none of its grades is in the line."""
        return self.grading.queue_position()

    def wait_for_grades(self, timeout: float | None = None) -> bool:
        """Block until background grading is done (the report needs it); True when nothing is left."""
        return self.grading.wait_for_grades(timeout)

    def ensure_grades(self) -> None:
        """Grade, in this thread, any closed question whose grade is missing (e.g. lost with a restart)."""
        self.grading.ensure()

    def close(self) -> None:
        self.grading.close()
