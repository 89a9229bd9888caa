"""Rows to grade: our labelled DL set (with the bank), the Mohler "Texas" set, or any CSV/JSONL a user brings."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from interviewer.settings import evals_dir

DL_DIR = evals_dir() / "datasets" / "dl"
MOHLER_BAD_ANSWER = "#NAME?"  # a spreadsheet artefact in 9 rows of the edited CSV


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file and the row."""


class Row(BaseModel):
    question_id: str
    question: str
    reference: str
    key_points: list[str] | None = None
    answer: str
    score: float = Field(description="the human score on the dataset's own scale")
    max_score: float = 5.0
    group: str = Field(description="rows of one group (question) never straddle a CV fold")
    split: str = "heldout"
    kind: str = Field(default="", description="the answer's kind in our DL set: excellent, partial, injection...")
    rubric: str = Field(default="technical", description="the grader's rubric: technical, or scenario questions")

    @property
    def score5(self) -> float:
        """The human score on the grader's 0-5 scale."""
        return self.score * 5.0 / self.max_score if self.max_score != 5.0 else self.score


# --- loaders --------------------------------------------------------------------------------------------------------

def load_dl(directory: Path = DL_DIR, bank=None) -> list[Row]:
    """evals/datasets/dl/*.yaml; the question, reference and key points come from the bank by id."""
    from interviewer.bank.bank import load_bank
    from interviewer.settings import get_settings

    directory = Path(directory)
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise DatasetError(f"{directory}: no labelled files (*.yaml)")
    by_id = (bank or load_bank(get_settings().knowledge_dir)).by_id()
    rows: list[Row] = []
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for i, item in enumerate(data.get("items") or [], start=1):
            qid = item.get("question_id")
            if qid not in by_id:
                raise DatasetError(f"{path}: item #{i}: question_id {qid!r} is not in the bank")
            q = by_id[qid]
            split = item.get("split", "heldout")
            if split not in ("calib", "heldout"):
                raise DatasetError(f"{path}: item #{i} ({qid}): split must be calib or heldout, not {split!r}")
            for j, ans in enumerate(item.get("answers") or [], start=1):
                try:
                    rows.append(Row(question_id=qid, question=q.question, reference=q.reference_answer,
                                    key_points=list(q.key_points), answer=str(ans.get("text") or ""),
                                    score=float(ans["score"]), group=qid, split=split,
                                    kind=str(ans.get("kind", "")),
                                    rubric="scenario" if q.tier == "scenario" else "technical"))
                except (KeyError, TypeError, ValueError) as e:
                    raise DatasetError(f"{path}: item #{i} ({qid}) answer #{j}: {e}") from None
    return rows


