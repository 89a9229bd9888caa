"""The end-of-interview report: scores overall, per tier and per concept, each question, a short study plan.

Built from a Session alone (plus the bank, for model answers and practice questions); exported as Markdown or JSON.
Skipped questions count as 0; questions whose grading failed or is still running are listed but not averaged.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel, Field

from interviewer.bank.bank import Question
from interviewer.text import escape_markdown, without_images, word_cut
from interviewer.session import Review
from interviewer.session import LEVELS, Session, SessionConfig
from interviewer.voice.delivery import DeliverySummary
from interviewer.voice.delivery import summary as delivery_summary

WEAK_BELOW = 3.5  # concepts under this average go into the study plan
PLAN_SIZE = 3
PRACTICE_CHARS = 90  # a practice question is named by its text, cut to this length


class QuestionResult(BaseModel):
    index: int
    question_id: str
    tier: str
    concepts: list[str]
    question: str
    answer: str = ""
    delivery: list[str] = Field(default_factory=list, description="one note per spoken answer")
    followups: list[str] = Field(default_factory=list)
    hints: int = 0
    skipped: bool = False
    score: float | None = Field(default=None, description="the instructor's grade where there is one, else the "
                                "grader's")
    grader_score: float | None = Field(default=None, description="the grader's score")
    review: Review | None = Field(default=None, description="an instructor's grade of this answer")
    hint_cap: float | None = None
    covered: list[str] = Field(default_factory=list)
    partly: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    contradicted: list[str] = Field(default_factory=list, description="key points the answer got wrong")
    strengths: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    feedback: str = ""
    model_answer: str = ""
    notes: list[str] = Field(default_factory=list)
    status: str = Field(description="graded, skipped, pending or failed")

    def graded_by(self) -> list[str]:
        """Beside a reviewed answer's score, in plain text: the instructor's grade as theirs, then the grader's."""
        if self.review is None:
            return []
        return [self.review.line()] + ([f"Grader's score: {self.grader_score:.1f}/5"]
                                       if self.grader_score is not None else [])

    def point_sections(self) -> list[tuple[str, list[str]]]:
        """(title, key points) for each verdict that has any, wrong ones first (the one list both renderers use)."""
        found = [("You got wrong", self.contradicted), ("Covered", self.covered), ("Partly covered", self.partly),
                 ("Missing", self.missing)]
        return [(title, points) for title, points in found if points]


class Bucket(BaseModel):
    name: str
    score: float
    n: int


class StudyItem(BaseModel):
    concept: str
    score: float
    advice: str
    practice: list[str] = Field(description="bank question ids to practise next")
    practice_questions: list[str] = Field(default_factory=list, description="those questions' text, shortened: what "
                                          "the candidate reads")


class Report(BaseModel):
    session_id: str
    user: str
    created_at: datetime
    config: SessionConfig
    backend: str = ""
    finished: bool
    overall: float | None = Field(description="mean score 0-5 over graded and skipped questions")
    answered: int
    skipped: int
    pending: int
    by_tier: list[Bucket]
    by_concept: list[Bucket]
    study_plan: list[StudyItem]
    questions: list[QuestionResult]
    delivery: DeliverySummary | None = Field(default=None, description="spoken answers only; not part of the grade")

    @property
    def percent(self) -> int | None:
        return None if self.overall is None else round(self.overall * 20)


def _result(rec, bank: dict[str, Question]) -> QuestionResult:
    q = bank.get(rec.question_id)
    g = rec.grade
    status = ("skipped" if rec.skipped else "graded" if g else "failed" if rec.grade_error else "pending")
    res = QuestionResult(index=rec.index, question_id=rec.question_id, tier=rec.tier, concepts=rec.concepts,
                         question=rec.question, answer=rec.combined_answer(), followups=rec.followups,
                         hints=len(rec.hints), skipped=rec.skipped, status=status,
                         delivery=[d.note() for d in rec.delivery],
                         model_answer=(q.reference_answer if q else ""))
    if g is not None:
        res.score = res.grader_score = round(g.score, 2)
        res.hint_cap = g.hint_cap
        res.covered, res.partly = g.points("covered"), g.points("partly")
        res.missing, res.contradicted = g.points("missing"), g.points("contradicted")
        res.strengths, res.improvements, res.feedback = g.strengths, g.improvements, g.feedback
        res.model_answer = g.model_answer or res.model_answer
        res.notes = [n for n in g.notes if not n.startswith("Model error")]
    elif rec.grade_error:
        res.notes = [f"Grading failed: {rec.grade_error}"]
    if rec.review is not None and not rec.skipped:
        res.review, res.score = rec.review, rec.review.score
    return res


