"""Questions about a topic typed in a few words ("KV caches"): the bank's questions the store finds closest to it,
each well above the floor at which a search hit is about something else."""

from __future__ import annotations

from interviewer.planning.tailor import MATCH_FLOOR

TOPIC_FLOOR = MATCH_FLOOR  # a topic search hit under this cosine is not about the topic


def topic_questions(store, topic: str, n: int) -> dict[str, str]:
    """Question id -> why it was chosen, best first; empty when nothing in the bank is about the topic."""
    hits = [h for h in store.search(topic, k=n) if h.score >= TOPIC_FLOOR]
    return {h.question_id: f"it matches your topic “{topic}”" for h in hits}
