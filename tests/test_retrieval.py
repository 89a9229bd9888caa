"""Retrieval quality on paraphrased queries written the way candidates and interviewers talk."""

from __future__ import annotations

import yaml

from interviewer import PROJECT_ROOT


def _queries() -> list[dict]:
    out = []
    for path in sorted((PROJECT_ROOT / "tests" / "fixtures" / "retrieval").glob("*.yaml")):
        out.extend(yaml.safe_load(path.read_text())["queries"])
    return out


def test_fixture_is_large_and_valid(bank):
    queries = _queries()
    assert len(queries) >= 60
    ids = {q.id for q in bank.questions}
    assert [q["id"] for q in queries if q["id"] not in ids] == []
    texts = {q.question.lower() for q in bank.questions}
    assert [q["query"] for q in queries if q["query"].lower() in texts] == []  # paraphrased, not copied


def test_top1_and_top3_accuracy(store):
    queries = _queries()
    top1 = top3 = 0
    misses = []
    for q in queries:
        ranked = [h.question_id for h in store.search(q["query"], k=3)]
        top1 += ranked[:1] == [q["id"]]
        top3 += q["id"] in ranked
        if ranked[:1] != [q["id"]]:
            misses.append((q["query"], q["id"], ranked))
    n = len(queries)
    print(f"\nretrieval: top-1 {top1 / n:.1%}, top-3 {top3 / n:.1%} on {n} queries")
    assert top1 / n >= 0.85, misses
    assert top3 / n >= 0.95, misses
