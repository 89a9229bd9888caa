"""The history page: past interviews with their scores, open or continue one, delete one's data."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from interviewer.settings import Settings
from interviewer.team.accounts import may_open
from interviewer.store import SessionDB
from interviewer.store.forget import forget_user
from interviewer.planning.practice import concept_strength, due_items
from interviewer.report import build_report
from interviewer.ui import state
from interviewer.ui.sidebar import Setup
from interviewer.ui.views import concept_progress_chart, progress_chart, render_report


def _session_list(db: SessionDB, user: str) -> str | None:
    """The list and the progress chart; returns the id of a session the candidate asked to open, if any."""
    sessions = db.list_sessions(user)
    if not sessions:
        st.info(f"No interviews yet for **{user}**.")
        return None
    chart = progress_chart(sessions)
    if chart is not None:
        st.markdown("**Progress**")
        st.altair_chart(chart, width="stretch")
    st.dataframe(pd.DataFrame([{"date": f"{s.created_at:%Y-%m-%d %H:%M}", "session": s.id, "track": s.track,
                                "mode": s.mode, "questions": f"{s.asked}/{s.n_questions}",
                                "score": s.score, "status": s.phase} for s in sessions]), hide_index=True)
    labels = {s.id: f"{s.created_at:%Y-%m-%d %H:%M} · {s.track} · {s.phase}" for s in sessions}
    picked = st.selectbox("Open a session", list(labels), format_func=labels.get, key="history_pick")
    return picked if st.button("Open", key="history_open") else None


PROGRESS_CONCEPTS = 6  # concepts drawn in the progress chart: the weakest


def _practice_overview(db: SessionDB, user: str, settings: Settings) -> None:
    strength = concept_strength(db, user)
    due = due_items(db, user, state.get_questions(str(settings.knowledge_dir)), strength=strength)
    if not strength and not due:
        return
    if strength:
        st.markdown("**Progress per concept** (weakest first)")
        chart = concept_progress_chart(db.score_history(user), list(strength)[:PROGRESS_CONCEPTS])
        if chart is not None:
            st.altair_chart(chart, width="stretch")
    st.markdown(f"**Due for review today: {len(due)}**" + (" (start them with *Today's practice*)" if due else ""))
    if due:  # every one, not only the first plan's worth
        st.dataframe(pd.DataFrame([{"question": i.question_id, "concept": i.concept, "last score": i.last_score,
                                    "due since": f"{i.due:%Y-%m-%d}"} for i in due]), hide_index=True)


def _delete_my_data(db: SessionDB, user: str, settings: Settings) -> None:
    with st.expander("Delete my data"):
        st.write(f"This deletes every interview, answer, grade, kept recording and the practice schedule stored for "
                 f"**{user}**. "
                 "It cannot be undone.")
        sure = st.checkbox("Yes, delete everything", key="confirm_delete")
        if st.button("Delete my data", type="primary", disabled=not sure, key="delete_data"):
            n = forget_user(db, settings.data_dir, user)
            st.session_state["deleted_note"] = f"Deleted {n} session(s) for {user}."
            st.session_state.pop("agent", None)
            st.query_params.clear()
            st.rerun()
    if note := st.session_state.pop("deleted_note", None):
        st.success(note)


def _whose(db: SessionDB, setup: Setup) -> str:
    """Whose history: one's own; an instructor may pick any candidate."""
    if setup.account is None or not setup.account.instructor:
        return setup.user
    people = sorted(set(db.users()) | {setup.user})
    return st.selectbox("Candidate", people, index=people.index(setup.user), key="history_candidate")


def draw(setup: Setup, settings: Settings) -> None:
    db = state.get_db(settings.database)
    st.header("History")
    user = _whose(db, setup)
    picked = _session_list(db, user)
    _practice_overview(db, user, settings)
    if user == setup.user:
        _delete_my_data(db, user, settings)
    opened = picked or st.session_state.get("history_opened")
    if not opened:
        return
    st.session_state["history_opened"] = opened
    stored = db.load(opened)
    if stored is None or not may_open(setup.account, stored.user, team_mode=settings.team_mode):
        st.session_state.pop("history_opened", None)
        return
    st.divider()
    if not stored.finished and st.button("Continue this interview", key="continue"):
        st.session_state.pop("agent", None)
        st.query_params["sid"] = opened
        st.session_state["switch_to"] = "Interview"
        st.rerun()
    render_report(build_report(stored, state.get_questions(str(settings.knowledge_dir))), key=f"history-{opened}")
