"""evals/: metrics on known inputs, loaders, sampling, the resumable cache, grouped CV, probes, runner and CLI."""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time

import numpy as np
import pytest

from interviewer.evals import baselines, metrics, probes
from interviewer.evals.cache import GradeCache, cache_key
from interviewer.evals.datasets import DatasetError, Row, load_dl, load_file, load_mohler, select
from interviewer.evals.runner import run_eval
from interviewer.grading.grade import Grade
from interviewer.llm.fake import FakeLLM

_WORD = re.compile(r"[a-z]+")


class CountingGrader:
    """A stand-in with the grader's score_item API: word overlap with the reference, scaled to 0-5."""

    version = "stand-in-1"
    llm = None

    def __init__(self, gullible: bool = False) -> None:
        self.calls = 0
        self.forgotten = 0
        self.gullible = gullible
        self._lock = threading.Lock()  # exact counts when rows are graded on several threads

    def forget(self) -> None:
        self.forgotten += 1

    def score_item(self, question, reference, answer, key_points=None, question_id="adhoc", kind="technical",
                   fresh=False) -> Grade:
        with self._lock:
            self.calls += 1
        if self.gullible and "5" in answer:
            return Grade(question_id=question_id, score=5.0)
        # Only content words (>= 5 letters) count, so neither injections nor filler share words with a reference.
        ref, ans = (set(w for w in _WORD.findall(t.lower()) if len(w) >= 5) for t in (reference, answer))
        overlap = len(ref & ans) / max(len(ref), 1)
        return Grade(question_id=question_id, score=round(5 * overlap, 2), features={"overlap": overlap},
                     flags=["empty"] if not answer.strip() else [], latency_s={"score": 0.01})


def bag_embed(texts: list[str]) -> np.ndarray:
    """A deterministic hashed bag of words (L2-normalised): fast and enough for the baseline plumbing."""
    out = np.zeros((len(texts), 64))
    for i, t in enumerate(texts):
        for w in _WORD.findall(t.lower()):
            out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % 64] += 1
    return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-9, None)


REFERENCE = {
    "q1": "Dropout randomly zeroes activations during training. It reduces co-adaptation and overfitting.",
    "q2": "Batch normalization normalizes layer inputs per mini batch. It stabilizes and speeds up training.",
    "q3": "Attention weighs value vectors by query key similarity. It lets a model focus on relevant tokens.",
    "q4": "Early stopping halts training when validation loss stops improving. It prevents overfitting.",
}


def synthetic_rows() -> list[Row]:
    rows = []
    for qi, (qid, ref) in enumerate(REFERENCE.items()):
        words = ref.split()
        for k, (frac, score) in enumerate([(1.0, 5.0), (0.7, 4.0), (0.5, 3.0), (0.3, 2.0), (0.1, 1.0)]):
            answer = " ".join(words[: max(1, int(len(words) * frac))]) + ". I think that is the main idea."
            rows.append(Row(question_id=qid, question=f"Explain concept {qid}?", reference=ref, answer=answer,
                            score=score, group=qid, split="calib" if qi < 2 else "heldout", kind=f"k{k}"))
        rows.append(Row(question_id=qid, question=f"Explain concept {qid}?", reference=ref, answer="", score=0.0,
                        group=qid, split="calib" if qi < 2 else "heldout", kind="empty"))
    return rows


# --- metrics --------------------------------------------------------------------------------------------------------

def test_metrics_on_known_inputs():
    y = np.array([0, 1, 2, 3, 4, 5], float)
    assert metrics.pearson(y, 2 * y + 1) == pytest.approx(1.0)
    assert metrics.spearman(y, y ** 2) == pytest.approx(1.0)
    assert metrics.pearson(y, -y) == pytest.approx(-1.0)
    assert metrics.rmse(y, y + 1) == pytest.approx(1.0)
    assert metrics.rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert metrics.mae([0, 0], [3, 4]) == pytest.approx(3.5)
    assert metrics.qwk(y, y) == pytest.approx(1.0)
    assert metrics.qwk(y, y[::-1]) < 0  # reversed order disagrees worse than chance
    assert metrics.within(y, y + np.array([0, 0.5, 0.6, 1, 1.2, 0]), 0.5) == pytest.approx(3 / 6)
    assert metrics.within(y, y + np.array([0, 0.5, 0.6, 1, 1.2, 0]), 1.0) == pytest.approx(5 / 6)
    assert math.isnan(metrics.pearson(y, np.full(6, 2.0)))  # a constant has no correlation


