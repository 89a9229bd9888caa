"""The chat interviewer in the browser. Start it with `interviewer app` (or `streamlit run interviewer/ui/app.py`).

This script only wires the pages: the sidebar's set-up, then the chosen screen. What lasts beyond one run is in
`interviewer/ui/state.py`; what the interview does is in the `interviewer` package.
"""

from __future__ import annotations

import streamlit as st

from interviewer.files import private_dir
from interviewer.settings import Settings
from interviewer.ui import auth, sidebar, state
from interviewer.ui.screens import cohort, history, interview
from interviewer.ui.views import AVATARS

st.set_page_config(page_title="Mock deep-learning interview", page_icon=AVATARS["interviewer"])
settings = Settings()  # fresh every run: cheap, and tests change the environment between runs
private_dir(settings.data_dir)  # answers, recordings and logs live here: its owner's alone (0700) when made here
db = state.get_db(settings.database)  # one that cannot be opened says why here, before anything else is drawn
state.sweep_lost_grades(settings.database, db, settings)  # once per process: grades a restart lost are queued
state.keep_sweeping(settings.database, db, settings)  # and again every few minutes: a dead replica's stale claims
account = auth.signed_in(settings, db)  # team mode: the sign-in form until someone signs in; None on the laptop
if account is not None:  # a database with accounts is in team mode whatever the setting: the screens' checks say so
    settings = settings.model_copy(update={"team_mode": True})
SCREENS = {"Interview": interview.draw, "History": history.draw}
if account is not None and account.instructor:
    SCREENS["Cohort"] = cohort.draw
setup = sidebar.draw(settings, pages=list(SCREENS), account=account)
SCREENS[setup.view](setup, settings)
