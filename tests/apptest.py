"""What the app tests share: the app under AppTest and the few moves a candidate makes in it. Not a test module
(no `test_` prefix): pytest puts this folder on the path, so tests import it as `apptest`."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from checkout import PROJECT_ROOT
from interviewer.store import SessionDB

APP = str(PROJECT_ROOT / "interviewer" / "ui" / "app.py")
TIMEOUT = 120  # generous: the test machine may be busy


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def start(at: AppTest, *, n: int = 2, track: str = "fresher", mode: str = "interview") -> str:
    at.selectbox(key="track").set_value(track)
    at.radio(key="mode").set_value(mode)
    at.slider(key="n_questions").set_value(n)
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    return at.query_params["sid"]


def say(at: AppTest, text: str) -> None:
    at.chat_input(key="chat").set_value(text).run()
    assert not at.exception, at.exception


def messages(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, "\n".join(x.value for x in m.markdown)) for m in at.chat_message]


def current_question(db: SessionDB, sid: str, bank):
    session = db.load(sid)
    return bank.get(session.current.question_id) if session.current else None
