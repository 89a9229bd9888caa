"""A deterministic toy model for FakeLLM: answers every prompt kind of the project plausibly, with no weights.

`interviewer.llm.fake.toy_llm()` wraps it. It answers by the task the caller names (`task=` on every request, which
`FakeLLM` records; prompts carry no routing tags) and by word overlap, so control flow (grading, follow-ups, hints) can
be tested quickly and repeatably. Its JSON is compact, as the judge's grammar forces it.
"""

from __future__ import annotations

import json
import re

from interviewer.text import sentences as split_sentences

_WORD = re.compile(r"[a-z][a-z0-9\-]{3,}")
COMPACT = (",", ":")  # JSON without spaces, the shape the judge's grammar forces


def _last_user(messages: list[dict]) -> str:
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")


def _between(text: str, start: str, end: str) -> str:
    i = text.find(start)
    j = text.find(end, i + len(start)) if i >= 0 else -1
    return text[i + len(start):j].strip() if i >= 0 and j >= 0 else ""


def overlap(point: str, answer: str) -> float:
    words = set(_WORD.findall(point.lower()))
    return len(words & set(_WORD.findall(answer.lower()))) / len(words) if words else 0.0


def _grade(messages: list[dict]) -> str:
    system = messages[0]["content"]
    user = _last_user(messages)
    answer = _between(user, "<answer>", "</answer>")
    block = user.split("KEY POINTS", 1)[-1].split("<answer>", 1)[0]
    points = re.findall(r"^\s*\d+\.\s+(.*)$", block, re.MULTILINE)
    verdicts = []
    for p in points:
        o = overlap(p, answer)
        verdicts.append("yes" if o >= 0.5 else "partly" if o >= 0.25 else "no")
    cov = sum({"yes": 1, "partly": 0.5, "no": 0}[v] for v in verdicts) / max(len(verdicts), 1)
    out: dict = {str(i): v[0] for i, v in enumerate(verdicts, 1)}
    for code in re.findall(r"^- Then ([a-z]) = ", system, re.MULTILINE):
        out[code] = round(5 * cov)
    return json.dumps(out, separators=COMPACT)


def _topics(system: str) -> list[str]:
    """The topics a job_concepts prompt lets the model choose from: the line after "by their exact names:"."""
    listed = system.split("exact names:", 1)[-1].strip().splitlines()
    return [t.strip() for t in listed[0].split(",") if t.strip()] if listed else []


def _keypoints(messages: list[dict]) -> str:
    reference = _last_user(messages).split("REFERENCE ANSWER:", 1)[-1]
    sentences = [s for s in split_sentences(reference) if len(s.split()) >= 3]
    return json.dumps({"key_points": sentences[:5] or [reference.strip()]})


def toy_reply(messages: list[dict], task: str | None = None) -> str:
    """The reply for the request's task, as the caller named it."""
    if task == "grade":
        return _grade(messages)
    if task == "keypoints":
        return _keypoints(messages)
    if task == "judge":
        answer = _between(_last_user(messages), "<answer>", "</answer>") or _last_user(messages)
        return json.dumps({"score": min(5, len(_WORD.findall(answer)) // 10)})
    if task == "followup":
        return "Could you walk me through how that works, step by step, and what could go wrong?"
    if task == "hint":
        return "Think about what changes between training and inference."
    if task == "clarify":
        return "Good question: answer in terms of how the model is trained and used; any reasonable assumption is fine."
    if task == "intent":
        return json.dumps({"intent": "answer"})
    if task == "job_concepts":  # the listed topics whose words the document uses
        text = _last_user(messages).lower()
        found = [c for c in _topics(messages[0]["content"]) if any(w in text for w in c.split("-") if len(w) > 3)]
        return json.dumps({"concepts": found[:6]}, separators=COMPACT)
    if task == "greet":
        return "Hello! I'm your interviewer today. Let's begin."
    return "OK."
