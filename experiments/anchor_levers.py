"""Anchored grading: which use of graded answers to the same question moves the grade, measured on the same rows.

Datasets: DL calib and held-out (the bank's authored anchors, interviewer/resources/knowledge/anchors), the
SemEval-2013 training split (development, other domains: every 2nd question, 12 answers each, stratified by label;
anchors are the other graded answers of the same question) and Mohler (evaluation only: anchors are the other graded
answers of the same question, leave-one-out; nothing is fitted or chosen on it).

Every lever is arithmetic on the zero-anchor grader's cached grades (with the product's formula, `check` compares),
except the judge-prompt lever, which asks the model again. Model time on this 2-core machine, one llama thread:

    python experiments/anchor_levers.py zero --dataset calib      # and heldout, mohler (judgements replay), semeval
                                                                  # (~25 min), anchors-dl (~40 min)
    python experiments/anchor_levers.py unflagged                 # the screen's off-topic answers, judged anyway
    python experiments/anchor_levers.py lever --dataset calib      # the judge-prompt lever (~35 min; and heldout)
    python experiments/anchor_levers.py grid --dataset calib,semeval   # the parameter grid on the development sets
    python experiments/anchor_levers.py check                     # the arithmetic here is the product's
    python experiments/anchor_levers.py table                     # every lever on every dataset, as markdown

Caches (grades, judgements, vectors: numbers only) go to $ANCHOR_LEVERS_CACHE (default experiments/.cache).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GRADERDATA = ROOT.parent / "shared" / "graderdata"
WORK = Path(os.environ.get("ANCHOR_LEVERS_CACHE", ROOT / "experiments" / ".cache"))
SEMEVAL = GRADERDATA / "semeval2013-train" / "semeval2013-train.jsonl"
MOHLER = GRADERDATA / "mohler" / "mohler_dataset_edited.csv"
SEMEVAL_PER_QUESTION = 12  # answers per SemEval question graded by the model, stratified by label
SEMEVAL_QUESTION_STEP = 2  # every second question (sorted by id): 91 questions, 1,092 answers, ~1 h of model time


def semeval_subset(path: Path = SEMEVAL, per_question: int = SEMEVAL_PER_QUESTION, seed: int = 0) -> Path:
    """A file of up to `per_question` answers per question, stratified by label, written once."""
    out = WORK / f"semeval-dev-{per_question}-every{SEMEVAL_QUESTION_STEP}.jsonl"
    if out.is_file():
        return out
    by_q = defaultdict(list)
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        by_q[rec["question_id"]].append(rec)
    rng = random.Random(seed)
    keep = []
    for qid in sorted(by_q)[::SEMEVAL_QUESTION_STEP]:
        recs = by_q[qid]
        by_label = defaultdict(list)
        for r in recs:
            by_label[r["label"]].append(r)
        for v in by_label.values():
            rng.shuffle(v)
        chosen = []
        while len(chosen) < min(per_question, len(recs)):
            for label in sorted(by_label):
                if by_label[label] and len(chosen) < per_question:
                    chosen.append(by_label[label].pop())
        keep += chosen
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps({k: r[k] for k in ("question_id", "question", "reference", "answer", "score",
                                                           "max_score", "label")}) + "\n" for r in keep))
    return out


def load(dataset: str):
    from interviewer.evals.datasets import load_dl, load_file, load_mohler

    if dataset == "mohler":
        return load_mohler(MOHLER)
    if dataset == "semeval":
        return load_file(semeval_subset())
    if dataset in ("calib", "heldout"):
        return [r for r in load_dl() if r.split == dataset]
    if dataset == "anchors":
        return anchor_rows()
    if dataset == "anchors-dl":  # the labelled questions' anchors only
        from interviewer.evals.datasets import load_dl

        labelled = {r.question_id for r in load_dl()}
        return [r for r in anchor_rows() if r.question_id in labelled]
    raise SystemExit(f"unknown dataset {dataset}")


def anchor_rows():
    """Every authored anchor (the references included) as a row: its score is the anchor's."""
    from interviewer.settings import get_settings
    from interviewer.evals.datasets import Row
    from interviewer.bank.anchors import load_anchors
    from interviewer.bank.bank import load_bank

    knowledge = get_settings().knowledge_dir
    bank = load_bank(knowledge)
    by_id = bank.by_id()
    rows = []
    from interviewer.evals.datasets import load_dl

    labelled = list(dict.fromkeys(r.question_id for r in load_dl()))  # the labelled questions' anchors first
    authored = load_anchors(knowledge, bank)
    for qid in labelled + [q for q in authored if q not in labelled]:
        anchors = authored[qid]
        q = by_id[qid]
        rows += [Row(question_id=qid, question=q.question, reference=q.reference_answer, key_points=list(q.key_points),
                     answer=a.text, score=a.score, group=qid, split="anchor", kind=a.level,
                     rubric="scenario" if q.tier == "scenario" else "technical") for a in anchors]
    return rows


