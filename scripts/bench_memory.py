"""Resident memory of the embedded model server and of the app, after real work. Prints figures, asserts nothing.

  python scripts/bench_memory.py [--answers 3]

1. Starts (or reuses) the embedded llama.cpp server and grades a few DL answers through it; reads the server's RSS.
2. Starts the Streamlit app as `interviewer app` does (headless, in its environment, on the same server), drives one
   practice question in headless Chromium (Debian's /usr/bin/chromium with python playwright), and reads the app
   process's RSS.
Prints each (the server again after the app's answer), and app + server together (the larger server reading).
VmHWM (the peak) is printed beside VmRSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from interviewer.cli.interview import app_command, app_environ
from interviewer.settings import Settings
from interviewer.llm.localserver import KEY_FILE, _free_port, _state_file

CHROMIUM = "/usr/bin/chromium"
MB = 1024 * 1024


def rss(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024
    return out


def show(name: str, m: dict[str, int]) -> None:
    print(f"{name:>8}: RSS {m['VmRSS'] / MB:7.0f} MiB ({m['VmRSS'] / 1e9:.2f} GB)  peak {m['VmHWM'] / MB:7.0f} MiB"
          f"  anon {m.get('RssAnon', 0) / MB:6.0f} MiB  file {m.get('RssFile', 0) / MB:6.0f} MiB")


def server(settings: Settings, n: int) -> int:
    from interviewer.evals.datasets import load_dl
    from interviewer import services
    from interviewer.bank.store import ensure_ingested, get_store

    llm = services.make_llm(settings, "local")
    store = get_store()
    ensure_ingested(store)
    grader = services.build_grader(settings, llm, store=store)
    for row in [r for r in load_dl() if r.kind == "partial"][:n]:
        grader.score(store.question(row.question_id), row.answer)
    return json.loads(_state_file(settings).read_text())["pid"]


FOLLOW_UPS = 3


def send(page, text: str) -> None:
    """Type an answer, then wait until Streamlit's running icon is gone (and stays gone briefly)."""
    box = page.get_by_placeholder("Your answer (or: hint, skip, repeat)")
    box.fill(text)
    box.press("Enter")
    for _ in range(3):
        page.wait_for_timeout(700)
        page.wait_for_selector('[data-testid="stStatusWidgetRunningIcon"]', state="detached")


def app(settings: Settings) -> dict[str, int] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("python playwright is missing (dev extra): app not measured")
        return None
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing (`make browser`): app not measured")
        return None
    data = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    shutil.copy(_state_file(settings), data / _state_file(settings).name)  # reuse the running model server
    shutil.copy(settings.data_dir / KEY_FILE, data / KEY_FILE)  # and its key
    port = _free_port()
    env = {**app_environ(os.environ), "INTERVIEWER_DATA_DIR": str(data), "INTERVIEWER_BACKEND": "local",
           "INTERVIEWER_MODELS_PATH": str(settings.models_dir), "INTERVIEWER_CHROMA_PATH": str(settings.chroma_dir)}
    proc = subprocess.Popen(app_command("127.0.0.1", port, headless=True), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(url)
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text("practice").first.click()
            sidebar.get_by_role("button", name="Start a new interview").click()
            page.get_by_text("Question 1 of").first.wait_for()
            send(page, "It randomly zeroes some activations during training so the network overfits less.")
            for _ in range(FOLLOW_UPS):  # the interviewer may probe first: move on until the score shows
                if page.get_by_text("Score:").count():
                    break
                send(page, "skip")
            page.get_by_text("Score:").first.wait_for()
            page.wait_for_timeout(2000)
            measured = rss(proc.pid)
            browser.close()
        return measured
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answers", type=int, default=3)
    args = ap.parse_args()
    settings = Settings()
    pid = server(settings, args.answers)
    server_mem = rss(pid)
    show("server", server_mem)
    app_mem = app(settings)
    if app_mem:
        show("app", app_mem)
        after = rss(pid)  # the app's answer was graded on the same server
        show("server", after)
        total = max(server_mem["VmRSS"], after["VmRSS"]) + app_mem["VmRSS"]
        print(f"app + server: {total / MB:.0f} MiB ({total / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