def _buckets(pairs: list[tuple[str, float]], order: list[str] | None = None) -> list[Bucket]:
    acc: dict[str, list[float]] = defaultdict(list)
    for name, score in pairs:
        acc[name].append(score)
    out = [Bucket(name=k, score=round(sum(v) / len(v), 2), n=len(v)) for k, v in acc.items()]
    if order:
        return sorted(out, key=lambda b: order.index(b.name) if b.name in order else len(order))
    return sorted(out, key=lambda b: (b.score, b.name))


def _practice(concept: str, session: Session, bank: dict[str, Question], recent: list[str], level: int) -> list[str]:
    asked, seen = session.asked_ids(), set(recent)
    pool = [q for q in bank.values() if concept in q.concepts and q.id not in asked]
    pool.sort(key=lambda q: (q.id in seen, abs(LEVELS[q.tier] - level), q.id))
    return [q.id for q in pool[:3]]


def _short(text: str, n: int = 140) -> str:
    return text if len(text) <= n else word_cut(text, n) + "..."


def _study_plan(session: Session, results: list[QuestionResult], by_concept: list[Bucket],
                bank: dict[str, Question], recent: list[str]) -> list[StudyItem]:
    weak = [b for b in by_concept if b.score < WEAK_BELOW]
    if not weak and by_concept:
        weak = by_concept[:1]  # all strong: still point at the next thing to sharpen
    plan: list[StudyItem] = []
    sources: list[tuple[int, ...]] = []
    for b in weak:
        mine = [r for r in results if b.name in r.concepts and r.score is not None]
        key = tuple(r.index for r in mine)
        if key in sources:  # the same questions behind two concepts: one item naming both
            item = plan[sources.index(key)]
            item.concept += f" / {b.name}"
            continue
        if len(plan) == PLAN_SIZE:
            break
        level = min((LEVELS[r.tier] for r in mine), default=1)
        if b.score < 2.0:
            level = max(0, level - 1)  # rebuild the basics first
        gaps = [_short(p) for r in mine for p in r.contradicted + r.missing + r.partly][:2]
        advice = f"Averaged {b.score:.1f}/5 over {b.n} question(s)."
        if gaps:
            advice += " Revisit: " + " / ".join(gaps)
        sources.append(key)
        practice = _practice(b.name, session, bank, recent, level)
        plan.append(StudyItem(concept=b.name, score=b.score, advice=advice, practice=practice,
                              practice_questions=[_short(bank[i].question, PRACTICE_CHARS) for i in practice]))
    return plan


def practice_plan(report: Report) -> dict[str, str]:
    """The study plan's questions, each with why it is there: a practice session's `planned_fields`."""
    return {qid: f"your report's study plan ({item.concept})" for item in report.study_plan
            for qid in item.practice}


def practise_next(item: StudyItem) -> str:
    """The item's practice questions as the candidate reads them (their text, not their ids)."""
    return "; ".join(f"“{q}”" for q in item.practice_questions) or "no more questions on this in the bank"


def build_report(session: Session, questions: list[Question] | dict[str, Question],
                 recent: list[str] | None = None) -> Report:
    bank = questions if isinstance(questions, dict) else {q.id: q for q in questions}
    asked = [r for r in session.questions if r.closed or r.answers]
    results = [_result(r, bank) for r in asked]
    scored = [r for r in results if r.score is not None]
    overall = round(sum(r.score for r in scored) / len(scored), 2) if scored else None
    by_tier = _buckets([(r.tier, r.score) for r in scored], order=list(LEVELS))
    by_concept = _buckets([(c, r.score) for r in scored for c in r.concepts])
    return Report(session_id=session.id, user=session.user, created_at=session.created_at, config=session.config,
                  backend=session.backend, finished=session.finished, overall=overall,
                  answered=sum(1 for r in results if r.status == "graded"),
                  skipped=sum(1 for r in results if r.skipped),
                  pending=sum(1 for r in results if r.status == "pending"),
                  by_tier=by_tier, by_concept=by_concept,
                  study_plan=_study_plan(session, results, by_concept, bank, recent or []), questions=results,
                  delivery=delivery_summary([d for r in session.questions for d in r.delivery]))


