"""Anchored grading: which use of graded answers to the same question moves the grade, measured on the same rows.

Datasets: DL calib and held-out (authored anchors, interviewer/resources/knowledge/anchors), the SemEval-2013 training split (development:
anchors are the other graded answers of the same question) and Mohler (evaluation only: anchors are the other graded
answers of the same question, leave-one-out; nothing is fitted or chosen on it).

    python experiments/anchor_levers.py zero --dataset semeval   # the zero-anchor grader on a dataset (cached)
    python experiments/anchor_levers.py table                    # every lever on every dataset
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GRADERDATA = ROOT.parent / "shared" / "graderdata"
WORK = Path("/work/study")
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


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["zero", "lever", "grid"])
    ap.add_argument("--dataset", default="semeval")
    args = ap.parse_args(argv)
    if args.step == "zero":
        zero(args.dataset)
    if args.step == "lever":
        lever_features(args.dataset)
    if args.step == "grid":
        names = args.dataset.split(",")
        rows = grid(names)
        rows.sort(key=lambda r: -np.mean([m["r"] for m in r[1].values()]))
        for p, m in rows[:25]:
            print(p.model_dump(), " ".join(f"{d}: r {v['r']:.3f} rmse {v['rmse']:.3f} auc {v['auc']:.3f}"
                                           for d, v in m.items()))
    return 0



# --- embedding-only levers ------------------------------------------------------------------------------------------

def vectors(dataset: str, texts: list[str]) -> np.ndarray:
    from interviewer.bank.embeddings import get_embedder

    path = WORK / f"vecs-{dataset}.npy"
    if path.is_file():
        v = np.load(path)
        if len(v) == len(texts):
            return v
    v = get_embedder().embed(texts)
    np.save(path, v)
    return v


def records(dataset: str) -> list[dict]:
    from interviewer.grading.cache import JsonlCache
    from interviewer.evals.runner import CachedGrader  # noqa: F401  (same keys as zero())

    return zero(dataset)


# --- the anchored score, as arithmetic on zero-anchor grades (the product's own functions) --------------------------

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
