"""End to end in a real browser: Debian's chromium, headless, drives `streamlit run interviewer/ui/app.py` on the REAL embedded
model through a 3-question interview and saves a screenshot of the report.

Needs /usr/bin/chromium (`make browser` installs it) and python playwright (a dev dependency; browser downloads are
not needed). INTERVIEWER_E2E_BACKEND=fake runs the same browser flow on the scripted model, to debug the test quickly.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from checkout import PROJECT_ROOT
from interviewer.cli.interview import app_command, app_environ
from interviewer.settings import Settings
from interviewer.store import SessionDB
from interviewer.llm.localserver import _free_port

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800),
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: install Debian's chromium (`make browser` or "
                              f"`apt-get install chromium`)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="python playwright is not installed (the dev extra)"),
]
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT_DIR = PROJECT_ROOT / "test-output" / "e2e"
BACKEND = os.environ.get("INTERVIEWER_E2E_BACKEND", "local")
STEP_TIMEOUT_MS = 420_000  # one step on a busy 2-core machine with a 1.5B model: generous
N_QUESTIONS = 3


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, store):
    data = tmp_path_factory.mktemp("e2e")
    # A copy of the already-ingested store: the app must not spend the test embedding the bank.
    shutil.copytree(store.settings.chroma_dir, data / "chroma")
    models = Settings().models_dir  # the joined 1 GB model file is shared, not joined again
    settings = Settings(data_dir=data, models_path=models, backend=BACKEND)
    env = {**app_environ(os.environ), "INTERVIEWER_BACKEND": BACKEND, "INTERVIEWER_DATA_DIR": str(data),
           "INTERVIEWER_MODELS_PATH": str(models)}
    if BACKEND == "local":
        from interviewer.llm.registry import make_llm

        make_llm(settings)  # join/verify the model and start its server now; the app reuses it (state file)
    port = _free_port()
    log = (data / "streamlit.log").open("wb")
    proc = subprocess.Popen(app_command("127.0.0.1", port, headless=True), env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited early:\n{(data / 'streamlit.log').read_text()[-3000:]}")
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not come up within 120 s")
    yield url, settings
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    if BACKEND == "local":
        from interviewer.llm.localserver import stop_server

        stop_server(settings)
    log.close()
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(data / "streamlit.log", OUTPUT_DIR / f"streamlit-{BACKEND}.log")  # for a failed run's post-mortem


def _wait_idle(page) -> None:
    """Streamlit shows a running icon while the script runs; wait until it is gone (and stays gone briefly)."""
    for _ in range(3):
        page.wait_for_timeout(700)
        page.wait_for_selector('[data-testid="stStatusWidgetRunningIcon"]', state="detached",
                               timeout=STEP_TIMEOUT_MS)


def _send(page, text: str) -> None:
    box = page.get_by_placeholder("Your answer (or: hint, skip, repeat)")
    box.wait_for(timeout=STEP_TIMEOUT_MS)
    box.fill(text)
    box.press("Enter")
    _wait_idle(page)


def _open_and_start(page, url: str, n: int, set_up=None) -> None:
    """Open the app, set the number of questions (and anything `set_up(sidebar)` fills in), start the interview."""
    page.set_default_timeout(STEP_TIMEOUT_MS)
    page.goto(url)
    page.get_by_text("Deep-learning mock interview").first.wait_for()
    sidebar = page.locator('[data-testid="stSidebar"]')
    slider = sidebar.get_by_role("slider")
    slider.focus()
    for _ in range(5 - n):  # the default is 5 questions
        slider.press("ArrowLeft")
    if set_up:
        set_up(sidebar)
    _wait_idle(page)
    sidebar.get_by_role("button", name="Start a new interview").click()
    page.get_by_text(f"Question 1 of {n}").first.wait_for()  # after the model loaded (status shown)


def test_three_question_interview_in_chromium(app_url, bank, tmp_path):
    from playwright.sync_api import sync_playwright

    url, settings = app_url
    db = SessionDB(settings.db_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            _open_and_start(page, url, N_QUESTIONS)
            _wait_idle(page)
            [summary] = db.list_sessions()
            sid = summary.id
            assert f"sid={sid}" in page.url  # the session id is in the URL: a refresh resumes

            # Q1: a full answer; Q2: a hint first, then an answer; Q3: skipped.
            for k in range(1, N_QUESTIONS + 1):
                current = db.load(sid).current
                question = bank.get(current.question_id)
                if k == 2:
                    _send(page, "hint")
                    page.get_by_text("Hint:").first.wait_for()
                if k == N_QUESTIONS:
                    _send(page, "skip")
                else:
                    _send(page, " ".join(question.key_points))
                    for _ in range(2):  # answer up to two follow-ups by moving on
                        if db.load(sid).phase == "awaiting_followup":
                            _send(page, "skip")
                    page.get_by_text(f"Question {k + 1} of {N_QUESTIONS}").first.wait_for()

            page.get_by_text("Your report").first.wait_for()
            page.get_by_role("button", name="Download report (Markdown)").wait_for()
            _wait_idle(page)
            stored = db.load(sid)
            assert stored.finished and len(stored.questions) == N_QUESTIONS
            assert all(q.grade is not None for q in stored.questions)
            assert stored.questions[1].hints and stored.questions[2].skipped
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, OUTPUT_DIR / f"report-{BACKEND}.png")
            assert shot.stat().st_size > 10_000

            page.reload()  # a browser refresh keeps the finished interview and its report
            page.get_by_text("Your report").first.wait_for()
            assert page.get_by_text(f"Question 1 of {N_QUESTIONS}").count() >= 1
        finally:
            browser.close()


SPOKEN = "Dropout randomly zeroes a fraction of the activations during training, and it is switched off at inference."
# Whisper tiny.en mishears some words of a synthetic voice, differently from run to run as the fake device's loop starts
# elsewhere (seen in CI: "Prop-out" for "Dropout"; "zeros of fraction of the activation stirring training", 13 of 17
# words). The test is of the path from microphone to answer; the recogniser's accuracy is measured by
# scripts/bench_voice.py. Words are compared by their first STEM_LETTERS letters, so "zeros"/"zeroes" and
# "activation"/"activations" count as heard.
HEARD_SHARE = 0.7
STEM_LETTERS = 4


def _stems(text: str) -> list[str]:
    return [w[:STEM_LETTERS] for w in re.findall(r"[a-z]+", text.lower())]


def _heard_share(said: str, heard: str) -> float:
    """Share of the words said whose stem occurs in what was heard (the fake device loops the clip, so order is loose)."""
    heard_stems = set(_stems(heard))
    said_stems = _stems(said)
    return sum(s in heard_stems for s in said_stems) / len(said_stems)


def test_a_spoken_answer_through_the_microphone(app_url, tmp_path):
    """Chromium's fake microphone plays a Piper recording into the app's microphone button; the transcript is shown
    for correction, sent, and graded."""
    from playwright.sync_api import sync_playwright

    from interviewer.voice import stt, tts

    url, settings = app_url
    db = SessionDB(settings.db_path)
    clip = tts.synthesize(SPOKEN)
    wav = tmp_path / "answer.wav"
    wav.write_bytes(clip)
    clip_ms = int(1000 * stt.decode(clip).size / stt.SAMPLE_RATE)
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            _open_and_start(page, url, 1)
            _wait_idle(page)
            sid = db.list_sessions()[0].id  # newest first

            page.get_by_role("button", name="Record").click()
            page.wait_for_timeout(2 * clip_ms + 500)  # the fake device loops the clip from wherever it is: twice holds it whole
            page.get_by_role("button", name="Stop recording").click()
            _wait_idle(page)
            box = page.get_by_label("What I heard (correct it if needed)")
            box.wait_for()
            heard = box.input_value()
            assert _heard_share(SPOKEN, heard) >= HEARD_SHARE, heard
            assert not db.load(sid).questions[0].answers  # shown for correction, not sent yet
            page.get_by_role("button", name="Send this answer").click()
            _wait_idle(page)
            if db.load(sid).questions[0].off_question:  # off the question drawn: set aside and asked again
                _send(page, heard)  # a second answer off the question is graded as it is
            if db.load(sid).phase == "awaiting_followup":
                _send(page, "skip")
            page.get_by_text("Your report").first.wait_for()
            _wait_idle(page)
            rec = db.load(sid).questions[0]
            assert rec.answers[0].strip() == heard.strip() and len(rec.delivery) == 1
            assert rec.delivery[0].spoken_s > 2 and rec.grade is not None
            assert page.get_by_text("Delivery").count() >= 1
            OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(OUTPUT_DIR / f"voice-{BACKEND}.png"), full_page=True)
        finally:
            browser.close()


def test_a_job_tailored_interview_in_chromium(app_url):
    """Paste a job description in the set-up; the interview asks the matching questions and says why."""
    from playwright.sync_api import sync_playwright

    url, settings = app_url
    db = SessionDB(settings.db_path)
    job = (PROJECT_ROOT / "tests" / "fixtures" / "jobs" / "llm_inference.md").read_text()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})

            def paste_job(sidebar):
                sidebar.get_by_text("Tailor to a job (optional)").click()
                box = sidebar.get_by_placeholder("Paste the job ad", exact=False)
                box.fill(job)
                box.press("Control+Enter")  # a text area applies its value on Ctrl+Enter (or when it loses focus)

            _open_and_start(page, url, 2, paste_job)
            page.get_by_text("Why this question: the job asks for", exact=False).first.wait_for()
            _wait_idle(page)
            sid = db.list_sessions()[0].id
            stored = db.load(sid)
            assert len(stored.config.planned) == 2 and stored.current.question_id == stored.config.planned[0]
            _send(page, "end")
            page.get_by_text("Your report").first.wait_for()
        finally:
            browser.close()
