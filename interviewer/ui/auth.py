"""Team mode's sign-in: until someone signs in, the app shows only the form; after, the account rides in this
browser session's state (a refresh asks again: nothing about the sign-in is kept in the browser).

The password is cleared from the session state by the submit button's callback; a failed sign-in says the same for
a wrong name and a wrong password. Team mode is the database's (`accounts.team_mode`): one that holds an account
asks for a sign-in whatever the settings say. With team mode off there are no accounts and this draws nothing.
"""

from __future__ import annotations

import streamlit as st

from interviewer.settings import Settings
from interviewer.team import accounts
from interviewer.team.accounts import Account
from interviewer.store import SessionDB
from interviewer.ui import state

ACCOUNT_KEY = "account"
ERROR_KEY = "sign_in_error"


def _try_sign_in(settings: Settings) -> None:
    """The submit button's callback: it runs before the script, the one place a widget's value may be reset, so
    the password is gone from the session state before anything is drawn."""
    name = st.session_state.get("sign_in_name", "").strip()
    password = st.session_state.get("sign_in_password", "")
    st.session_state["sign_in_password"] = ""
    try:
        account = accounts.sign_in(state.get_db(settings.database), name, password, client=_client())
    except accounts.AccountError as e:
        st.session_state[ERROR_KEY] = str(e)
        return
    if account is None:
        st.session_state[ERROR_KEY] = "That name and password do not match an account."
    else:
        st.session_state[ACCOUNT_KEY] = account


def _client() -> str | None:
    """Where this browser connects from (None on this machine's loopback), for the per-client back-off. Behind a
    reverse proxy every browser shares the proxy's address: the per-name back-off still holds."""
    try:
        return st.context.ip_address
    except Exception:  # no connection (a test harness): the name's back-off alone
        return None


def signed_in(settings: Settings, db: SessionDB) -> Account | None:
    """The signed-in account, read again from the database on every run (a removed account is signed out, a changed
    role applies at once); in team mode without one, draws the sign-in form and stops this run."""
    if not accounts.team_mode(settings, db):
        return None
    if (held := st.session_state.get(ACCOUNT_KEY)) is not None:
        if (account := accounts.current(db, held)) is not None:
            st.session_state[ACCOUNT_KEY] = account
            return account
        _clear_session()
        st.session_state[ERROR_KEY] = "Your account no longer exists: you were signed out."
    st.header("Sign in")
    st.caption("This interviewer is shared by a team: sign in to see your own interviews. "
               "Accounts are made by an instructor (`interviewer users add NAME`).")
    with st.form("sign_in"):
        st.text_input("Name", key="sign_in_name")
        st.text_input("Password", type="password", key="sign_in_password")
        st.form_submit_button("Sign in", type="primary", on_click=_try_sign_in, args=(settings,))
    if error := st.session_state.pop(ERROR_KEY, None):
        st.error(error)
    st.stop()


def _clear_session() -> None:
    """Everything this browser session holds: the account, the open interview, typed keys and texts, uploads,
    voice drafts, confirmations. The next person at this tab starts from nothing."""
    st.session_state.clear()
    st.query_params.clear()


def sign_out_button(account: Account) -> None:
    st.caption(f"Signed in as **{account.name}** ({account.role})")
    st.button("Sign out", key="sign_out", icon=":material/logout:", on_click=_clear_session)
