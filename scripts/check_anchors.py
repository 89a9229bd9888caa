"""Check the authored anchors: every file loads, and every bank question has the levels the rule asks for.

    python scripts/check_anchors.py            # all questions
    python scripts/check_anchors.py FILE.yaml  # the questions of one bank file (interviewer/resources/knowledge/questions/FILE.yaml)
Exit 1 when anything is missing or invalid, naming the question and what it lacks.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import yaml

from interviewer.settings import get_settings
from interviewer.bank.anchors import load_anchors, missing_levels
from interviewer.bank.bank import BankError, load_bank


def main(argv: list[str]) -> int:
    knowledge = get_settings().knowledge_dir
    bank = load_bank(knowledge)
    try:
        anchors = load_anchors(knowledge, bank)
    except BankError as e:
        print(f"invalid: {e}")
        return 1
    ids = [q.id for q in bank.questions]
    if argv:
        data = yaml.safe_load((knowledge / "questions" / Path(argv[0]).name).read_text())
        ids = [q["id"] for q in data["questions"]]
    bad = 0
    levels: Counter[str] = Counter()
    for qid in ids:
        levels.update(a.level for a in anchors[qid])
        lack = missing_levels(anchors[qid])
        if lack:
            bad += 1
            print(f"{qid}: {', '.join(lack)}")
    total = sum(len(anchors[q]) for q in ids)
    print(f"{len(ids) - bad}/{len(ids)} questions complete; {total} anchors ({dict(sorted(levels.items()))})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
