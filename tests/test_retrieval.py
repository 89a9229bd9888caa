"""Retrieval quality on two query fixtures: `retrieval/` (paraphrases written beside the bank) and
`retrieval_spoken/` (written from topics, the way candidates and interviewers talk and type). Figures with intervals:
`python scripts/bench_retrieval.py`."""

from __future__ import annotations

import pytest
import yaml

from checkout import PROJECT_ROOT

# fixture folder -> (fewest queries, top-1 floor, top-3 floor)
FIXTURES = {"retrieval": (60, 0.90, 0.98), "retrieval_spoken": (80, 0.85, 0.95)}


def _queries(folder: str) -> list[dict]:
    out = []
    for path in sorted((PROJECT_ROOT / "tests" / "fixtures" / folder).glob("*.yaml")):
        out.extend(yaml.safe_load(path.read_text())["queries"])
    return out


@pytest.mark.parametrize("folder", FIXTURES)
def test_fixture_is_large_and_valid(bank, folder):
    queries = _queries(folder)
    assert len(queries) >= FIXTURES[folder][0]
    ids = {q.id for q in bank.questions}
    assert [q["id"] for q in queries if q["id"] not in ids] == []
    texts = {q.question.lower() for q in bank.questions}
    assert [q["query"] for q in queries if q["query"].lower() in texts] == []  # paraphrased, not copied
    assert len({q["query"].lower() for q in queries}) == len(queries)


def test_the_spoken_fixture_covers_the_bank_broadly(bank):
    targets = {q["id"] for q in _queries("retrieval_spoken")}
    assert len(targets) >= 70
    assert {bank.get(t).tier for t in targets} == {q.tier for q in bank.questions}


@pytest.mark.parametrize("folder", FIXTURES)
def test_top1_and_top3_accuracy(store, folder):
    queries = _queries(folder)
    _, floor1, floor3 = FIXTURES[folder]
    top1 = top3 = 0
    misses = []
    for q in queries:
        ranked = [h.question_id for h in store.search(q["query"], k=3)]
        top1 += ranked[:1] == [q["id"]]
        top3 += q["id"] in ranked
        if ranked[:1] != [q["id"]]:
            misses.append((q["query"], q["id"], ranked))
    n = len(queries)
    print(f"\n{folder}: top-1 {top1 / n:.1%}, top-3 {top3 / n:.1%} on {n} queries")
    assert top1 / n >= floor1, misses
    assert top3 / n >= floor3, misses
