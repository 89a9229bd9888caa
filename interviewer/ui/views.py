"""Pieces of the app that only display things: the chat, the report, the progress chart."""

from __future__ import annotations

import time
from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

from interviewer.store.sessions import SessionSummary
from interviewer.grades.queue import queue_line
from interviewer.session import Turn
from interviewer.interview.transcript import Utterance
from interviewer.report import Report, concept_chart, practice_plan, practise_next, to_json, to_markdown
from interviewer.text import escape_markdown, without_images


# Material icons ship with Streamlit's own font, so they render even where no emoji font is installed.
AVATARS = {"interviewer": ":material/record_voice_over:", "candidate": ":material/person:"}
ROLES = {"interviewer": "assistant", "candidate": "user"}
QUEUE_REFRESH_S = 2.0  # how often the "answers ahead of yours" line is redrawn while a grade waits
GRADING_PLACEHOLDER = "_Grading your answer; the feedback will appear here..._"
PRACTISE_KEY = "practise_these"  # question id -> why, set by a report's "Practise these" for the interview page

QueuePosition = Callable[[], "int | None"]  # how many answers this session's grade waits behind; None: not in line


def show(utterances: list[Utterance], queue_position: QueuePosition | None = None) -> None:
    """In order; a background utterance (feedback) keeps its place with a placeholder and is filled in after the rest
    is on screen, so the next question never waits for the previous answer's feedback. While its grade waits behind
    other candidates' (`queue_position`), the placeholder says how many."""
    deferred = []
    for u in utterances:
        with st.chat_message(ROLES["interviewer"], avatar=AVATARS["interviewer"]):
            if u.streaming and u.background:
                slot = st.empty()
                slot.markdown(GRADING_PLACEHOLDER)
                deferred.append((slot, u))
            elif u.streaming:
                st.write_stream(map(without_images, u))
            else:
                st.markdown(without_images(u.text))
    for slot, u in deferred:
        if queue_position is not None:
            wait_in_line(slot, queue_position)
        with slot.container():
            st.write_stream(map(without_images, u))


def wait_in_line(slot, queue_position: QueuePosition) -> None:
    """Redraw the placeholder with the queue position until the grade is no longer behind another one."""
    while line := queue_line(queue_position()):
        slot.markdown(f"_{line}; the feedback will appear here..._")
        time.sleep(QUEUE_REFRESH_S)
    slot.markdown(GRADING_PLACEHOLDER)


def as_drawn(role: str, text: str) -> str:
    """The candidate's words as typed (escaped: an image or link in an answer stays text, so the reader's browser
    fetches nothing); the interviewer's Markdown with any image shown as text (a follow-up quotes the answer)."""
    return escape_markdown(text) if role == "candidate" else without_images(text)


def show_turns(turns: list[Turn]) -> None:
    for t in turns:
        with st.chat_message(ROLES[t.role], avatar=AVATARS[t.role]):
            st.markdown(as_drawn(t.role, t.text))


def show_candidate(text: str) -> None:
    with st.chat_message(ROLES["candidate"], avatar=AVATARS["candidate"]):
        st.markdown(as_drawn("candidate", text))


def render_report(report: Report, key: str) -> None:
    st.subheader("Your report")
    if report.overall is None:
        st.info("Nothing graded yet.")
    cols = st.columns(4)
    cols[0].metric("Overall", "-" if report.overall is None else f"{report.overall:.1f} / 5",
                   None if report.percent is None else f"{report.percent}%", delta_color="off", delta_arrow="off")
    cols[1].metric("Answered", report.answered)
    cols[2].metric("Skipped", report.skipped)
    cols[3].metric("Still grading", report.pending)
    if report.by_concept:
        st.markdown("**Score per concept** (weakest first)")
        st.altair_chart(concept_chart(report), width="stretch")
    if report.by_tier:
        st.markdown("**Score per tier**")
        st.dataframe(pd.DataFrame([b.model_dump() for b in report.by_tier]).rename(
            columns={"name": "tier", "n": "questions"}), hide_index=True)
    if report.study_plan:
        st.markdown("**Study plan**")
        for item in report.study_plan:
            st.markdown(f"- **{item.concept}**: {item.advice} Practise next: {practise_next(item)}")
        if plan := practice_plan(report):
            st.button("Practise these", key=f"practise-{key}", on_click=practise, args=(plan,),
                      help="A practice session on these questions, with feedback after each answer")
    if report.delivery:
        st.markdown("**Delivery** (spoken answers; not part of the grade)")
        st.markdown("\n".join(f"- {line}" for line in report.delivery.lines()))
    for r in report.questions:
        score = "skipped" if r.skipped else f"{r.score:.1f}/5" if r.score is not None else r.status
        with st.expander(f"Q{r.index + 1} · {score}{' (instructor)' if r.review else ''} · {r.question}"):
            if r.review is not None:
                first, *rest = r.graded_by()
                st.info(escape_markdown(first), icon=":material/school:")
                for line in rest:
                    st.caption(escape_markdown(line))
            if not r.skipped:
                st.markdown("**Your answer**")
                st.markdown(escape_markdown(r.answer) or "_(empty)_")
                for note in r.delivery:
                    st.caption(f"Delivery: {note}")
            if r.followups:
                st.markdown("**Follow-ups asked:** " + " / ".join(map(without_images, r.followups)))
            for title, points in r.point_sections():
                st.markdown(f"**{title}**\n" + "\n".join(f"- {p}" for p in points))
            if r.improvements:
                st.markdown("**To improve**\n" + "\n".join(f"- {without_images(p)}" for p in r.improvements))
            for note in r.notes:
                st.caption(note)
            st.markdown("**Model answer**")
            st.markdown(without_images(r.model_answer))
    c1, c2 = st.columns(2)
    c1.download_button("Download report (Markdown)", to_markdown(report), file_name=f"interview-{report.session_id}.md",
                       mime="text/markdown", key=f"md-{key}", on_click="ignore")
    c2.download_button("Download report (JSON)", to_json(report), file_name=f"interview-{report.session_id}.json",
                       mime="application/json", key=f"json-{key}", on_click="ignore")


def practise(plan: dict[str, str]) -> None:
    """The "Practise these" button: the interview page starts a practice session on the plan's questions."""
    st.session_state[PRACTISE_KEY] = plan
    st.session_state["switch_to"] = "Interview"


def progress_chart(sessions: list[SessionSummary]):
    rows = [{"date": s.created_at, "score": s.score, "track": s.track} for s in sessions if s.score is not None]
    if not rows:
        return None
    df = pd.DataFrame(rows).sort_values("date")
    return (alt.Chart(df).mark_line(point=True)
            .encode(x=alt.X("date:T", title=None), y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 5]), title="score"),
                    color="track:N", tooltip=["date:T", "track", "score"])
            .properties(height=260))


def concept_progress_chart(history: list[tuple], concepts: list[str]):
    """Per concept, the mean score of each day it was practised (the weakest concepts only, to stay readable)."""
    rows = [{"date": at.date(), "concept": c, "score": score} for at, cs, score in history for c in cs if c in concepts]
    if not rows:
        return None
    df = pd.DataFrame(rows).groupby(["date", "concept"], as_index=False)["score"].mean()
    return (alt.Chart(df).mark_line(point=True)
            .encode(x=alt.X("date:T", title=None), y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 5]), title="score"),
                    color="concept:N", tooltip=["date:T", "concept", alt.Tooltip("score:Q", format=".1f")])
            .properties(height=260))