def load_mohler(path: Path) -> list[Row]:
    """The edited Mohler CSV: truth is score_avg (0-5); the `#NAME?` rows are dropped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (pass the Mohler CSV with --path)")
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"id", "question", "desired_answer", "student_answer", "score_avg"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: not the Mohler format, missing columns {sorted(missing)}")
        for n, r in enumerate(reader, start=2):
            answer = r["student_answer"] or ""
            if answer.strip() == MOHLER_BAD_ANSWER:
                continue
            try:
                score = float(r["score_avg"])
            except ValueError:
                raise DatasetError(f"{path}: line {n}: score_avg {r['score_avg']!r} is not a number") from None
            qid = f"mohler-{r['id'].strip()}"
            rows.append(Row(question_id=qid, question=r["question"].strip(), reference=r["desired_answer"].strip(),
                            answer=answer.strip(), score=score, group=qid, split="heldout"))
    return rows


def _file_records(path: Path) -> list[dict]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        out = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DatasetError(f"{path}: line {n}: not JSON: {e}") from None
        return out
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_file(path: Path) -> list[Row]:
    """A user's CSV or JSONL with question, reference, answer, score, max_score [, question_id, split, kind]."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    rows: list[Row] = []
    ids: dict[str, str] = {}
    for n, rec in enumerate(_file_records(path), start=1):
        # An empty answer is a legitimate row (it should score 0); a missing column is not.
        missing = [c for c in ("question", "reference", "score", "max_score") if rec.get(c) in (None, "")]
        missing += ["answer"] if "answer" not in rec else []
        if missing:
            raise DatasetError(f"{path}: record {n}: missing {', '.join(missing)}")
        try:
            score, max_score = float(rec["score"]), float(rec["max_score"])
        except (TypeError, ValueError):
            raise DatasetError(f"{path}: record {n}: score and max_score must be numbers") from None
        if max_score <= 0 or not 0 <= score <= max_score:
            raise DatasetError(f"{path}: record {n}: need 0 <= score <= max_score and max_score > 0")
        question = str(rec["question"]).strip()
        # Without an id, rows that share a question text are one question (one CV group).
        qid = str(rec.get("question_id") or "").strip() or ids.setdefault(question, f"q{len(ids) + 1}")
        kp = rec.get("key_points")
        if isinstance(kp, str):
            kp = [p.strip() for p in kp.split("|") if p.strip()] or None
        rows.append(Row(question_id=qid, question=question, reference=str(rec["reference"]).strip(),
                        key_points=kp or None, answer=str(rec.get("answer") or "").strip(), score=score,
                        max_score=max_score, group=qid, split=str(rec.get("split") or "heldout"),
                        kind=str(rec.get("kind") or "")))
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return rows


def load_dataset(name: str, path: Path | None = None) -> list[Row]:
    if name == "dl":
        return load_dl(Path(path) if path else DL_DIR)
    if path is None:
        raise DatasetError(f"dataset {name!r} needs --path")
    if name == "mohler":
        return load_mohler(path)
    if name == "file":
        return load_file(path)
    raise DatasetError(f"unknown dataset {name!r}: choose dl, mohler or file")


# --- selection ------------------------------------------------------------------------------------------------------

def select(rows: list[Row], *, split: str = "all", limit: int | None = None, sample: str = "stratified",
           seed: int = 0) -> list[Row]:
    """Filter by split, then take `limit` rows: random, or stratified by rounded human score (spread over questions)."""
    if split != "all":
        rows = [r for r in rows if r.split == split]
    if not limit or limit >= len(rows):
        return list(rows)
    rng = random.Random(seed)
    position = {id(r): i for i, r in enumerate(rows)}
    if sample == "random":
        return _in_dataset_order(rng.sample(rows, limit), position)
    if sample != "stratified":
        raise DatasetError(f"unknown sampling {sample!r}: choose stratified or random")
    strata: dict[int, list[Row]] = defaultdict(list)
    for r in rows:
        strata[int(r.score5 + 0.5)].append(r)
    # Largest-remainder allocation proportional to stratum size, so the score distribution is kept.
    quotas = {k: limit * len(v) / len(rows) for k, v in strata.items()}
    take = {k: int(q) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: (-(quotas[k] - take[k]), k))[:limit - sum(take.values())]:
        take[k] += 1
    chosen: list[Row] = []
    for k in sorted(strata):
        chosen.extend(_spread(strata[k], take[k], rng))
    return _in_dataset_order(chosen, position)


def _in_dataset_order(chosen: list[Row], position: dict[int, int]) -> list[Row]:
    """Answers to one question stay together, so llama.cpp reuses the judge prompt's question prefix across them."""
    return sorted(chosen, key=lambda r: position[id(r)])


def _spread(rows: list[Row], n: int, rng: random.Random) -> list[Row]:
    """n rows taken round-robin over questions (shuffled), so one question does not fill a stratum."""
    by_group: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_group[r.group].append(r)
    groups = list(by_group.values())
    rng.shuffle(groups)
    for g in groups:
        rng.shuffle(g)
    out: list[Row] = []
    while len(out) < n:
        for g in groups:
            if g and len(out) < n:
                out.append(g.pop())
    return out