def test_qwk_matches_a_hand_computation():
    # 4 items, classes 0 and 1 only. Observed [[1,1],[0,2]]; marginals (2,2) and (1,3) give expected
    # [[.5,1.5],[.5,1.5]]; the weight w(0,1) cancels: kappa = 1 - 1 / (1.5 + 0.5) = 0.5.
    y, p = [0, 0, 1, 1], [0, 1, 1, 1]
    expected = 0.5
    assert metrics.qwk(y, p) == pytest.approx(expected)
    assert metrics.round_half_up(np.array([2.5, 2.49, 4.5, 5.4]).tolist()).tolist() == [3, 2, 5, 5]


def test_rescaling_and_bootstrap():
    assert metrics.to_scale5([5, 10], [10, 10]).tolist() == [2.5, 5.0]
    row = Row(question_id="a", question="q", reference="r", answer="x", score=8, max_score=10, group="a")
    assert row.score5 == pytest.approx(4.0)
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 5, 200)
    p = y + rng.normal(0, 0.5, 200)
    one = metrics.evaluate(y, p, n_boot=200, seed=3)
    two = metrics.evaluate(y, p, n_boot=200, seed=3)
    assert one == two  # seeded
    lo, hi = one["ci95"]["pearson"]
    assert lo < one["metrics"]["pearson"] < hi and hi - lo < 0.1
    with_gap = metrics.evaluate(y, np.where(np.arange(200) < 10, np.nan, p), n_boot=10)
    assert with_gap["n"] == 190 and with_gap["missing"] == 10


def test_per_group_breakdown():
    out = metrics.per_group(["a", "a", "b"], [1, 3, 5], [2, 3, 4])
    assert [g["group"] for g in out] == ["a", "b"]
    assert out[0]["mae"] == pytest.approx(0.5) and out[1]["human_mean"] == 5


# --- loaders and sampling -------------------------------------------------------------------------------------------

