"""The cohort page (instructors, team mode): per candidate and concept, the latest score, the recent mean and the
trend, as a heat map and a table, with a CSV export."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from interviewer.config import Settings
from interviewer.interview.cohort import cohort, to_csv
from ui import state
from ui.sidebar import Setup


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