def zero(dataset: str) -> list[dict]:
    """The zero-anchor grader's records on every row (grade cache under WORK; judgements replay from the judge cache)."""
    from interviewer.evals.runner import CachedGrader, grade_rows, grader_and_llm
    from interviewer.grading.cache import JsonlCache

    rows = load(dataset)
    grader, llm, backend = grader_and_llm("local")
    if dataset.startswith("anchors"):
        grader.judge_cache = JsonlCache(WORK / "judge-local-anchors.jsonl")
    elif dataset == "semeval":  # a dataset the repository does not hold: its judgements stay out of the committed cache
        grader.judge_cache = JsonlCache(WORK / f"judge-local-{dataset}.jsonl")
    scorer = CachedGrader(grader, JsonlCache(WORK / f"grades-{dataset}.jsonl"), backend)
    records = grade_rows(scorer, rows)
    print(f"{dataset}: {len(rows)} rows, {scorer.calls} fresh", file=sys.stderr)
    (WORK / f"zero-{dataset}.json").write_text(json.dumps(records))
    return records


# --- the anchored score, as arithmetic on zero-anchor grades (the product's own formula) --------------------------

def _zero_records(dataset: str) -> list[dict]:
    path = WORK / f"zero-{dataset}.json"
    return json.loads(path.read_text()) if path.is_file() else zero(dataset)


def _vectors(dataset: str, texts: list[str]) -> np.ndarray:
    from interviewer.grading.screen import screen
    from interviewer.bank.embeddings import get_embedder

    path = WORK / f"svecs-{dataset}.npy"
    if path.is_file():
        v = np.load(path)
        if len(v) == len(texts):
            return v
    v = get_embedder().embed([screen(t, 4000).text or " " for t in texts])
    np.save(path, v)
    return v


class Table:
    """A dataset's rows with what the anchored score needs: human and zero-anchor scores, vectors, and each row's
    anchor pool as indices into `pool_*` arrays (the other rows of its question, or the bank's authored anchors)."""

    def __init__(self, dataset: str) -> None:

        self.dataset = dataset
        self.rows = load(dataset)
        recs = _zero_records(dataset)
        self.records = recs
        self.y = np.array([r.score5 for r in self.rows])
        self.g = np.array([rec["score"] if rec else np.nan for rec in recs])
        self.ok = np.array([_anchorable(rec) for rec in recs])
        self.v = _vectors(dataset, [r.answer for r in self.rows])
        self.q = np.array([r.question_id for r in self.rows])
        if dataset in ("calib", "heldout"):
            arows = load("anchors-dl")
            arecs = _zero_records("anchors-dl")
            keep = [i for i, r in enumerate(arows) if r.question_id in set(self.q)]
            self.pool_s = np.array([arows[i].score5 for i in keep])
            self.pool_g = np.array([arecs[i]["score"] for i in keep])
            self.pool_v = _vectors("anchors-dl", [r.answer for r in arows])[keep]
            self.pool_q = np.array([arows[i].question_id for i in keep])
            self.pool_level = np.array([arows[i].kind for i in keep])
            self.loo = False
        else:
            self.pool_s, self.pool_g, self.pool_v, self.pool_q = self.y, self.g, self.v, self.q
            self.pool_level = np.array(["graded"] * len(self.y))
            self.loo = True

    def pool(self, i: int, n: int | None = None, seed: int = 0) -> np.ndarray:
        idx = np.flatnonzero(self.pool_q == self.q[i])
        if self.loo:
            idx = idx[idx != i]
        if n is not None and len(idx) > n:
            idx = np.sort(np.random.default_rng([seed, i]).choice(idx, size=n, replace=False))
        return idx

    def anchored(self, params, n: int | None = None, seed: int = 0) -> np.ndarray:
        from interviewer.grading.anchored import nearest

        out = self.g.copy()
        for i in np.flatnonzero(self.ok):
            idx = self.pool(i, n, seed)
            if len(idx):
                out[i] = read_pool(self.g[i], self.v[i], self.pool_s[idx], self.pool_g[idx], self.pool_v[idx], params)
        return out