# --- exports ---------------------------------------------------------------------------------------------------------

def to_json(report: Report) -> str:
    data = report.model_dump(mode="json")
    data["percent"] = report.percent
    return json.dumps(data, indent=2, ensure_ascii=False)


def _bar(score: float) -> str:
    return "█" * round(score * 2) + "░" * (10 - round(score * 2))


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines()) or "> (no answer)"


def to_markdown(report: Report) -> str:
    cfg = report.config
    lines = ["# Mock interview report",
             f"*{report.created_at:%Y-%m-%d %H:%M} UTC · {cfg.track} track · {cfg.mode} mode"
             + (f" · {report.backend} backend" if report.backend else "") + f" · session `{report.session_id}`*", ""]
    if report.overall is None:
        lines.append("**No graded answers yet.**")
    else:
        lines.append(f"**Overall: {report.overall:.1f} / 5 ({report.percent}%)**, "
                     f"{report.answered} answered, {report.skipped} skipped"
                     + (f", {report.pending} still being graded" if report.pending else ""))
    lines += ["", "## By tier", "", "| tier | score | questions |", "|---|---|---|"]
    lines += [f"| {b.name} | {b.score:.1f} | {b.n} |" for b in report.by_tier]
    lines += ["", "## By concept", "", "| concept | score | | questions |", "|---|---|---|---|"]
    lines += [f"| {b.name} | {b.score:.1f} | `{_bar(b.score)}` | {b.n} |" for b in report.by_concept]
    lines += ["", "## Study plan", ""]
    for i, item in enumerate(report.study_plan, 1):
        lines.append(f"{i}. **{item.concept}**: {item.advice} Practise next: {practise_next(item)}")
    if report.delivery:
        lines += ["", "## Delivery (spoken answers; not part of the grade)", ""]
        lines += [f"- {line}" for line in report.delivery.lines()]
    lines += ["", "## Questions"]
    for r in report.questions:
        score = "skipped" if r.skipped else f"{r.score:.1f} / 5" if r.score is not None else r.status
        lines += ["", f"### {r.index + 1}. {r.question} ({r.tier}): {score}", "",
                  f"*Concepts: {', '.join(r.concepts)} · id `{r.question_id}`"
                  + (f" · {r.hints} hint(s), score capped at {r.hint_cap:g}" if r.hints and r.hint_cap else "")
                  + "*", ""]
        if r.review is not None:
            first, *rest = r.graded_by()
            lines += [f"**{escape_markdown(first)}**" + "".join(f"  \n*{escape_markdown(x)}*" for x in rest), ""]
        if not r.skipped:
            lines += ["**Your answer:**", "", _quote(escape_markdown(r.answer)), ""]
        if r.delivery:
            lines += ["*Delivery: " + " / ".join(r.delivery) + "*", ""]
        if r.followups:
            lines += ["**Follow-ups asked:** " + " / ".join(map(without_images, r.followups)), ""]
        for title, points in r.point_sections():
            lines += [f"**{title}:**"] + [f"- {p}" for p in points] + [""]
        if r.improvements:
            lines += ["**To improve:**"] + [f"- {without_images(p)}" for p in r.improvements] + [""]
        if r.notes:
            lines += ["*" + " ".join(r.notes) + "*", ""]
        lines += ["**Model answer:**", "", without_images(r.model_answer.strip()), ""]
    return "\n".join(lines).rstrip() + "\n"


def concept_chart(report: Report):
    """Per-concept scores as an altair bar chart (weakest first), for the app."""
    import altair as alt
    import pandas as pd

    df = pd.DataFrame([b.model_dump() for b in report.by_concept] or [{"name": "-", "score": 0.0, "n": 0}])
    base = alt.Chart(df).encode(y=alt.Y("name:N", sort=alt.EncodingSortField("score", order="ascending"), title=None,
                                        axis=alt.Axis(labelLimit=220)))
    bars = base.mark_bar().encode(
        x=alt.X("score:Q", scale=alt.Scale(domain=[0, 5]), title="score (0-5)"),
        color=alt.Color("score:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 5]), legend=None),
        tooltip=["name", "score", "n"])
    labels = base.mark_text(align="left", dx=4).encode(x="score:Q", text=alt.Text("score:Q", format=".1f"))
    return (bars + labels).properties(height=alt.Step(26))
