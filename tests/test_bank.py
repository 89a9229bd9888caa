from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from interviewer.bank.bank import CONCEPTS, CORE_CONCEPTS, TIERS, BankError, load_bank


def test_bank_size_and_spread(bank):
    stats = bank.stats()
    assert stats["questions"] >= 120
    assert stats["by_source"]["guide"] == 35
    assert stats["by_tier"].get("scenario", 0) >= 15
    for concept in CORE_CONCEPTS:
        assert stats["by_concept"].get(concept, 0) >= 8, concept
        tiers = {q.tier for q in bank.questions if concept in q.concepts}
        assert len(tiers) >= 2, f"{concept} questions all in one tier"


def test_guide_ids_and_tiers(bank):
    guide = {q.id: q for q in bank.questions if q.source == "guide"}
    assert sorted(guide) == [f"guide-{i:02d}" for i in range(1, 36)]
    expected = {**{i: "fresher" for i in range(1, 9)}, **{i: "intermediate" for i in range(9, 17)},
                **{i: "advanced" for i in range(17, 26)}, **{i: "engineering" for i in range(26, 31)},
                **{i: "scenario" for i in range(31, 36)}}
    for i, tier in expected.items():
        assert guide[f"guide-{i:02d}"].tier == tier


def test_every_question_is_complete(bank):
    for q in bank.questions:
        assert q.tier in TIERS
        assert q.concepts and all(c in CONCEPTS for c in q.concepts)
        assert 3 <= len(q.key_points) <= 6, q.id
        assert len(set(q.key_points)) == len(q.key_points), q.id
        if q.source == "project":
            assert q.attribution is None or q.attribution
            assert len(q.reference_answer.split()) >= 40, q.id


def test_no_duplicate_ids(bank):
    ids = [q.id for q in bank.questions] + [r.id for r in bank.references]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_no_near_duplicate_questions(bank):
    from interviewer.bank.embeddings import get_embedder

    texts = [q.question for q in bank.questions]
    v = get_embedder().embed(texts)
    sim = v @ v.T
    np.fill_diagonal(sim, 0)
    # The guide itself asks about face detection twice (Q15 "best algorithm", Q25 "which would you use"): kept as written.
    ids = [q.id for q in bank.questions]
    a, b = ids.index("guide-15"), ids.index("guide-25")
    sim[a, b] = sim[b, a] = 0
    i, j = np.unravel_index(np.argmax(sim), sim.shape)
    assert sim[i, j] < 0.92, f"near-duplicates: {bank.questions[i].id} / {bank.questions[j].id} ({sim[i, j]:.3f})"


def test_reference_documents(bank):
    ids = {r.id for r in bank.references}
    assert {f"concept-{c}" for c in CORE_CONCEPTS} <= ids
    assert any(i.startswith("faq-") for i in ids)


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "questions").mkdir()
    path = tmp_path / "questions" / "bad.yaml"
    path.write_text(text)
    return path


def test_malformed_entry_names_file_entry_and_field(tmp_path):
    path = _write(tmp_path, """
questions:
  - id: ok-one
    tier: fresher
    concepts: [optimization]
    question: What is a learning rate?
    reference_answer: The step size used when updating weights along the negative gradient.
    key_points: ["The learning rate scales the gradient step", "Too large diverges", "Too small is slow to converge"]
    source: project
  - id: broken-two
    tier: expert
    concepts: [optimization]
    question: What is momentum in SGD?
    reference_answer: A running average of past gradients that smooths and accelerates updates.
    key_points: ["Momentum averages past gradients", "It damps oscillations", "It speeds progress along ravines"]
    source: project
""")
    with pytest.raises(BankError) as e:
        load_bank(tmp_path)
    msg = str(e.value)
    assert str(path) in msg and "broken-two" in msg and "entry #2" in msg and "'tier'" in msg


def test_invalid_yaml_and_unknown_concept(tmp_path):
    _write(tmp_path, "questions: [\n  - id: x")
    with pytest.raises(BankError, match="not valid YAML"):
        load_bank(tmp_path)
    other = tmp_path / "o"
    other.mkdir()
    _write(other, """
questions:
  - id: bad-concept
    tier: fresher
    concepts: [quantum-magic]
    question: What is a tensor in deep learning?
    reference_answer: A multidimensional array with a single dtype used to hold data and parameters.
    key_points: ["A tensor is an n-dimensional array", "All elements share a dtype", "Tensors can live on GPU"]
    source: project
""")
    with pytest.raises(BankError, match="concepts.*quantum-magic"):
        load_bank(other)


def test_duplicate_id_across_files(tmp_path):
    (tmp_path / "questions").mkdir()
    entry = """
questions:
  - id: same-id
    tier: fresher
    concepts: [optimization]
    question: What is a learning rate?
    reference_answer: The step size used when updating weights along the negative gradient.
    key_points: ["The learning rate scales the gradient step", "Too large diverges", "Too small is slow to converge"]
    source: project
"""
    (tmp_path / "questions" / "a.yaml").write_text(entry)
    (tmp_path / "questions" / "b.yaml").write_text(entry)
    with pytest.raises(BankError, match="same-id.*duplicates"):
        load_bank(tmp_path)
