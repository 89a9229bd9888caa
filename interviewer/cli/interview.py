"""`interviewer interview`, `interviewer app` and `interviewer history`: the interview from the shell and the web app."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import typer
from rich.markdown import Markdown
from rich.table import Table

from interviewer import ui
from interviewer.cli.output import console, err, fail
from interviewer.resources import resource_path
from interviewer.cli.signin import AS_HELP, PASSWORD_STDIN_HELP, require_open, sign_in, whose
from interviewer.settings import Settings, get_settings
from interviewer.llm.registry import BACKEND_HELP, BACKENDS, backend_spec
from interviewer.session import MODES, TRACKS

AUDIO_SUFFIXES = (".wav", ".mp3", ".ogg", ".webm", ".m4a", ".flac")


def _spoken(message: str, agent):
    """A path to a recording typed as the answer is transcribed (and shown); anything else is the answer itself.
    None when a recording could not become an answer: the interviewer waits for the next line, nothing is recorded."""
    line = message.strip()
    path = Path(line.strip("'\""))
    if path.suffix.lower() not in AUDIO_SUFFIXES or (" " in line and line[:1] not in "'\""):
        return message, None  # a sentence that happens to end in ".wav" is an answer
    if not path.is_file():
        err.print(f"[yellow]no recording at {path}: type the answer, or the path of a recording[/]")
        return None, None
    from interviewer.voice import stt

    settings = get_settings()
    try:
        with console.status("transcribing..."):
            heard = stt.for_settings(settings).transcribe(
                path, question=agent.current.question if agent.current else "")
    except stt.VoiceError as e:
        err.print(f"[yellow]{e}[/]")
        return None, None
    console.print(f"[dim]heard: {heard.text}\n{heard.delivery.note()}[/]")
    return heard.text, heard.delivery


def read_or_fail(path: Path) -> str:
    from interviewer.planning.tailor import DocumentError, check_size, read_document

    if not path.is_file():
        fail(f"no such file: {path}")
    try:
        check_size(path.name, path.stat().st_size)  # a huge file is refused before it is read into memory
        return read_document(path.read_bytes(), path.name)
    except DocumentError as e:
        fail(str(e))


def job_plan(settings: Settings, questions, jd: Path, cv: Path | None, n: int, llm, backend: str):
    """The session plan of the bank questions that match a job description (and CV), or a clear exit when nothing
    does."""
    from interviewer.planning.plan import NoJobMatch, plan_session

    job, resume = read_or_fail(jd), read_or_fail(cv) if cv else ""
    try:
        with err.status("matching the job description to the question bank..."):
            return plan_session(questions, job=job, cv=resume, store=_search_store(settings, backend), llm=llm, n=n)
    except NoJobMatch as e:
        fail(f"nothing in the question bank matches {jd.name} ({e.phrases} phrases searched): is it a "
             "deep-learning role? Try a track instead (--track)")


def _search_store(settings: Settings, backend: str):
    """The store a plan searches: the grader's, or for a scripted backend (which grounds nothing) one filled now."""
    return prepare_store(settings, backend) or _ingested_store(settings)


def _ingested_store(settings: Settings):
    from interviewer.bank.store import open_store

    return open_store(settings, say=err.print)


