"""Pieces of the app that only display things: the report and the history page."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from interviewer.interview.db import SessionDB, SessionSummary
from interviewer.interview.report import Report, concept_chart, to_json, to_markdown


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
            practice = ", ".join(f"`{p}`" for p in item.practice) or "no more bank questions on this"
            st.markdown(f"- **{item.concept}**: {item.advice} Practise next: {practice}")
    for r in report.questions:
        score = "skipped" if r.skipped else f"{r.score:.1f}/5" if r.score is not None else r.status
        with st.expander(f"Q{r.index + 1} · {score} · {r.question}"):
            if not r.skipped:
                st.markdown("**Your answer**")
                st.markdown(r.answer or "_(empty)_")
            if r.followups:
                st.markdown("**Follow-ups asked:** " + " / ".join(r.followups))
            for title, points in r.point_sections():
                st.markdown(f"**{title}**\n" + "\n".join(f"- {p}" for p in points))
            if r.improvements:
                st.markdown("**To improve**\n" + "\n".join(f"- {p}" for p in r.improvements))
            for note in r.notes:
                st.caption(note)
            st.markdown("**Model answer**")
            st.markdown(r.model_answer)
    c1, c2 = st.columns(2)
    c1.download_button("Download report (Markdown)", to_markdown(report), file_name=f"interview-{report.session_id}.md",
                       mime="text/markdown", key=f"md-{key}", on_click="ignore")
    c2.download_button("Download report (JSON)", to_json(report), file_name=f"interview-{report.session_id}.json",
                       mime="application/json", key=f"json-{key}", on_click="ignore")


def progress_chart(sessions: list[SessionSummary]):
    rows = [{"date": s.created_at, "score": s.score, "track": s.track} for s in sessions if s.score is not None]
    if not rows:
        return None
    df = pd.DataFrame(rows).sort_values("date")
    return (alt.Chart(df).mark_line(point=True)
            .encode(x=alt.X("date:T", title=None), y=alt.Y("score:Q", scale=alt.Scale(domain=[0, 5]), title="score"),
                    color="track:N", tooltip=["date:T", "track", "score"])
            .properties(height=260))


def render_history(db: SessionDB, user: str) -> str | None:
    """The history page; returns the id of a session the candidate wants to open, if any."""
    st.header("History")
    chosen = None
    sessions = db.list_sessions(user)
    if not sessions:
        st.info(f"No interviews yet for **{user}**.")
    else:
        chart = progress_chart(sessions)
        if chart is not None:
            st.markdown("**Progress**")
            st.altair_chart(chart, width="stretch")
        st.dataframe(pd.DataFrame([{"date": f"{s.created_at:%Y-%m-%d %H:%M}", "session": s.id, "track": s.track,
                                    "mode": s.mode, "questions": f"{s.asked}/{s.n_questions}",
                                    "score": s.score, "status": s.phase} for s in sessions]), hide_index=True)
        labels = {s.id: f"{s.created_at:%Y-%m-%d %H:%M} · {s.track} · {s.phase}" for s in sessions}
        picked = st.selectbox("Open a session", list(labels), format_func=labels.get, key="history_pick")
        chosen = picked if st.button("Open", key="history_open") else None
    with st.expander("Delete my data"):
        st.write(f"This deletes every interview, answer and grade stored for **{user}**. It cannot be undone.")
        sure = st.checkbox("Yes, delete everything", key="confirm_delete")
        if st.button("Delete my data", type="primary", disabled=not sure, key="delete_data"):
            n = db.delete_user(user)
            st.session_state["deleted_note"] = f"Deleted {n} session(s) for {user}."
            st.session_state.pop("agent", None)
            st.query_params.clear()
            st.rerun()
    if note := st.session_state.pop("deleted_note", None):
        st.success(note)
    return chosen
