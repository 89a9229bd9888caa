"""`interviewer transcribe`: a recording to text with its delivery figures, for scripts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from interviewer.cli.output import console, fail
from interviewer.settings import get_settings


def transcribe_file(path: Path, question: str = ""):
    """A Transcription of an audio file, or a clear exit (missing extra, unreadable file, silence)."""
    from interviewer.voice import stt

    if not path.is_file():
        fail(f"no such file: {path}")
    settings = get_settings()
    try:
        return stt.for_settings(settings).transcribe(
            path, question=question)
    except stt.VoiceError as e:
        fail(f"{path}: {e}")


def transcribe(path: Path = typer.Argument(..., help="a WAV, MP3, WebM or OGG recording"),
               question: str = typer.Option("", help="the question answered: its jargon helps the transcription"),
               as_json: bool = typer.Option(False, "--json", help="text, duration, words per minute, model, seconds")
               ) -> None:
    """Transcribe a spoken answer on this machine, offline, with the configured speech model
    (INTERVIEWER_VOICE_MODEL: tiny.en unless set)."""
    heard = transcribe_file(path, question)
    if as_json:
        out = heard.model_dump(mode="json")
        out["wpm"] = heard.delivery.wpm  # at the top level for scripts; also under "delivery"
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(heard.text)
    console.print(f"[dim]{heard.delivery.note()} · {heard.model} in {heard.seconds:.2f} s[/]")


COMMANDS = {"transcribe": transcribe}