def _check_choice(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        fail(f"unknown {what} {value!r}: choose one of {', '.join(allowed)}")


def prepare_llm(settings: Settings, backend: str | None):
    """Build the LLM with a visible status; the local backend joins/verifies the model and starts its server."""
    from interviewer import services
    from interviewer.llm.base import LLMError

    with err.status("preparing the language model...") as status:
        try:
            return services.make_llm(settings, backend, on_progress=lambda m: status.update(m))
        except (LLMError, RuntimeError) as e:
            fail(f"{e}\n(pick another backend with --backend, e.g. openai or compatible)")


def prepare_store(settings: Settings, backend: str):
    """The Chroma store grounds grades with related material; a scripted backend does not need it."""
    from interviewer.bank.store import Store, ensure_index

    store = Store(settings)
    if store.count() == 0 and backend_spec(backend).scripted:
        return None
    ensure_index(store, say=err.print)  # cheap when nothing changed; picks up edited or new questions
    return store


def practise_command(plan: Mapping[str, str], user: str = "local") -> str:
    """The command that starts a practice session on a study plan's questions."""
    whose = f" --user {shlex.quote(user)}" if user != "local" else ""
    return "interviewer interview --mode practice" + whose + "".join(f" --question {q}" for q in plan)


def _show_all(utterances) -> None:
    """A terminal cannot fill in a line above: background utterances (an answer's feedback) come after the rest, so
    the next question is on screen while they are written."""
    for u in sorted(utterances, key=lambda u: u.background and u.streaming):
        _show(u)


def _show(utterance) -> None:
    console.print("[bold magenta]interviewer[/]")
    if utterance.streaming:
        for piece in utterance:
            console.file.write(piece.replace("**", ""))  # raw text while streaming: no markdown emphasis marks
            console.file.flush()
        console.print()
    else:
        console.print(Markdown(utterance.text))
    console.print()


def interview(
    track: str = typer.Option("mixed", help=f"one of: {', '.join(TRACKS)}"),
    n: int = typer.Option(5, "--n", min=1, max=30, help="number of questions"),
    mode: str = typer.Option("interview", help="interview (feedback at the end) or practice (after each answer)"),
    concept: list[str] = typer.Option([], "--concept", help="focus concept slug; repeat for several"),
    backend: Optional[str] = typer.Option(None, help=BACKEND_HELP),
    user: Optional[str] = typer.Option(None, help="whose history this session belongs to (default: local; in team "
                                       "mode, your account)"),
    resume: Optional[str] = typer.Option(None, help="resume the session with this id"),
    plan: bool = typer.Option(False, "--plan", help="today's practice for --user (see `interviewer practice`), "
                              "--n questions"),
    jd: Optional[Path] = typer.Option(None, "--jd", help="a job description (.txt .md .pdf .docx): its questions"),
    cv: Optional[Path] = typer.Option(None, "--cv", help="with --jd: your CV, whose claims are probed too"),
    question: list[str] = typer.Option([], "--question", help="ask these bank questions, in this order (repeatable; "
                                       "the report's study plan prints the command for its questions)"),
    topic: Optional[str] = typer.Option(None, "--topic", help="the bank's questions closest to a topic, e.g. "
                                        "'kv caches'"),
    out: Optional[Path] = typer.Option(None, help="also write the report here (.md, or .json for JSON)"),
    as_name: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
) -> None:
    """A mock interview in the terminal. Type 'hint', 'skip', 'repeat' or 'end' at any time."""
    from pydantic import ValidationError

    from interviewer.interview.agent import Interviewer
    from interviewer.bank.bank import load_bank
    from interviewer.store import SessionDB
    from interviewer import services
    from interviewer.planning.plan import PlanError, SessionPlan, plan_session
    from interviewer.report import build_report, practice_plan, to_json, to_markdown

    _check_choice(track, TRACKS, "track")
    _check_choice(mode, MODES, "mode")
    _check_choice(backend, tuple(BACKENDS), "backend")
    settings = get_settings()
    db = SessionDB(settings.database)
    viewer = sign_in(db, as_name, password_stdin)
    user = whose(viewer, user, "local")
    if resume:
        if (stored := db.load(resume)) is None:
            fail(f"no session {resume!r} (see `interviewer history`)")
        require_open(viewer, stored.config.user, f"session {resume!r}")
    if plan and jd:
        fail("--plan and --jd are two ways to choose the questions: give one")
    if sum(map(bool, (question, plan, jd, topic))) > 1:
        fail("--question, --plan, --jd and --topic are ways to choose the questions: give one")
    backend = backend or settings.resolved_backend()
    questions = load_bank(settings.knowledge_dir).questions
    if unknown := [i for i in question if i not in {q.id for q in questions}]:
        fail(f"no question {unknown[0]!r} in the bank (`interviewer search` finds questions by topic)")
    llm = prepare_llm(settings, backend)
    session_plan = SessionPlan()
    if question:
        session_plan = services.planned(questions, {i: "you asked for it" for i in question})
    elif plan:
        session_plan = plan_session(questions, today=True, db=db, user=user, n=n)
        if not session_plan.question_ids:
            fail("nothing to practise: the bank has no question left for this plan")
    elif jd:
        session_plan = job_plan(settings, questions, jd, cv, n, llm, backend)
    elif topic:
        try:
            session_plan = plan_session(questions, topic=topic, store=_search_store(settings, backend), n=n)
        except PlanError as e:
            fail(f"{e}: try other words, or a track (--track)")
    try:
        config = services.session_config(session_plan, track=track, n_questions=n, mode=mode, concepts=concept,
                                          user=user)
    except ValidationError as e:
        fail(e.errors()[0]["msg"])
    store = prepare_store(settings, backend)
    parts = dict(llm=llm, grader=services.build_grader(settings, llm, store=store, db=db), questions=questions, db=db)
    if resume:
        agent = Interviewer.resume(resume, **parts)
        if agent is None:
            fail(f"no session {resume!r} (see `interviewer history`)")
        for turn in agent.session.turns[-2:]:
            console.print(f"[dim]{turn.role}: {turn.text}[/]")
    else:
        agent = Interviewer.start(config, backend=backend, **parts)
        _show_all(agent.opening())
    try:
        while agent.phase != "finished":
            try:
                message = console.input("[bold cyan]you>[/] ")
            except EOFError:
                message = "end"
            message, delivery = _spoken(message, agent)
            if message is None:
                continue
            with console.status("thinking..."):
                replies = agent.handle(message, delivery=delivery)
            console.print()
            _show_all(replies)
    except KeyboardInterrupt:
        console.print(f"\nPaused. Resume with: interviewer interview --resume {agent.session.id}")
        raise typer.Exit(130)
    with console.status("finishing the grading..."):
        agent.wait_for_grades()
        agent.ensure_grades()
    report = build_report(agent.session, questions, agent.recent)
    console.print(Markdown(to_markdown(report)))
    if study := practice_plan(report):
        console.print(f"Practise these: {practise_command(study, user)}", soft_wrap=True)  # one line to copy
    if out:
        out.write_text(to_json(report) if out.suffix == ".json" else to_markdown(report), encoding="utf-8")
        console.print(f"Report written to {out}")
    agent.close()


def history(
    user: Optional[str] = typer.Option(None, help="only this user's sessions"),
    forget: Optional[str] = typer.Option(None, help="delete every session and record of this user"),
    yes: bool = typer.Option(False, "--yes", help="with --forget: do not ask for confirmation"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    as_name: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
) -> None:
    """Past interviews with their scores (and --forget USER to delete a user's data). In team mode a candidate
    sees and deletes only their own; an instructor anyone's."""
    from interviewer.store import SessionDB
    from interviewer.store.forget import forget_user

    db = SessionDB(get_settings().database)
    viewer = sign_in(db, as_name, password_stdin)
    if forget:
        require_open(viewer, forget, f"the data of {forget!r}")
        if not yes and not typer.confirm(f"Delete all data of user {forget!r}?"):
            raise typer.Exit(1)
        n = forget_user(db, get_settings().data_dir, forget)
        if as_json:
            sys.stdout.write(json.dumps({"deleted_sessions": n, "user": forget}) + "\n")
        else:
            console.print(f"Deleted {n} session(s) and the question history of {forget!r}.")
        return
    if viewer is not None and not viewer.instructor:
        user = whose(viewer, user, viewer.name)
    elif user:
        require_open(viewer, user, f"the history of {user!r}")
    sessions = db.list_sessions(user)
    reviewed = _reviewed(db, user, {s.id for s in sessions})
    if as_json:
        sys.stdout.write(json.dumps([{**s.model_dump(mode="json"), "reviews": [
            {"index": r.index, "question_id": r.question_id, **r.review.model_dump(mode="json")}
            for r in reviewed if r.session_id == s.id]} for s in sessions], indent=2) + "\n")
        return
    if not sessions:
        console.print("No interviews yet: start one with `interviewer interview` or `interviewer app`.")
        return
    table = Table("date", "session", "user", "track", "mode", "questions", "score", "status")
    for s in sessions:
        table.add_row(f"{s.created_at:%Y-%m-%d %H:%M}", s.id, s.user, s.track, s.mode, f"{s.asked}/{s.n_questions}",
                      "-" if s.score is None else f"{s.score:.1f}", s.phase)
    console.print(table)
    for r in reviewed:  # the score above counts the instructor's grade; this says whose it is
        console.print(f"{r.session_id} Q{r.index + 1} ({r.question_id}): {r.review.line()}", markup=False,
                      highlight=False, soft_wrap=True)


def _reviewed(db, user: str | None, sessions: set[str]) -> list:
    """The instructors' grades of the listed sessions' answers."""
    from interviewer.store.reviews import Reviews

    return [r for r in Reviews(db.database).reviewed(user) if r.session_id in sessions]


# glibc gives each thread that contends for malloc an arena of its own, and Streamlit runs every script run and every
# grade on a thread: after one practice answer the app held 568-673 MiB (three runs), 486-663 MiB with two arenas (four
# runs of scripts/bench_memory.py). A value the user has set is kept.
MALLOC_ARENAS = "2"


def app_environ(base: Mapping[str, str]) -> dict[str, str]:
    """The environment the Streamlit app runs in."""
    return {"MALLOC_ARENA_MAX": MALLOC_ARENAS, **base}


STREAMLIT_CONFIG = resource_path("streamlit", "config.toml")  # the app's shipped Streamlit settings
APP_SCRIPT = Path(ui.__file__).with_name("app.py")  # the app, wherever the package is installed


def shipped_options(config: Path = STREAMLIT_CONFIG) -> dict[str, str]:
    """The shipped Streamlit settings as option names and values ("server.maxUploadSize": "50"): Streamlit reads the
    file only when started from the project folder."""
    import tomllib

    return {f"{section}.{name}": str(value).lower() if isinstance(value, bool) else str(value)
            for section, values in tomllib.loads(config.read_text()).items() for name, value in values.items()}


def app_command(address: str, port: int, headless: bool = False) -> list[str]:
    """The shipped settings, with this run's address and port (and headless, when asked)."""
    options = {**shipped_options(), "server.address": address, "server.port": str(port),
               "browser.gatherUsageStats": "false", **({"server.headless": "true"} if headless else {})}
    return [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
            *[part for name, value in options.items() for part in (f"--{name}", value)]]


def run_app(
    port: int = typer.Option(8501, help="port on localhost"),
    backend: Optional[str] = typer.Option(None, help=f"default LLM backend in the app: {', '.join(BACKENDS)}"),
) -> None:
    """Start the web app (Streamlit) on localhost; the local model is prepared first, with progress."""
    _check_choice(backend, tuple(BACKENDS), "backend")
    settings = get_settings()
    chosen = backend or settings.resolved_backend()
    if BACKENDS[chosen].starts_server:
        try:  # join, verify and start the shared server now, with progress; the app then reuses it
            prepare_llm(settings, chosen)
        except typer.Exit:  # the app still opens: its sidebar offers OpenAI or a compatible server instead
            err.print("[yellow]Starting the app anyway: choose another backend under 'Model' in the sidebar.[/]")
    prepare_store(settings, chosen)
    env = app_environ(os.environ)
    if backend:
        env["INTERVIEWER_BACKEND"] = backend
    cmd = app_command("localhost", port)
    console.print(f"Opening the app on http://localhost:{port} (Ctrl+C to stop)")
    try:
        raise typer.Exit(subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0)


def plan_for_job(
    jd: Path = typer.Option(..., "--jd", help="a job description: .txt, .md, .pdf or .docx"),
    cv: Optional[Path] = typer.Option(None, "--cv", help="your CV (its claims are probed, with less weight)"),
    n: int = typer.Option(8, "--n", min=1, max=30, help="questions"),
    backend: Optional[str] = typer.Option(None, help=BACKEND_HELP + "; the model names the job's topics (the fake: none, retrieval alone)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """The bank questions a job description asks about, each with the phrase it matched. Run them with
    `interviewer interview --jd FILE`."""
    from interviewer.bank.bank import load_bank

    _check_choice(backend, tuple(BACKENDS), "backend")
    settings = get_settings()
    chosen = backend or settings.resolved_backend()
    plan = job_plan(settings, load_bank(settings.knowledge_dir).questions, jd, cv, n, prepare_llm(settings, chosen),
                    chosen).tailored
    if as_json:
        sys.stdout.write(plan.model_dump_json(indent=2) + "\n")
        return
    if plan.concepts:
        console.print("The job stresses: " + ", ".join(plan.concepts))
    table = Table("question", "why this question")
    for m in plan.items:
        table.add_row(m.question_id, m.reason)
    console.print(table)
    if plan.unmatched:
        console.print(f"[dim]{len(plan.unmatched)} of {plan.phrases} phrases matched nothing in the bank, e.g. "
                      f"\"{plan.unmatched[0]}\"[/]")


def practice(
    user: Optional[str] = typer.Option(None, help="whose schedule (default: local; in team mode, your account)"),
    n: int = typer.Option(5, "--n", min=1, max=30, help="questions in the plan"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    as_name: Optional[str] = typer.Option(None, "--as", help=AS_HELP),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=PASSWORD_STDIN_HELP),
) -> None:
    """Today's practice: questions due for review (weakest concepts first), then new ones. Run it with
    `interviewer interview --plan --user U`."""
    from interviewer.store import SessionDB
    from interviewer.planning.practice import todays_plan
    from interviewer.bank.bank import load_bank

    settings = get_settings()
    db = SessionDB(settings.database)
    user = whose(sign_in(db, as_name, password_stdin), user, "local")
    today = todays_plan(db, user, load_bank(settings.knowledge_dir).questions, n=n)
    if as_json:
        sys.stdout.write(today.model_dump_json(indent=2) + "\n")
        return
    console.print(f"Today's practice for {user}: {today.due_total} due for review"
                  + (f" (showing {n})" if today.due_total > n else ""))
    table = Table("question", "kind", "why")
    for item in today.items:
        table.add_row(item.question_id, item.kind, item.reason)
    console.print(table)
    if today.concept_strength:
        console.print("Weakest first: " + ", ".join(f"{c} {s:.1f}" for c, s in list(today.concept_strength.items())[:6]))
    console.print(f"Start it: interviewer interview --plan --user {user} --n {n}")


COMMANDS = {"interview": interview, "history": history, "app": run_app, "practice": practice, "plan": plan_for_job}
