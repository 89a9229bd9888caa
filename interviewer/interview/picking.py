"""Which question comes next: the track's tier (or level), the focus concepts, nothing asked lately."""

from __future__ import annotations

import random
from collections import Counter

from interviewer.bank.bank import Question
from interviewer.session import LEVELS, Session, SessionConfig


def pick_question(pool: list[Question], session: Session, recent: list[str], rng: random.Random) -> Question | None:
    """The next question: right tier (or level, in mixed), focus concepts, unseen in this session and lately.

    Constraints relax in order when nothing fits: concepts before tier for fixed tracks, level before concepts in mixed.
    Among candidates, questions on the least-covered concepts win, so a session spreads over its focus.
    """
    cfg = session.config
    asked = session.asked_ids()
    left = [q for q in pool if q.id not in asked]
    if not left:
        return None
    if cfg.planned:  # a plan is asked as planned; ids the bank no longer has are passed over
        by_id = {q.id: q for q in left}
        return next((by_id[qid] for qid in cfg.planned if qid in by_id), None)
    tiers = ({t for t, lvl in LEVELS.items() if lvl == session.level} if cfg.track == "mixed" else {cfg.track})
    focus = set(cfg.concepts)

    def fits(q: Question, tier_ok: set[str] | None, concepts: set[str]) -> bool:
        return (tier_ok is None or q.tier in tier_ok) and (not concepts or bool(concepts & set(q.concepts)))

    stages = [(tiers, focus)]
    if cfg.track == "mixed":
        stages.append((set(LEVELS), focus))
    stages += [(tiers, set()), (None, focus), (None, set())]
    cands: list[Question] = []
    for tier_ok, concepts in stages:
        cands = [q for q in left if fits(q, tier_ok, concepts)]
        if cands:
            break
    pos = {qid: i for i, qid in enumerate(recent)}  # 0 = seen most recently
    fresh = [q for q in cands if q.id not in pos]
    if fresh:
        cands = fresh
    else:  # every candidate was seen lately: take the ones seen longest ago
        cands = sorted(cands, key=lambda q: -pos[q.id])[:5]
    covered = Counter(c for rec in session.questions for c in rec.concepts)

    def novelty(q: Question) -> int:
        relevant = [c for c in q.concepts if not focus or c in focus] or q.concepts
        return min(covered[c] for c in relevant)

    best = min(novelty(q) for q in cands)
    return rng.choice(sorted((q for q in cands if novelty(q) == best), key=lambda q: q.id))


def initial_level(config: SessionConfig) -> int:
    return 1 if config.track == "mixed" else LEVELS[config.track]
