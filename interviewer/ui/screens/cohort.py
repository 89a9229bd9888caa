"""The cohort page (instructors, team mode): per candidate and concept, the latest score, the recent mean and the
trend, as a heat map and a table, with a CSV export; and the review form, where an instructor grades an answer (the
candidate sees it as the instructor's grade, and the answer becomes an anchor of its question: `reviews.py`)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from interviewer.settings import Settings
from interviewer.team.cohort import cohort, to_csv
from interviewer.store import SessionDB
from interviewer.session import MAX_SCORE, NOTE_CHARS, SCORE_STEP
from interviewer.store.reviews import ReviewError, Reviews
from interviewer.text import escape_markdown, without_images
from interviewer.ui import state
from interviewer.ui.sidebar import Setup


def draw(setup: Setup, settings: Settings) -> None:
    st.header("Cohort")
    if setup.account is None or not setup.account.instructor:
        st.error("The cohort view is for instructors.")
        return
    rows = cohort(state.get_db(settings.database))
    if not rows:
        st.info("No graded answers yet.")
        return
    frame = pd.DataFrame([r.model_dump() for r in rows])
    st.caption(f"{frame.candidate.nunique()} candidates, {frame.concept.nunique()} concepts, "
               f"{int(frame.answers.sum())} graded answers. Recent mean: the last answers on a concept; trend: "
               "their mean minus the first ones' (empty with a single answer).")
    heat = alt.Chart(frame).mark_rect().encode(
        x=alt.X("concept:N", title=None), y=alt.Y("candidate:N", title=None),
        color=alt.Color("mean_recent:Q", title="recent mean", scale=alt.Scale(domain=[0, 5], scheme="redyellowgreen")),
        tooltip=["candidate", "concept", "answers", "latest", "mean_recent", "trend"])
    st.altair_chart(heat, width="stretch")
    picked = st.multiselect("Candidates", sorted(frame.candidate.unique()), key="cohort_candidates")
    shown = frame[frame.candidate.isin(picked)] if picked else frame
    st.dataframe(shown.assign(last_at=shown.last_at.dt.strftime("%Y-%m-%d %H:%M")), hide_index=True)
    st.markdown("**Graded by** (the backend and model behind each candidate's grades)")
    sources = state.get_db(settings.database).grade_sources()
    st.dataframe(pd.DataFrame(sources, columns=["candidate", "backend", "model", "answers"]), hide_index=True)
    st.download_button("Download CSV", to_csv(rows), file_name="cohort.csv", mime="text/csv", key="cohort_csv",
                       icon=":material/download:")
    st.divider()
    review_form(state.get_db(settings.database), setup.account.name)


GRADES = [i * SCORE_STEP for i in range(int(MAX_SCORE / SCORE_STEP) + 1)]  # 0, 0.5, ..., 5
SAVED_KEY = "review_saved"  # the line of the review just saved, shown after the page is redrawn with it
QUESTION_LABEL_CHARS = 80


def review_form(db: SessionDB, instructor: str) -> None:
    """Pick a candidate, a session and a graded answer; read it with the grader's grade and the anchors that grade was
    read against; set a grade in half points and a note. Saved with who and when."""
    st.subheader("Review an answer")
    if saved := st.session_state.pop(SAVED_KEY, None):
        st.success(f"Saved. {escape_markdown(saved)}")
    candidate = st.selectbox("Candidate", db.users(), key="review_candidate")
    sessions = db.list_sessions(candidate) if candidate else []
    labels = {s.id: f"{s.created_at:%Y-%m-%d %H:%M} · {s.track} · {s.mode} · {s.graded} graded" for s in sessions}
    session_id = st.selectbox("Session", list(labels), format_func=labels.get, key="review_session")
    session = db.load(session_id) if session_id else None
    graded = {r.index: r for r in (session.questions if session else []) if r.grade is not None and not r.skipped}
    if not graded:
        st.info("No graded answer in this session yet.")
        return
    index = st.selectbox("Answer", list(graded), key="review_answer", format_func=lambda i: (
        f"Q{i + 1} · {graded[i].question[:QUESTION_LABEL_CHARS]}"))
    record = graded[index]
    st.markdown(f"**Question:** {without_images(record.question)}")
    st.markdown("**Answer**")
    st.markdown(escape_markdown(record.combined_answer()) or "_(empty)_")
    grade = record.grade
    st.markdown(f"**Grader's grade: {grade.score:.1f}/5** ({escape_markdown(grade.backend or 'unknown')} / "
                f"{escape_markdown(grade.model or 'unknown')})")
    if grade.anchors:
        st.caption("The nearest graded answers this grade was read against")
        st.dataframe(pd.DataFrame([{"level": a.level, "score": a.score, "source": a.source,
                                    "similarity": a.similarity, "weight": a.weight} for a in grade.anchors]),
                     hide_index=True)
    else:
        st.caption("Graded without anchors.")
    if record.review is not None:
        st.info(escape_markdown(record.review.line()), icon=":material/school:")
    start = record.review.score if record.review else round(grade.score / SCORE_STEP) * SCORE_STEP
    where = f"{session_id}_{index}"  # each answer's own widgets: a grade set for one never carries to the next
    score = st.select_slider("Your grade (0-5)", options=GRADES, value=start, key=f"review_score_{where}")
    note = st.text_area("Note for the candidate (optional)", value=record.review.note if record.review else "",
                        max_chars=NOTE_CHARS, key=f"review_note_{where}")
    if st.button("Save grade", type="primary", key="review_save"):
        try:
            review = Reviews(db.database).review(session_id, index, score, note, by=instructor)
        except ReviewError as e:
            st.error(str(e))
            return
        st.session_state[SAVED_KEY] = f"{review.line()} (Q{index + 1} of {candidate})"
        st.rerun()
