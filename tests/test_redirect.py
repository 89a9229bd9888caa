"""Answers off the question are redirected, not followed up; follow-ups stay on the question's topic (scripted model,
real embeddings, the real store where the redirect names another question)."""

from __future__ import annotations

import pytest

from interviewer.grading.grader import Grader
from interviewer.interview import conversation as conv
from interviewer.interview import redirect
from interviewer.interview.agent import Interviewer
from interviewer.session import SessionConfig, planned_fields
from interviewer.bank.bank import CONCEPTS
from interviewer.llm.fake import FakeLLM
from tests.test_agent import kinds, say, scripted, start

END_TO_END = "guide-03"  # What is end-to-end learning in DL?
LEARNING_RATES = "the main thing is to use a bigger learning rate and train longer until the training loss is zero"
SCRUM = "Scrum is an agile framework: two-week sprints, a daily stand-up, a review and a retrospective."
STRAY_PROBE = "If you were to train a model with a smaller learning rate, what would happen?"


@pytest.fixture
def agent_on(db, bank, session_settings):
    made = []

    def make(question_id: str, *, store=None, followup: str = "What would change if you stacked many layers?",
             n: int = 2) -> Interviewer:
        llm = FakeLLM(task_script=lambda m, task: scripted(m, task, followup=followup))
        config = SessionConfig(track="mixed", mode="interview", user="ann",
                               **{**planned_fields({question_id: "test"}), "n_questions": n})
        agent = Interviewer.start(config, db=db, llm=llm, grader=Grader(llm, None, session_settings),
                                  questions=bank.questions, store=store, session_id=f"redirect-{len(made)}")
        made.append(agent)
        start(agent)
        return agent

    yield make
    for a in made:
        a.close()


def test_an_answer_off_the_question_is_redirected_with_its_topic_and_not_graded(agent_on, store, bank, db):
    agent = agent_on(END_TO_END, store=store)
    out = say(agent, LEARNING_RATES)
    assert kinds(out) == ["redirect"]  # not a follow-up on learning rates
    text = out[0].text
    # What the answer was about and what the question asks, then asked again: the nearest other question's
    # concepts first, or (when the leak check finds that line too close to a key point) the candidate's own words.
    q = bank.get(END_TO_END)
    off = agent.topics.off_question(LEARNING_RATES, agent.grader.score(q, LEARNING_RATES), q)
    said = redirect.lines(off, q, LEARNING_RATES)
    assert said[0].startswith("That answer is about optimization and hyperparameter tuning, but I'm asking what is "
                              "end-to-end learning in DL.")
    assert text in said and text.endswith(conv.REDIRECT["again"])
    assert "Are you sure" not in text and "smaller learning rate" not in text
    rec = agent.session.questions[0]
    assert agent.phase == "awaiting_answer" and rec.followups == [] and not rec.closed  # the same question
    assert rec.answers == [] and rec.off_question == [LEARNING_RATES]  # kept, and set aside from the grade
    assert db.load(agent.session.id).questions[0].off_question == [LEARNING_RATES]
    # The next answer is graded alone: the redirect changed nothing in the grade.
    answer = f"PARTIAL. {bank.get(END_TO_END).reference_answer}"
    say(agent, answer)
    say(agent, "skip") if agent.phase == "awaiting_followup" else None
    assert agent.wait_for_grades(20)
    assert rec.answers[0] == answer and LEARNING_RATES not in rec.combined_answer() and rec.grade is not None


def test_a_second_answer_off_the_question_is_graded_and_without_a_store_the_redirect_quotes_the_candidate(agent_on):
    agent = agent_on(END_TO_END)
    first = say(agent, SCRUM)
    assert kinds(first) == ["redirect"]
    assert "You talked about “Scrum is an agile framework”" in first[0].text
    second = say(agent, SCRUM)
    assert "redirect" not in kinds(second)  # once per question: then it is graded as it is
    assert agent.session.questions[0].answers == [SCRUM] and agent.session.questions[0].closed


def test_an_unsure_hedge_and_a_wrong_claim_on_the_question_are_not_redirected(agent_on, bank):
    unsure = say(agent_on(END_TO_END), "I am not totally sure, but I think it has to do with making the model train "
                                       "better and generalize.")
    assert kinds(unsure) == ["followup"] and unsure[0].text.startswith("No problem")  # a stepping stone
    wrong = say(agent_on(END_TO_END), f"WRONG. {bank.get(END_TO_END).reference_answer}")
    assert kinds(wrong) == ["followup"] and "Are you sure about that?" in wrong[0].text


