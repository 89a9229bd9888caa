"""`interviewer doctor`: one line per part, pass / fail / skip, and what is in use (backend, structured output mode,
logprobs, store, database, calibration, optional voice models)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import typer
from pydantic import BaseModel

from interviewer.llm.registry import BACKEND_HELP

# A known answer the grader must judge with the model, not by embeddings alone.
CHECK_QUESTION = "guide-22"
CHECK_ANSWER = ("Dropout randomly zeroes activations during training so units cannot co-adapt; "
                "it is switched off at inference.")


class Check(BaseModel):
    name: str
    status: str  # pass | fail | skip
    detail: str


def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(name=name, status="pass", detail=fn())
    except _Skip as e:
        return Check(name=name, status="skip", detail=str(e))
    except Exception as e:  # a doctor reports, it does not crash
        return Check(name=name, status="fail", detail=f"{type(e).__name__}: {e}")


class _Skip(Exception):
    pass


def checks(backend: str | None = None, reprobe: bool = False) -> list[Check]:
    from interviewer.settings import get_settings

    settings = get_settings()
    name = backend or settings.resolved_backend()
    out: list[Check] = []
    state: dict = {}

    def llm() -> str:
        from interviewer import services
        from interviewer.llm.registry import backend_spec
        from interviewer.llm.probe import PROBE_FILE

        if reprobe and backend_spec(name).probed:
            (settings.data_dir / PROBE_FILE).unlink(missing_ok=True)
        state["llm"] = services.make_llm(settings, name)
        return f"{name}: model {state['llm'].model}"

    out.append(_run("backend", llm))

    def capabilities() -> str:
        if "llm" not in state:
            raise _Skip("no backend")
        return state["llm"].capabilities.describe()

    out.append(_run("structured output", capabilities))

    def store() -> str:
        from interviewer.bank.store import ensure_ingested, get_store

        s = get_store()
        ensure_ingested(s)
        hits = s.search("what does dropout do", k=1)
        where = f"server {settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.chroma_dir)
        return f"Chroma ({where}): {s.count()} chunks; 'what does dropout do' -> {hits[0].question_id}"

    out.append(_run("store", store))

    def database() -> str:
        from interviewer.store import SessionDB

        db = SessionDB(settings.database)
        return f"{db.describe()} (schema {db.schema()[-1]}): {len(db.list_sessions())} sessions"

    out.append(_run("database", database))

    def calibration() -> str:
        from interviewer.grading.score import load_calibration

        cal = load_calibration(settings.calibration, settings.data_dir)
        return f"{cal.name} (fitted {cal.fitted_on.get('date', '?')} on {cal.fitted_on.get('dataset', '?')})"

    out.append(_run("calibration", calibration))

    def grade() -> str:
        if "llm" not in state:
            raise _Skip("no backend")
        from interviewer.bank.bank import load_bank
        from interviewer import services

        q = load_bank(settings.knowledge_dir).get(CHECK_QUESTION)
        g = services.build_grader(settings, state["llm"]).score(q, CHECK_ANSWER)
        if g.evidence_only:
            raise RuntimeError("evidence-only grade: " + "; ".join(g.notes))
        return f"{CHECK_QUESTION}: {g.score:.1f}/5, judgement by {g.judgement}, {g.latency_s.get('score', 0):.1f} s"

    out.append(_run("grading", grade))

    def voice() -> str:
        from interviewer.voice import stt, tts

        if reason := stt.missing(settings.voice_model):
            raise _Skip(reason)
        speech = "Piper voice installed" if tts.piper_missing() is None else "browser voice only"
        where = stt.model_dir(settings.voice_model, settings.models_dir)
        return f"speech-to-text whisper-{settings.voice_model} at {where} (sha256 ok); {speech}"

    out.append(_run("voice", voice))
    return out


def doctor(backend: str | None = typer.Option(None, help=BACKEND_HELP),
           reprobe: bool = typer.Option(False, "--reprobe", help="probe a compatible server again"),
           as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Check every part and say what is in use; exit code 1 when a part fails."""
    results = checks(backend, reprobe)
    if as_json:
        sys.stdout.write(json.dumps([c.model_dump() for c in results], indent=2) + "\n")
    else:
        from rich.console import Console

        console = Console()
        mark = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "skip": "[dim]skip[/]"}
        for c in results:
            console.print(f"{mark[c.status]}  {c.name:<18} {c.detail}", highlight=False)
    if any(c.status == "fail" for c in results):
        raise typer.Exit(1)


COMMANDS = {"doctor": doctor}