def _anchorable(rec: dict | None) -> bool:
    from interviewer.grading.screen import ZEROED_FLAGS

    return bool(rec) and not rec.get("evidence_only") and not (ZEROED_FLAGS & set(rec.get("flags", []))) \
        and "emb_gain" in rec.get("features", {})


def read_pool(g: float, v: np.ndarray, s: np.ndarray, gs: np.ndarray, vs: np.ndarray, params) -> float:
    """anchored_score's arithmetic on arrays (same formula; checked against it in `check`)."""
    sims = vs @ v
    order = np.argsort(-sims, kind="stable")[:params.k]
    near = sims[order]
    if near[0] >= params.same:
        return float(np.clip(s[order[0]] + params.slope * (g - gs[order[0]]), 0, 5))
    w = np.exp((near - near.max()) / params.temperature)
    w /= w.sum()
    read = float((w * (s[order] + params.slope * (g - gs[order]))).sum())
    n = len(order)
    return float(np.clip((params.prior * g + n * read) / (params.prior + n), 0, 5))


# --- judge-prompt levers: graded examples of this question, misconception claims, a holistic digit -----------------

EXAMPLE_WORDS = 60  # an example answer is cut to this many words in the prompt
EXAMPLES_SHOWN = 4


def _cut(text: str, words: int = EXAMPLE_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def _lever_prompt(name: str) -> str:
    return (ROOT / "experiments" / "prompts" / f"{name}.md").read_text()


def examples_for(pool: list[tuple[str, float, str]]) -> list[tuple[str, float, str]]:
    """Up to EXAMPLES_SHOWN graded answers spread over the scale: the best, the worst, and evenly between.
    pool: (text, score, label) with label e.g. 'a common misconception' or ''."""
    if len(pool) <= EXAMPLES_SHOWN:
        return sorted(pool, key=lambda p: -p[1])
    ranked = sorted(pool, key=lambda p: (-p[1], p[0]))
    picks = np.linspace(0, len(ranked) - 1, EXAMPLES_SHOWN).round().astype(int)
    return [ranked[i] for i in dict.fromkeys(picks)]


def lever_messages(kind: str, question: str, reference: str, key_points: list[str], answer: str,
                   examples: list[tuple[str, float, str]], claims: list[str]):
    from interviewer.grading.judge import judge_messages

    msgs = judge_messages(kind, question, reference, key_points, answer)
    system = msgs[0]["content"]
    marker = " Confident jargon with wrong content"
    system = system.replace(marker, "\n" + _lever_prompt("lever_anchored_system").strip() + marker, 1)
    lines = "\n".join(f'- graded {s:g}/5{" (" + label + ")" if label else ""}: "{_cut(t)}"' for t, s, label in examples)
    misc = ("COMMON MISCONCEPTIONS:\n" + "\n".join(f"m{i}. {c}" for i, c in enumerate(claims, 1))) if claims else ""
    block = _lever_prompt("lever_anchored_user").format(examples=lines, misconceptions=misc).strip() + "\n\n"
    user = msgs[1]["content"]
    at = user.rindex("<answer>")
    return [{"role": "system", "content": system}, {"role": "user", "content": user[:at] + block + user[at:]}]


def lever_judge(llm, msgs, kind: str, n_points: int, n_claims: int):
    """The shipped reply plus "m1".."mK" (y/n) and "h" (0-5); distributions at every choice point."""
    from pydantic import Field, create_model

    from interviewer.grading.choices import Slot, distributions, one_hot
    from interviewer.grading.judge import DIGITS, TOP_LOGPROBS, Letter, Level, _lit, asked_criteria, verdict_letters

    fields = {f"k{i}": (Letter, Field(alias=str(i))) for i in range(1, n_points + 1)}
    fields.update({f"m{i}": (str, Field(pattern="^[yn]$")) for i in range(1, n_claims + 1)})
    codes = [c["code"] for c in asked_criteria(kind)] + ["h"]
    fields.update({c: (Level, Field(...)) for c in codes})
    schema = create_model(f"Lever_{n_points}_{n_claims}", **fields)
    q = _lit('"')
    parts = [f"{_lit(chr(34) + str(i) + chr(34) + ':' + chr(34))} [{verdict_letters()}] {q}" for i in range(1, n_points + 1)]
    parts += [f"{_lit(chr(34) + 'm' + str(i) + chr(34) + ':' + chr(34))} [yn] {q}" for i in range(1, n_claims + 1)]
    parts += [f"{_lit(chr(34) + c + chr(34) + ':')} [0-5]" for c in codes]
    grammar = 'root ::= "{" ' + ' "," '.join(parts) + ' "}"'
    value, reply = llm.structured(msgs, schema, max_tokens=40 + 6 * (n_points + n_claims), grammar=grammar,
                                  top_logprobs=TOP_LOGPROBS, task="grade")
    text = reply.text
    slots = {}
    for key, allowed in ([(str(i), verdict_letters()) for i in range(1, n_points + 1)]
                         + [(f"m{i}", "yn") for i in range(1, n_claims + 1)] + [(c, DIGITS) for c in codes]):
        import re
        m = re.search(r'"' + key + r'"\s*:\s*"?', text)
        slots[key] = Slot(offset=m.end(), allowed=allowed)
    found, _ = distributions(text, reply.tokens, slots)
    data = value.model_dump(by_alias=True)
    out = {k: (d if d and any(d.values()) else one_hot(str(data.get(k, data.get(f"k{k}"))), slots[k].allowed))
           for k, d in found.items()}
    return out


def lever_pool(dataset: str, rows, i: int, authored: dict) -> tuple[list[tuple[str, float, str]], list[str]]:
    """Row i's graded examples and misconception claims: the bank's authored anchors (DL; an anchor row never sees
    itself) or the other graded answers of its question (leave-one-out)."""
    row = rows[i]
    if dataset in ("calib", "heldout", "anchors-dl"):
        anchors = [a for a in authored[row.question_id] if a.text != row.answer]
        pool = [(a.text, a.score, "a common misconception" if a.level == "misconception" else "") for a in anchors]
        return examples_for(pool), [a.claim for a in anchors if a.level == "misconception"]
    pool = [(r.answer, round(r.score5, 2), "") for j, r in enumerate(rows)
            if r.question_id == row.question_id and j != i and r.answer.strip()]
    return examples_for(pool), []


def lever_features(dataset: str) -> list[dict | None]:
    """The lever judge on every row: the shipped features from its verdicts, plus h (holistic, expected 0-5 / 5) and
    misc (the largest probability that the answer makes one of the question's misconception claims)."""
    from interviewer.settings import get_settings
    from interviewer.grading import evidence as ev
    from interviewer.grading.cache import JsonlCache, text_key
    from interviewer.grading.choices import expected
    from interviewer.grading.grader import _contradicted, _credit, authored_anchors
    from interviewer.grading.keypoints import derive
    from interviewer.grading.score import grounded_features, judge_features
    from interviewer.grading.screen import screen
    from interviewer.llm.base import LLMError
    from interviewer.llm.registry import make_llm

    settings = get_settings()
    rows = load(dataset)
    llm = make_llm(settings, "local")
    cache = JsonlCache(WORK / f"lever-judge-{dataset}.jsonl")
    authored = authored_anchors(settings) if dataset in ("calib", "heldout", "anchors-dl") else {}
    out: list[dict | None] = []
    from tqdm import tqdm
    for i, row in enumerate(tqdm(rows, desc=f"lever {dataset}", file=sys.stderr)):
        s = screen(row.answer, settings.max_answer_chars)
        points = row.key_points or derive(llm, row.question, row.reference, settings.data_dir).points
        evidence = ev.gather(row.question, row.reference, points, s.text) if not s.is_void else None
        if evidence is None or evidence.off_topic:
            out.append(None)
            continue
        examples, claims = lever_pool(dataset, rows, i, authored)
        msgs = lever_messages(row.rubric, row.question, row.reference, points, s.text, examples, claims)
        key = text_key("lever-v1", llm.cache_id, json.dumps(msgs, sort_keys=True))
        hit = cache.get(key)
        if hit is None:
            try:
                dists = lever_judge(llm, msgs, row.rubric, len(points), len(claims))
            except LLMError:
                out.append(None)
                continue
            hit = cache.put(key, {"dists": dists})
        dists = hit["dists"]
        letters = [dists[str(k)] for k in range(1, len(points) + 1)]
        feats = judge_features(letters, {"c": dists["c"]}, _credit(), _contradicted())
        feats.update(grounded_features(letters, evidence.kp_sims, _credit()))
        feats.update(evidence.features)
        digits = {str(k): k / 5 for k in range(6)}
        feats["holistic"] = expected(dists["h"], digits)
        feats["misc"] = max((dists[f"m{j}"].get("y", 0.0) for j in range(1, len(claims) + 1)), default=0.0)
        out.append(feats)
    (WORK / f"lever-{dataset}.json").write_text(json.dumps(out))
    return out


def metrics_of(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from interviewer.evals import metrics

    ok = ~np.isnan(p)
    return {"r": metrics.pearson(y[ok], p[ok]), "rmse": metrics.rmse(y[ok], p[ok]), "auc": metrics.auc(y[ok], p[ok])}


def grid(datasets: list[str]) -> list[tuple]:
    """Every parameter set on the development datasets: (params, {dataset: metrics})."""
    from interviewer.grading.score import AnchoredParams

    tables = [Table(d) for d in datasets]
    out = []
    for k in (5, 10, 20):
        for t in (0.02, 0.05, 0.1, 0.2):
            for slope in (0.3, 0.5, 0.7, 0.85, 1.0):
                for prior in (0.0, 1.0, 2.0, 4.0):
                    p = AnchoredParams(k=k, temperature=t, slope=slope, prior=prior)
                    out.append((p, {tb.dataset: metrics_of(tb.y, tb.anchored(p)) for tb in tables}))
    return out


# --- the screen's off-topic answers, judged anyway (the lever "a graded answer nearby says it is on topic") ----------

def unflagged(datasets: tuple[str, ...] = ("calib", "heldout", "semeval", "mohler")) -> dict[str, dict]:
    """The zero-anchor grade of every answer the screen calls off-topic, with that check off."""
    from interviewer.evals.runner import grader_and_llm
    from interviewer.grading import evidence as ev
    from interviewer.grading.cache import JsonlCache

    ev.OFF_TOPIC_SIM = -1.0  # nothing is off-topic: every flagged answer is judged
    grader, _, _ = grader_and_llm("local")
    grader.judge_cache = JsonlCache(WORK / "judge-local-unflagged.jsonl")
    out = {}
    for d in datasets:
        for i, (r, rec) in enumerate(zip(load(d), _zero_records(d))):
            if rec and "off-topic" in rec["flags"]:
                g = grader.score_item(r.question, r.reference, r.answer, key_points=r.key_points,
                                      question_id=r.question_id, kind=r.rubric)
                out[f"{d}:{i}"] = {"score": g.score, "evidence_only": g.evidence_only}
    (WORK / "unflagged.json").write_text(json.dumps(out))
    return out


# --- the table --------------------------------------------------------------------------------------------------------

DATASETS = ("calib", "heldout", "semeval", "mohler")
KINDS = ("misconception", "padded-wrong", "terse")
ON_TOPIC_SIM = 0.3  # the off-topic lever: a credited graded answer at least this close un-flags an answer


def _neighbours_only(t: Table, k: int = 5) -> np.ndarray:
    out = np.full(len(t.y), np.nan)
    for i in range(len(t.y)):
        idx = t.pool(i)
        if len(idx):
            sims = t.pool_v[idx] @ t.v[i]
            o = np.argsort(-sims, kind="stable")[:k]
            w = np.maximum(sims[o], 1e-6)
            out[i] = float((w * t.pool_s[idx][o]).sum() / w.sum())
    return out


def _per_question_slope(t: Table, params, lam: float = 2.0) -> np.ndarray:
    """The slope fitted on each question's anchors (least squares of grade on the grader's score, shrunk to 1)."""
    out = t.g.copy()
    for i in np.flatnonzero(t.ok):
        idx = t.pool(i)
        if not len(idx):
            continue
        s, g = t.pool_s[idx], t.pool_g[idx]
        dg = g - g.mean()
        b = float(np.clip(((dg * (s - s.mean())).sum() + lam) / ((dg ** 2).sum() + lam), 0, 1))
        out[i] = read_pool(t.g[i], t.v[i], s, g, t.pool_v[idx], params.model_copy(update={"slope": b}))
    return out


def _prior_by_question(t: Table, params) -> np.ndarray:
    """The prior weighed against all of the question's anchors instead of the k read: (prior g + N read) / (prior + N)
    for a question with N graded answers."""
    out = t.g.copy()
    for i in np.flatnonzero(t.ok):
        idx = t.pool(i)
        if not len(idx):
            continue
        sims = t.pool_v[idx] @ t.v[i]
        if sims.max() >= params.same:
            out[i] = read_pool(t.g[i], t.v[i], t.pool_s[idx], t.pool_g[idx], t.pool_v[idx], params)
            continue
        read = read_pool(t.g[i], t.v[i], t.pool_s[idx], t.pool_g[idx], t.pool_v[idx],
                         params.model_copy(update={"prior": 0.0}))
        out[i] = (params.prior * t.g[i] + len(idx) * read) / (params.prior + len(idx))
    return out


def _with_unflagged(t: Table, params) -> np.ndarray:
    """The anchored score, where an answer the screen called off-topic is judged after all when a graded answer of
    its question that scored at least 1 is within ON_TOPIC_SIM (cosine)."""
    judged = json.loads((WORK / "unflagged.json").read_text())
    out = t.anchored(params)
    for i, rec in enumerate(t.records):
        key = f"{t.dataset}:{i}"
        if key not in judged or judged[key]["evidence_only"]:
            continue
        idx = t.pool(i)
        idx = idx[t.pool_s[idx] >= 1.0]
        if len(idx) and float((t.pool_v[idx] @ t.v[i]).max()) >= ON_TOPIC_SIM:
            full = t.pool(i)
            out[i] = read_pool(judged[key]["score"], t.v[i], t.pool_s[full], t.pool_g[full], t.pool_v[full], params)
    return out


def _fitted(tables: dict[str, Table], params) -> dict[str, np.ndarray]:
    """A scorer fitted on features (not text) of the development sets: the grader's score, the anchors' correction,
    the neighbours' mean grade and the nearest cosine, non-negative weights, least squares on DL calib + SemEval."""
    from scipy.optimize import nnls

    def feats(t: Table) -> np.ndarray:
        rows = []
        for i in range(len(t.y)):
            idx = t.pool(i) if t.ok[i] else np.array([], int)
            if not len(idx):
                rows.append([t.g[i], 0.0, t.g[i], 0.0])
                continue
            s, gs, sims = t.pool_s[idx], t.pool_g[idx], t.pool_v[idx] @ t.v[i]
            o = np.argsort(-sims, kind="stable")[:params.k]
            w = np.exp((sims[o] - sims[o].max()) / params.temperature)
            w /= w.sum()
            n = len(o)
            rows.append([t.g[i], float((w * (s[o] - gs[o])).sum()) * n / (n + params.prior),
                         float((w * s[o]).sum()), float(sims[o[0]])])
        return np.array(rows)

    X = {d: feats(t) for d, t in tables.items()}
    dev = ("calib", "semeval")
    A = np.vstack([X[d] for d in dev])
    y = np.concatenate([tables[d].y for d in dev])
    coef, _ = nnls(np.column_stack([A, np.ones(len(y)), -np.ones(len(y))]), y)
    return {d: np.where(t.ok, np.clip(X[d] @ coef[:4] + coef[4] - coef[5], 0, 5), t.g) for d, t in tables.items()}


def _judge_prompt_rows(tables: dict[str, Table]) -> dict[str, dict[str, np.ndarray]]:
    """The judge shown graded examples of this question and its misconception claims, with a holistic digit: the
    shipped formula's features from its verdicts, refitted on calib (question-grouped CV there), + each new signal."""
    from interviewer.grading.fit import cv_signed, fit_signed
    from interviewer.grading.score import SIGNS

    signs = {**SIGNS, "holistic": 1, "misc": -1}
    base = ("coverage", "correctness", "contradiction", "grounded_coverage", "grounded_root", "emb_gain")
    forms = {"judge shown graded examples (formula refitted)": base,
             "+ holistic 0-5 digit": base + ("holistic",),
             "+ P(answer makes a misconception claim)": base + ("misc",)}
    lever = {d: json.loads((WORK / f"lever-{d}.json").read_text()) for d in ("calib", "heldout")}
    out = {}
    for name, names in forms.items():
        ok = [i for i, f in enumerate(lever["calib"]) if f is not None]
        X = np.array([[lever["calib"][i][n] for n in names] for i in ok])
        t = tables["calib"]
        model = fit_signed(X, t.y[ok], names, signs)
        rows = {}
        for d in ("calib", "heldout"):
            rows[d] = np.array([0.0 if f is None else
                                float(np.clip(model.intercept + sum(model.weights[n] * f[n] for n in names), 0, 5))
                                for f in lever[d]])
        rows["calib"][ok] = cv_signed(X, t.y[ok], [t.q[i] for i in ok], names, signs)
        out[name] = rows
    return out


def table() -> str:
    from interviewer.settings import get_settings
    from interviewer.grading.score import load_calibration

    params = load_calibration("default", get_settings().data_dir).anchored
    tables = {d: Table(d) for d in DATASETS}
    rows: dict[str, dict[str, np.ndarray]] = {
        "zero-anchor grader (grader 2)": {d: t.g for d, t in tables.items()},
        "neighbours only (similarity-weighted mean grade of the 5 nearest)": {d: _neighbours_only(t)
                                                                              for d, t in tables.items()},
        "**anchored (shipped)**": {d: t.anchored(params) for d, t in tables.items()},
    }
    variants = {"slope 0 (the neighbours' grades, softmax weights, prior)": {"slope": 0.0},
                "slope 0.6 (the first cut)": {"slope": 0.6},
                "no prior (few anchors count fully)": {"prior": 0.0},
                "no same-answer rule": {"same": 1.01},
                "k 10": {"k": 10}}
    for name, change in variants.items():
        p = params.model_copy(update=change)
        rows[name] = {d: t.anchored(p) for d, t in tables.items()}
    for prior in (4.0, 8.0):
        p = params.model_copy(update={"prior": prior})
        rows[f"prior {prior:g} weighed against all of the question's anchors, not the k read"] = {
            d: _prior_by_question(t, p) for d, t in tables.items()}
    rows["per-question slope from the anchors (shrunk to 1)"] = {d: _per_question_slope(t, params)
                                                                for d, t in tables.items()}
    if (WORK / "unflagged.json").is_file():
        rows[f"off-topic answers judged when a credited anchor is within cosine {ON_TOPIC_SIM}"] = {
            d: _with_unflagged(t, params) for d, t in tables.items()}
    rows["scorer fitted on features of DL calib + SemEval"] = _fitted(tables, params)
    if all((WORK / f"lever-{d}.json").is_file() for d in ("calib", "heldout")):
        rows.update(_judge_prompt_rows(tables))
    kinds = np.array([r.kind for r in tables["heldout"].rows])
    head = ("| lever | DL calib r / RMSE | DL held-out r / RMSE | held-out misconception / padded-wrong (human 1.14 / "
            "0.56) | SemEval dev r / AUC | Mohler r / RMSE |")
    lines = [head, "|" + "---|" * 6]
    for name, preds in rows.items():
        cells = []
        for d in DATASETS:
            if d not in preds:
                cells.append("")
                continue
            m = metrics_of(tables[d].y, preds[d])
            cells.append(f"{m['r']:.3f} / {m['auc']:.3f}" if d == "semeval" else f"{m['r']:.3f} / {m['rmse']:.3f}")
            if d == "heldout":
                p = preds[d]
                cells.append(" / ".join(f"{p[kinds == k].mean():.2f}" for k in KINDS[:2]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    mohler = tables["mohler"]
    counts = " | ".join(f"{n}: {metrics_of(mohler.y, mohler.anchored(params, n=n))['r']:.3f}" for n in (1, 2, 4, 8))
    lines += ["", f"Mohler r with n anchors per answer (drawn at random, leave-one-out): 0: "
                  f"{metrics_of(mohler.y, mohler.g)['r']:.3f} | {counts} | all: "
                  f"{metrics_of(mohler.y, mohler.anchored(params))['r']:.3f}"]
    return "\n".join(lines)


def check(n: int = 200) -> int:
    """read_pool against the product's anchored_score on n Mohler rows: the same number, or exit 1."""
    from interviewer.bank.anchors import Anchor
    from interviewer.grading.anchored import anchored_score, nearest
    from interviewer.grading.score import load_calibration
    from interviewer.settings import get_settings

    params = load_calibration("default", get_settings().data_dir).anchored
    t = Table("mohler")
    worst = 0.0
    for i in np.flatnonzero(t.ok)[:n]:
        idx = t.pool(i)
        order, sims = nearest(t.v[i], t.pool_v[idx], params.k)
        anchors = [Anchor(question_id="q", text=str(j), score=float(t.pool_s[idx][j])) for j in order]
        product = anchored_score(float(t.g[i]), anchors, sims, list(t.pool_g[idx][order]), params).score
        worst = max(worst, abs(product - read_pool(t.g[i], t.v[i], t.pool_s[idx], t.pool_g[idx], t.pool_v[idx],
                                                   params)))
    print(f"largest difference over {n} rows: {worst:.2e}")
    return 0 if worst < 1e-6 else 1


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["zero", "unflagged", "lever", "grid", "check", "table"])
    ap.add_argument("--dataset", default="semeval")
    args = ap.parse_args(argv)
    if args.step == "zero":
        zero(args.dataset)
    elif args.step == "unflagged":
        unflagged()
    elif args.step == "lever":
        lever_features(args.dataset)
    elif args.step == "grid":
        ranked = sorted(grid(args.dataset.split(",")), key=lambda r: -np.mean([m["r"] for m in r[1].values()]))
        for p, m in ranked[:25]:
            print(p.model_dump(), " ".join(f"{d}: r {v['r']:.3f} rmse {v['rmse']:.3f} auc {v['auc']:.3f}"
                                           for d, v in m.items()))
    elif args.step == "check":
        return check()
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
