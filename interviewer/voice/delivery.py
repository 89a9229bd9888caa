"""How an answer was spoken: speaking time, words per minute, filler words. Feedback on delivery only; it never
changes the content grade.

Whisper leaves most disfluencies out unless its prompt contains some (`stt.FILLER_PROMPT`), so counts are a floor.
"like" is counted only where it cannot be the comparison ("like a CNN" is content, ", like, " is a filler).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

FILLERS = ("um", "uh", "erm", "hmm", "you know", "i mean", "sort of", "kind of", "basically")
# Hesitation sounds come out stretched ("Umm", "Uhh", "Hmmm": Whisper spells them so, and the filler prompt does):
# each is matched in any length and counted under its short spelling.
_STRETCHED = {"um": r"u+m+", "uh": r"u+h+", "erm": r"e+r+m+", "hmm": r"h+m{2,}"}
# "like" as a filler: set off by commas, or before a pause word, not "like a/an/the/this ..." (a comparison).
_LIKE_FILLER = re.compile(r"(?:^|,)\s*like\s*(?:,|$)|\blike,", re.I)
_WORD = re.compile(r"[\w'-]+")
PACE_RANGE_WPM = (110, 170)  # a comfortable interview pace; outside it the report says so


class Delivery(BaseModel):
    spoken_s: float = Field(ge=0, description="length of the recording")
    words: int = Field(ge=0)
    wpm: float | None = Field(default=None, description="words per minute; None for a recording under a second")
    fillers: dict[str, int] = Field(default_factory=dict)

    @property
    def filler_total(self) -> int:
        return sum(self.fillers.values())

    def note(self) -> str:
        pace = f"{self.wpm:.0f} words/min" if self.wpm is not None else "too short to time"
        fillers = ", ".join(f'"{w}" x{n}' for w, n in sorted(self.fillers.items(), key=lambda x: -x[1]))
        return f"Spoken {self.spoken_s:.0f} s, {pace}" + (f"; fillers: {fillers}" if fillers else "; no fillers")


def count_fillers(text: str) -> dict[str, int]:
    low = f" {text.lower()} "
    counts = {}
    for filler in FILLERS:
        pattern = _STRETCHED.get(filler, re.escape(filler))
        n = len(re.findall(rf"(?<![\w'-]){pattern}(?![\w'-])", low))
        if n:
            counts[filler] = n
    if n := len(_LIKE_FILLER.findall(low)):
        counts["like"] = n
    return counts


def measure(text: str, spoken_s: float) -> Delivery:
    words = len(_WORD.findall(text))
    wpm = round(words / spoken_s * 60, 1) if spoken_s >= 1.0 else None
    return Delivery(spoken_s=round(spoken_s, 2), words=words, wpm=wpm, fillers=count_fillers(text))


class DeliverySummary(BaseModel):
    """Over an interview's spoken answers."""

    answers: int
    spoken_s: float
    wpm: float | None
    fillers: dict[str, int]  # most used first
    fillers_per_min: float | None
    pace: str | None  # slow, comfortable or fast against PACE_RANGE_WPM

    def lines(self) -> list[str]:
        out = [f"{self.answers} spoken answer(s), {self.spoken_s:.0f} s in all"]
        if self.wpm is not None:
            low, high = PACE_RANGE_WPM
            out.append(f"Pace: {self.wpm:.0f} words/min ({self.pace}; {low}-{high} is easy to follow)")
        if self.fillers:
            top = ", ".join(f'"{w}" x{n}' for w, n in list(self.fillers.items())[:5])
            out.append(f"Filler words: {top} ({self.fillers_per_min:.1f} per minute)")
        else:
            out.append("Filler words: none heard")
        return out


def summary(deliveries: list[Delivery]) -> DeliverySummary | None:
    if not deliveries:
        return None
    spoken = sum(d.spoken_s for d in deliveries)
    words = sum(d.words for d in deliveries)
    fillers: dict[str, int] = {}
    for d in deliveries:
        for w, n in d.fillers.items():
            fillers[w] = fillers.get(w, 0) + n
    timed = spoken >= 1.0
    wpm = round(words / spoken * 60, 1) if timed else None
    pace = None if wpm is None else ("slow" if wpm < PACE_RANGE_WPM[0] else
                                     "fast" if wpm > PACE_RANGE_WPM[1] else "comfortable")
    return DeliverySummary(answers=len(deliveries), spoken_s=round(spoken, 1), wpm=wpm,
                           fillers=dict(sorted(fillers.items(), key=lambda x: -x[1])),
                           fillers_per_min=round(sum(fillers.values()) / spoken * 60, 1) if timed else None, pace=pace)
