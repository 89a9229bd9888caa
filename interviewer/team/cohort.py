"""The instructors' view of a cohort: per candidate and concept, the latest score, how many answers it rests on,
and the trend (the mean of the latest answers minus the mean of the earliest ones), as rows a table or a CSV shows.

A trend needs answers at two times: with fewer than `MIN_FOR_TREND` graded answers on a concept it is left empty
rather than read from one noisy grade.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel

from interviewer.store.grades import Grades

MIN_FOR_TREND = 2
TREND_WINDOW = 3  # answers averaged at each end of a candidate's history on a concept


class CohortRow(BaseModel):
    candidate: str
    concept: str
    answers: int
    latest: float
    mean_recent: float
    trend: float | None  # + improving, - slipping; None with too few answers
    last_at: datetime


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 2)


def cohort(db: Grades) -> list[CohortRow]:
    """One row per (candidate, concept) that has a graded answer; weakest recent mean first within a candidate."""
    history: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    for user, at, concepts, score in db.graded_answers():  # oldest first
        for concept in concepts:
            history[(user, concept)].append((at, float(score)))
    rows = []
    for (user, concept), graded in history.items():
        scores = [s for _, s in graded]
        window = min(TREND_WINDOW, len(scores) // 2) if len(scores) >= MIN_FOR_TREND else 0
        trend = round(_mean(scores[-window:]) - _mean(scores[:window]), 2) if window else None
        rows.append(CohortRow(candidate=user, concept=concept, answers=len(scores), latest=round(scores[-1], 2),
                              mean_recent=_mean(scores[-TREND_WINDOW:]), trend=trend, last_at=graded[-1][0]))
    return sorted(rows, key=lambda r: (r.candidate, r.mean_recent, r.concept))


FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell that starts so


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def to_csv(rows: list[CohortRow]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CohortRow.model_fields))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row.model_dump(), "candidate": _cell(row.candidate), "concept": _cell(row.concept),
                         "last_at": row.last_at.isoformat(timespec="seconds"),
                         "trend": "" if row.trend is None else row.trend})
    return out.getvalue()