def test_a_model_probe_about_the_candidates_claim_falls_back_to_a_probe_on_the_question(agent_on, bank):
    agent = agent_on(END_TO_END, followup=STRAY_PROBE)
    out = say(agent, f"PARTIAL. {LEARNING_RATES}.")  # the judge credits a point, so it is not redirected
    assert kinds(out) == ["followup"] and STRAY_PROBE not in out[0].text
    assert out[0].origin == "model+template"
    # The same probe is kept where learning rates are the question's topic.
    agent = agent_on("opt-learning-rate-effects", followup=STRAY_PROBE)
    kept = say(agent, f"PARTIAL. {LEARNING_RATES}.")
    assert kinds(kept) == ["followup"] and kept[0].origin == "model" and kept[0].text.endswith(STRAY_PROBE)


def test_strays_compares_the_probe_with_the_question_and_with_the_claim(bank):
    q = bank.get(END_TO_END)
    embed = conv._default_embed
    assert conv.strays(f"You said “{LEARNING_RATES[:60]}”. Are you sure about that? {STRAY_PROBE}", q.question,
                       q.reference_answer, LEARNING_RATES, embed)
    assert not conv.strays("What would the network have to learn if no features were hand-engineered?", q.question,
                           q.reference_answer, LEARNING_RATES, embed)
    assert not conv.strays(STRAY_PROBE, q.question, q.reference_answer, LEARNING_RATES, None)  # no embeddings


def test_the_redirect_names_another_question_that_shares_the_concepts_and_falls_back_to_the_questions_words(bank):
    q = bank.get("guide-22")  # What is a dropout?
    other = next(x for x in bank.questions if x.id != q.id and set(x.concepts) <= set(q.concepts))
    off = redirect.OffQuestion(reason="another question", closeness=0.3, other_id=other.id,
                               other_question=other.question, other_concepts=list(other.concepts), other_score=0.7)
    said = redirect.lines(off, q, "Early stopping stops training when the validation loss rises.")
    assert said[0].startswith("That answer fits another question better") and other.question[:20] in said[0]
    assert said[1].startswith("You talked about “Early stopping stops training")
    assert conv.restates_question(said[-1], q.question)  # the last fallback: the question's own words only


def test_every_concept_has_a_name_to_say():
    assert set(redirect.TOPICS) == set(CONCEPTS)


def test_a_failing_embedder_is_remembered_and_only_the_flag_counts(bank):
    calls = []

    def broken(texts):
        calls.append(texts)
        raise RuntimeError("no model")

    topics = redirect.Topics(broken)
    q = bank.get(END_TO_END)
    assert topics.closeness(SCRUM, q) is None and topics.closeness(SCRUM, q) is None
    assert len(calls) == 1 and "no model" in topics.error


def test_the_leak_check_reads_what_a_redirect_adds_to_the_questions_own_ask(bank):
    class Recording(conv.LeakCheck):
        def __init__(self):
            super().__init__(None)
            self.read: list[str] = []

        def leaks(self, line, secrets, question, said=""):
            self.read.append(line)
            return "optimization" in line  # the topic line gives something away; the quote does not

    q = bank.get(END_TO_END)
    off = redirect.OffQuestion(reason="far", closeness=0.3, other_id="opt-learning-rate-effects",
                               other_question=bank.get("opt-learning-rate-effects").question,
                               other_concepts=["optimization", "hyperparameter-tuning"], other_score=0.64)
    options = redirect.lines(off, q, LEARNING_RATES)
    check = Recording()
    assert redirect.choose(options, check, q, LEARNING_RATES) == options[1]  # the quote, the topic line rejected
    assert len(check.read) == 2 and all(conv.asked(q.question) not in line for line in check.read)
    assert all(line == redirect.beyond_the_question(o, q) for line, o in zip(check.read, options))


def test_the_app_shows_and_reads_aloud_the_redirect(app_env):
    import json

    from apptest import messages, new_app, say, start
    from interviewer.voice import tts

    at = new_app()
    at.radio(key="speak").set_value("browser")
    sid = start(at, n=1)
    say(at, SCRUM)
    said = messages(at)[-1][1]
    assert said.endswith(conv.REDIRECT["again"]) and app_env.load(sid).questions[0].off_question == [SCRUM]
    frames = [e for e in at.get("iframe") if "speechSynthesis" in (e.proto.srcdoc or "")]
    assert json.dumps(tts.speakable(said))[1:-1].replace("<", "\\u003c") in frames[-1].proto.srcdoc