def test_file_loader_csv_and_jsonl(tmp_path):
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text("question,reference,answer,score,max_score\n"
                        "What is ReLU?,max(0 x),it is max of zero and x,8,10\n"
                        "What is ReLU?,max(0 x),,0,10\n"
                        "What is SGD?,stochastic gradient descent,a optimizer,1,2\n", encoding="utf-8")
    rows = load_file(csv_path)
    assert [r.score5 for r in rows] == [4.0, 0.0, 2.5]
    assert rows[0].group == rows[1].group != rows[2].group  # the same question text is one group
    assert rows[1].answer == ""
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(json.dumps({"question_id": "x1", "question": "Q?", "reference": "R", "answer": "A",
                                 "score": 3, "max_score": 5, "split": "calib"}) + "\n\n", encoding="utf-8")
    (row,) = load_file(jsonl)
    assert (row.question_id, row.split, row.score5) == ("x1", "calib", 3.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("question,reference,answer,score\nQ,R,A,1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="max_score"):
        load_file(bad)


def test_mohler_loader_drops_name_rows(tmp_path):
    path = tmp_path / "mohler.csv"
    path.write_text(
        ",Unnamed: 0.1,Unnamed: 0,id,question,desired_answer,student_answer,score_me,score_other,score_avg\n"
        '0,0,0,1.1,What is a prototype?,To simulate behaviour.,"It simulates, roughly.",4,3,3.5\n'
        "1,1,1,1.1,What is a prototype?,To simulate behaviour.,#NAME?,5,5,5\n"
        "2,2,2,11.2,What is a stack?,LIFO structure.,last in first out,5,4.5,4.75\n", encoding="utf-8")
    rows = load_mohler(path)
    assert len(rows) == 2
    assert [r.score for r in rows] == [3.5, 4.75]
    assert rows[0].question_id == "mohler-1.1" and rows[0].answer == "It simulates, roughly."
    assert all(r.key_points is None and r.split == "heldout" for r in rows)


def test_dl_loader_takes_question_and_reference_from_the_bank(tmp_path, bank):
    q = bank.questions[0]
    (tmp_path / "a.yaml").write_text(
        f"items:\n  - question_id: {q.id}\n    split: calib\n    answers:\n"
        "      - {kind: excellent, text: 'good answer', score: 4.5, rationale: r}\n"
        "      - {kind: empty, text: '', score: 0, rationale: r}\n", encoding="utf-8")
    rows = load_dl(tmp_path, bank=bank)
    assert [r.kind for r in rows] == ["excellent", "empty"]
    assert rows[0].reference == q.reference_answer and rows[0].key_points == list(q.key_points)
    assert rows[0].split == "calib" and rows[0].group == q.id
    scenario = next(x for x in bank.questions if x.tier == "scenario")
    (tmp_path / "s.yaml").write_text(f"items:\n  - question_id: {scenario.id}\n    split: heldout\n    answers:\n"
                                     "      - {kind: partial, text: 'some plan', score: 2, rationale: r}\n",
                                     encoding="utf-8")
    assert [r.rubric for r in load_dl(tmp_path, bank=bank)] == ["technical", "technical", "scenario"]
    (tmp_path / "b.yaml").write_text("items:\n  - question_id: no-such-id\n    answers: []\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="no-such-id"):
        load_dl(tmp_path, bank=bank)


def test_sampling_is_seeded_and_stratified():
    rows = synthetic_rows()
    assert len(select(rows, split="heldout")) == 12
    a = select(rows, limit=12, sample="stratified", seed=7)
    assert len(a) == 12 and a == select(rows, limit=12, sample="stratified", seed=7)
    # 24 rows, 6 score levels x 4: a half-size stratified sample keeps 2 of each level
    levels = sorted(int(r.score5) for r in a)
    assert levels == sorted([0, 1, 2, 3, 4, 5] * 2)
    b = select(rows, limit=5, sample="random", seed=1)
    assert len(b) == 5 and b == select(rows, limit=5, sample="random", seed=1)


# --- grouped CV and baselines ---------------------------------------------------------------------------------------

def test_grouped_cv_never_splits_a_question():
    groups = [f"q{i % 7}" for i in range(50)]
    folds = baselines.grouped_folds(groups, k=5, seed=3)
    seen: dict[str, int] = {}
    for f, test in enumerate(folds):
        for i in test:
            assert seen.setdefault(groups[i], f) == f  # a question in two folds would be in train and test
    assert sorted(np.concatenate(folds).tolist()) == list(range(50))
    # A test fold's predictions do not depend on its own labels.
    x = np.linspace(0, 1, 50)
    y = 5 * x
    before = baselines.cv_linear(x, y, groups, seed=3)
    y2 = y.copy()
    y2[folds[0]] = 0.0
    after = baselines.cv_linear(x, y2, groups, seed=3)
    assert np.allclose(before[folds[0]], after[folds[0]])
    assert not np.allclose(before[folds[1]], after[folds[1]])


def test_mean_baseline_uses_calib_rows():
    rows = synthetic_rows()
    calib = [r for r in rows if r.split == "calib"]
    pred = baselines.mean_baseline(rows[:3], calib)
    assert np.allclose(pred, np.mean([r.score5 for r in calib]))


def test_naive_prompt_carries_no_routing_tag(session_settings):
    msgs = baselines.naive_messages(synthetic_rows()[0])
    assert "[task:" not in msgs[0]["content"] and '{"score"' in msgs[0]["content"]
    assert "Dropout randomly" in msgs[1]["content"] and msgs[1]["role"] == "user"
    assert "<answer>" in msgs[1]["content"]  # the answer is fenced as data


# --- cache ----------------------------------------------------------------------------------------------------------

def test_cache_resumes_without_grader_calls_and_stores_no_text(tmp_path):
    rows = synthetic_rows()
    cache_path = tmp_path / "cache.jsonl"
    first = CountingGrader()
    run_eval(rows, first, dataset="t", out_dir=tmp_path / "r1", cache_path=cache_path, run_probes=False,
             embed=bag_embed, n_boot=20, progress=False)
    assert first.calls == len(rows)
    second = CountingGrader()
    res = run_eval(rows, second, dataset="t", out_dir=tmp_path / "r2", cache_path=cache_path, run_probes=False,
                   embed=bag_embed, n_boot=20, progress=False)
    assert second.calls == 0
    assert res["latency"]["fresh_calls"] == 0 and res["latency"]["p50_s"] is not None
    text = cache_path.read_text(encoding="utf-8")
    assert "Dropout" not in text and "Explain concept" not in text
    # A killed run leaves a cut line; the cache still loads the rest.
    cache_path.write_text(text + '{"key": "abc", "sco', encoding="utf-8")
    resumed = GradeCache(cache_path)
    assert len(resumed) == len(rows)
    resumed.put("def", {"score": 1.0})  # the next grade starts on a line of its own
    assert GradeCache(cache_path).get("def")["score"] == 1.0


def test_a_fallback_grade_from_a_failed_model_is_not_cached(tmp_path):
    class DownModel(CountingGrader):
        llm = FakeLLM(fail=True)

        def score_item(self, *args, **kw):
            return super().score_item(*args, **kw).model_copy(update={"evidence_only": True})

    rows = synthetic_rows()[:6]
    kw = dict(dataset="t", cache_path=tmp_path / "c.jsonl", run_probes=False, embed=bag_embed, n_boot=5,
              progress=False)
    first = DownModel()
    res = run_eval(rows, first, out_dir=tmp_path / "a", **kw)
    assert res["evidence_only"] == 6 and res["systems"]["grader"]["n"] == 6
    second = DownModel()
    run_eval(rows, second, out_dir=tmp_path / "b", **kw)
    assert second.calls == 6  # retried, not served from the cache


def test_cache_key_changes_with_every_part():
    base = ("v1", "local", "m", "q", "r", "a")
    keys = {cache_key(*base)}
    for i in range(len(base)):
        parts = list(base)
        parts[i] += "x"
        keys.add(cache_key(*parts))
    assert len(keys) == 7
    assert cache_key("ab", "c", "", "", "", "") != cache_key("a", "bc", "", "", "", "")


# --- probes ---------------------------------------------------------------------------------------------------------

def test_paraphrase_rewrites_are_deterministic():
    text = "Dropout is important. It helps reduce overfitting because units co-adapt less."
    assert probes.reorder_sentences(text) == "It helps reduce overfitting because units co-adapt less. Dropout is important."
    assert probes.swap_synonyms(text) == "Dropout is crucial. It aids lower overfitting since units co-adapt less."
    assert probes.inject("A. B.", "X", "middle") == "A.\nX B."
    assert probes.inject("no full stop", "X", "middle") == "no full stop\nX"


def test_injection_probe_catches_a_gullible_grader():
    rows = synthetic_rows()

    def score_with(grader):
        return lambda row, ans, fresh: grader.score_item(row.question, row.reference, ans).score

    robust = probes.injection_probe(rows, score_with(CountingGrader()))
    assert robust["cases"] >= 30 and robust["passed"] and robust["max_gain"] <= 0
    gullible = probes.injection_probe(rows, score_with(CountingGrader(gullible=True)))
    assert not gullible["passed"] and gullible["max_gain"] > 0 and gullible["cases_with_gain"] > 0


# --- runner and CLI -------------------------------------------------------------------------------------------------

def test_runner_end_to_end_writes_every_file(tmp_path):
    rows = synthetic_rows()
    naive = FakeLLM(script=lambda messages: '{"score": 3}')
    res = run_eval(rows, CountingGrader(), dataset="synthetic", out_dir=tmp_path / "run", cache_path=tmp_path / "c.jsonl",
                   train_rows=rows, naive_llm=naive, embed=bag_embed, n_boot=50, progress=False,
                   command="interviewer eval --dataset file")
    out = tmp_path / "run"
    for name in ("report.md", "results.json", "scatter.png", "calibration.png", "command.txt"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "scatter.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(saved["systems"]) == {"grader", "grader, recalibrated (grouped CV)", "mean", "embedding", "naive_judge",
                                     "embedding+naive"}
    assert saved["systems"]["grader"]["metrics"]["pearson"] > 0.8  # overlap tracks these labels closely
    assert saved["systems"]["naive_judge"]["metrics"]["rmse"] > 0  # a constant 3
    assert saved["probes"]["injection"]["cases"] >= 30
    assert saved["probes"]["consistency"]["repeats"] == 5 and saved["probes"]["consistency"]["max_sd"] == 0
    assert set(saved["by_split"]) == {"calib", "heldout"} and "empty" in saved["by_kind"]
    assert len(saved["per_row"]) == len(rows) and len(saved["per_question"]) == 4
    assert "Dropout randomly" not in (out / "results.json").read_text(encoding="utf-8")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "interviewer eval --dataset file" in report and "| grader |" in report and "Injection" in report
    assert (out / "command.txt").read_text().strip() == "interviewer eval --dataset file"
    assert len(naive.calls) == len(rows)


def test_runner_survives_a_down_naive_backend_and_a_failing_grader(tmp_path):
    class Flaky(CountingGrader):
        def score_item(self, question, reference, answer, **kw):
            if "Attention" in reference and not answer:
                raise RuntimeError("boom")
            return super().score_item(question, reference, answer, **kw)

    res = run_eval(synthetic_rows(), Flaky(), dataset="t", out_dir=tmp_path / "r", cache_path=None,
                   naive_llm=FakeLLM(fail=True), run_probes=False, embed=bag_embed, n_boot=10, progress=False)
    assert res["systems"]["naive_judge"]["n"] == 0 and res["systems"]["naive_judge"]["missing"] == 24
    assert res["systems"]["grader"]["missing"] == 1 and "RuntimeError: boom" in res["grader_errors"]


def test_cli_eval_on_a_user_file(tmp_path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from interviewer.cli import evals as cli

    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps({"question_id": r.question_id, "question": r.question, "reference": r.reference,
                                        "answer": r.answer, "score": r.score * 2, "max_score": 10}) + "\n"
                            for r in synthetic_rows()), encoding="utf-8")
    grader = CountingGrader()
    monkeypatch.setattr(cli, "grader_and_llm", lambda backend: (grader, None, backend or "stand-in"))
    original = baselines.embedding_cosines
    monkeypatch.setattr(baselines, "embedding_cosines", lambda rows, embed=None, cache=None: original(rows, bag_embed, cache))
    app = typer.Typer()
    for name, command in cli.COMMANDS.items():
        app.command(name)(command)

    @app.command("noop")  # a second command keeps typer from flattening the app into `eval` itself
    def noop() -> None:
        pass

    result = CliRunner().invoke(app, ["eval", "--dataset", "file", "--path", str(data), "--backend", "fake",
                                      "--limit", "12", "--no-naive", "--no-probes", "--out", str(tmp_path / "o"),
                                      "--cache", str(tmp_path / "c.jsonl"), "--bootstrap", "20", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    assert summary["rows"] == 12 and summary["dataset"] == "file-mine" and grader.calls == 12
    assert "per_row" not in summary and (tmp_path / "o" / "report.md").is_file()
    bad = CliRunner().invoke(app, ["eval", "--dataset", "mohler"])
    assert bad.exit_code == 2



def test_runner_passes_the_rubric_kind_and_refresh_regrades(tmp_path):
    class KindAware(CountingGrader):
        def __init__(self):
            super().__init__()
            self.kinds = []

        def score_item(self, question, reference, answer, key_points=None, question_id="adhoc", kind="technical",
                       fresh=False):
            self.kinds.append(kind)
            return super().score_item(question, reference, answer, key_points, question_id)

    rows = [r.model_copy(update={"rubric": "scenario"}) if r.group == "q1" else r for r in synthetic_rows()]
    grader = KindAware()
    kw = dict(dataset="t", cache_path=tmp_path / "c.jsonl", run_probes=False, embed=bag_embed, n_boot=5, progress=False)
    run_eval(rows, grader, out_dir=tmp_path / "a", **kw)
    assert grader.kinds.count("scenario") == 6 and grader.kinds.count("technical") == 18
    run_eval(rows, grader, out_dir=tmp_path / "b", **kw)
    assert len(grader.kinds) == 24  # all cached
    run_eval(rows, grader, out_dir=tmp_path / "c", fresh=True, **kw)
    assert len(grader.kinds) == 48  # --fresh regrades


def test_runner_with_the_real_grader_on_the_toy_model(tmp_path, session_settings):
    from interviewer.grading.grader import Grader
    from interviewer.llm.fake import toy_llm

    llm = toy_llm()
    rows = synthetic_rows()[:12]
    res = run_eval(rows, Grader(llm, settings=session_settings), dataset="t", out_dir=tmp_path / "r",
                   cache_path=tmp_path / "c.jsonl", naive_llm=llm, run_probes=False, n_boot=20, progress=False)
    assert res["backend"] == "fake" and res["systems"]["grader"]["n"] == 12 and not res["grader_errors"]
    assert res["systems"]["naive_judge"]["n"] == 12
    assert res["grader_version"].startswith("grader-2:")
    assert (tmp_path / "r" / "calibration.png").is_file()


def test_intervals_resample_questions_so_clustered_rows_widen_them():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 20)  # 10 questions, 20 answers each
    offset = rng.normal(0, 1.0, 10)[groups]  # each question shifts all its answers alike
    y = np.clip(2.5 + rng.normal(0, 1, 200), 0, 5)
    p = np.clip(y + offset + rng.normal(0, 0.3, 200), 0, 5)
    by_row = metrics.bootstrap_ci(y, p, n_boot=300)
    by_question = metrics.bootstrap_ci(y, p, groups, n_boot=300)
    width = lambda ci: ci["rmse"][1] - ci["rmse"][0]  # noqa: E731
    assert width(by_question) > 1.5 * width(by_row)


def test_recalibrated_row_fits_a_scale_on_other_questions_only(tmp_path):
    rows = synthetic_rows()
    res = run_eval(rows, CountingGrader(), dataset="t", out_dir=tmp_path / "r", cache_path=None, run_probes=False,
                   embed=bag_embed, n_boot=10, progress=False)
    recal = res["systems"]["grader, recalibrated (grouped CV)"]
    assert recal["n"] == len(rows) and recal["metrics"]["rmse"] is not None
    assert res["needs_judgement"]["left_out"] == sum(r.kind in ("empty", "off-topic") for r in rows)


# --- concurrency ----------------------------------------------------------------------------------------------------

ROWS_AT_ONCE = 4
BARRIER_WAIT_S = 30.0  # only bounds a failure: N rows that never meet means they were not graded at once


class Overlapping:
    """The real grader behind a gate: the first N rows must be in flight together (a barrier), and the first row
    finishes only after another has, so completion order differs from row order and `map` order is what is tested."""

    def __init__(self, grader, at_once: int) -> None:
        self.grader, self.llm, self.version = grader, grader.llm, grader.version
        self.barrier = threading.Barrier(at_once, timeout=BARRIER_WAIT_S)
        self.another_done = threading.Event()
        self.first_answer: str | None = None
        self.started = 0
        self.lock = threading.Lock()
        self.calls = 0

    def forget(self) -> None:
        self.grader.forget()

    def score_item(self, question, reference, answer, **kw):
        with self.lock:
            self.calls += 1
            index, self.started = self.started, self.started + 1
            if index == 0:
                self.first_answer = answer
        if index < self.barrier.parties:
            self.barrier.wait()
        if index == 0:
            assert self.another_done.wait(BARRIER_WAIT_S), "no other row finished while the first was held"
        grade = self.grader.score_item(question, reference, answer, **kw)
        if index != 0:
            self.another_done.set()
        return grade


def _jsonl_lines(path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # a torn or glued line would not parse


def test_concurrent_grading_gives_the_sequential_scores_in_row_order(tmp_path, session_settings):
    from interviewer.grading.cache import JsonlCache
    from interviewer.grading.grader import Grader
    from interviewer.llm.fake import toy_llm

    rows = synthetic_rows()
    kw = dict(dataset="t", run_probes=False, embed=bag_embed, n_boot=5, progress=False)
    one = run_eval(rows, Grader(toy_llm(), settings=session_settings), out_dir=tmp_path / "one",
                   cache_path=tmp_path / "one.jsonl", **kw)
    judge_cache = JsonlCache(tmp_path / "judge.jsonl")
    gated = Overlapping(Grader(toy_llm(), settings=session_settings, judge_cache=judge_cache), ROWS_AT_ONCE)
    many = run_eval(rows, gated, out_dir=tmp_path / "many", cache_path=tmp_path / "many.jsonl",
                    concurrency=ROWS_AT_ONCE, **kw)

    assert not many["grader_errors"], many["grader_errors"]
    assert gated.first_answer == rows[0].answer  # the row held back was the first one
    per_row = [(r["question_id"], r["kind"], r["grader"]) for r in many["per_row"]]
    assert per_row == [(r["question_id"], r["kind"], r["grader"]) for r in one["per_row"]]
    assert [p[:2] for p in per_row] == [(r.question_id, r.kind) for r in rows]
    assert len({p[2] for p in per_row}) > 3  # the scores differ row to row, so a shuffle would show
    assert many["latency"]["concurrency"] == ROWS_AT_ONCE and many["latency"]["fresh_calls"] == len(rows)
    assert f"{ROWS_AT_ONCE} at once" in (tmp_path / "many" / "report.md").read_text(encoding="utf-8")

    grades = _jsonl_lines(tmp_path / "many.jsonl")
    assert len(grades) == len(rows) == len({g["key"] for g in grades})
    judged = sum(1 for g in grades if g["judgement"])  # the screen's zeroes never reach the model
    judgements = _jsonl_lines(tmp_path / "judge.jsonl")
    assert len(judgements) == judged == len({j["key"] for j in judgements}) and judged > 0


def test_copies_of_a_row_at_once_are_graded_once(tmp_path, monkeypatch):
    from interviewer.evals import runner

    arrived: dict[tuple[str, str], int] = {}  # (question, answer): how many copies the scorer has been handed
    changed = threading.Condition()
    record = runner.CachedGrader.record

    def counted(self, row, *args, **kw):
        with changed:
            arrived[row.question, row.answer] = arrived.get((row.question, row.answer), 0) + 1
            changed.notify_all()
        return record(self, row, *args, **kw)

    class Gated(CountingGrader):
        """A row is graded only once all its copies have reached the scorer: the others are in flight meanwhile."""

        def score_item(self, question, reference, answer, **kw):
            with changed:
                assert changed.wait_for(lambda: arrived.get((question, answer)) == ROWS_AT_ONCE, BARRIER_WAIT_S), \
                    "the copies of a row were not in flight together"
            return super().score_item(question, reference, answer, **kw)

    monkeypatch.setattr(runner.CachedGrader, "record", counted)
    distinct = synthetic_rows()[:3]
    rows = [r for r in distinct for _ in range(ROWS_AT_ONCE)]  # each row's copies are submitted together
    grader = Gated()
    res = run_eval(rows, grader, dataset="t", out_dir=tmp_path / "r", cache_path=tmp_path / "c.jsonl",
                   run_probes=False, embed=bag_embed, n_boot=5, progress=False, concurrency=ROWS_AT_ONCE)
    assert not res["grader_errors"], res["grader_errors"]
    assert grader.calls == len(distinct)  # the other copies waited for the first and read its record
    assert len(_jsonl_lines(tmp_path / "c.jsonl")) == len(distinct)
    scores = [r["grader"] for r in res["per_row"]]
    assert scores == [s for s in scores[::ROWS_AT_ONCE] for _ in range(ROWS_AT_ONCE)]


KILL_AFTER_LINES = 20
KILL_WAIT_S = 60.0  # bounds a failure only

_HELD_EVAL = """
import sys, threading
sys.path.insert(0, {tests!r})
from test_evals import CountingGrader, bag_embed, synthetic_rows
from interviewer.evals.runner import run_eval

class Held(CountingGrader):
    \"\"\"Grades the first {kill_after} rows; every later one waits for ever, so the kill finds exactly those.\"\"\"
    taken, lock, never = 0, threading.Lock(), threading.Event()

    def score_item(self, *a, **kw):
        with self.lock:
            Held.taken += 1
            mine = Held.taken
        if mine > {kill_after}:
            self.never.wait()
        return super().score_item(*a, **kw)

rows = [r.model_copy(update={{"answer": f"{{r.answer}} take {{i}}"}}) for i in range(20) for r in synthetic_rows()]
run_eval(rows, Held(), dataset="t", out_dir={out!r}, cache_path={cache!r}, run_probes=False, embed=bag_embed,
         n_boot=5, progress=False, concurrency=4)
"""


def test_a_killed_concurrent_run_leaves_a_readable_cache_and_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    cache = tmp_path / "c.jsonl"
    script = _HELD_EVAL.format(tests=str(Path(__file__).parent), out=str(tmp_path / "r"), cache=str(cache),
                               kill_after=KILL_AFTER_LINES)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + KILL_WAIT_S
    while not (cache.is_file() and cache.read_text(encoding="utf-8").count("\n") >= KILL_AFTER_LINES):  # a poll
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, f"fewer than {KILL_AFTER_LINES} cache lines in {KILL_WAIT_S} s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    rows = [r.model_copy(update={"answer": f"{r.answer} take {i}"}) for i in range(20) for r in synthetic_rows()]
    kept = GradeCache(cache)
    assert len(kept) == KILL_AFTER_LINES < len(rows)  # the held rows were in flight, none of them written
    for line in cache.read_text(encoding="utf-8").splitlines():
        json.loads(line)
    resumed = CountingGrader()
    run_eval(rows, resumed, dataset="t", out_dir=tmp_path / "r2", cache_path=cache, run_probes=False,
             embed=bag_embed, n_boot=5, progress=False, concurrency=ROWS_AT_ONCE)
    assert resumed.calls == len(rows) - len(kept)
    assert len(GradeCache(cache)) == len(rows)


# --- anchors: the unseen-answers protocol ---------------------------------------------------------------------------

def test_leave_one_out_pools_never_hold_the_answer_itself():
    from interviewer.evals.anchoring import AnchorPlan, draw, pools_for

    rows = synthetic_rows()
    pools = pools_for(AnchorPlan(source="loo"), rows, lambda qid: [])
    for i, row in enumerate(rows):
        pool = pools(i)
        others = [r for r in rows if r.question_id == row.question_id and r is not row and r.answer]
        assert all(a.question_id == row.question_id for a in pool)
        assert sorted(a.text for a in pool) == sorted(r.answer for r in others)  # not itself, nor the empty one
        two = draw(pools, 2, seed=3)(i)
        assert len(two) == 2 and set(a.key for a in two) <= set(a.key for a in pool)
        assert [a.key for a in two] == [a.key for a in draw(pools, 2, seed=3)(i)]  # seeded


def test_eval_with_another_files_graded_answers_as_anchors(tmp_path, monkeypatch, session_settings):
    """`eval --dataset file --path test.jsonl --anchors train.jsonl`: an answer that a train answer says word for word
    gets that answer's grade; the zero-anchor grade and the sweep are reported beside it."""
    import typer
    from typer.testing import CliRunner

    from interviewer.cli import evals as cli
    from interviewer.grading.anchor_book import AnchorBook, AnchorScores
    from interviewer.grading.grader import Grader
    from interviewer.llm.fake import toy_llm

    def write(path, records):
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return path

    rows = synthetic_rows()
    base = {r.question_id: {"question_id": r.question_id, "question": r.question, "reference": r.reference,
                            "max_score": 5} for r in rows}
    train = [{**base[r.question_id], "answer": r.answer, "score": 5.0 - r.score} for r in rows if r.answer]
    test = [{**base[r.question_id], "answer": r.answer, "score": 5.0 - r.score} for r in rows if r.answer]
    train_path, test_path = write(tmp_path / "train.jsonl", train), write(tmp_path / "test.jsonl", test)
    grader = Grader(toy_llm(), settings=session_settings, anchors=AnchorBook())
    grader.anchor_scores = AnchorScores(grader.scorer_id)
    monkeypatch.setattr(cli, "grader_and_llm", lambda backend: (grader, None, "fake"))
    app = typer.Typer()
    for name, command in cli.COMMANDS.items():
        app.command(name)(command)
    app.command("noop")(lambda: None)
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["eval", "--dataset", "file", "--path", str(test_path), "--anchors",
                                      str(train_path), "--no-naive", "--no-probes", "--out", str(out),
                                      "--cache", str(tmp_path / "c.jsonl"), "--bootstrap", "10", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):])
    systems = summary["systems"]
    assert {"grader", "grader, 0 anchors", "grader, 1 anchor", "grader, 8 anchors", "neighbours only"} <= set(systems)
    per_row = json.loads((out / "results.json").read_text())["per_row"]
    anchored = np.array([r["grader"] for r in per_row])
    human = np.array([r["human"] for r in per_row])
    zero = np.array([r["grader, 0 anchors"] for r in per_row])
    # The train file grades these very answers (inverted from how the toy model reads them): anchors carry it.
    judged = np.array(["off-topic" not in r["flags"] for r in per_row])  # the screen's zeros stay zeros
    assert np.abs(anchored - human)[judged].mean() <= 0.5 < 1.0 < np.abs(zero - human)[judged].mean()
    assert np.abs(anchored - human)[judged].max() <= 1.0
    bad = CliRunner().invoke(app, ["eval", "--dataset", "file", "--path", str(test_path), "--anchors",
                                   str(tmp_path / "missing.jsonl")])
    assert bad.exit_code != 0 and "missing.jsonl" in bad.output
