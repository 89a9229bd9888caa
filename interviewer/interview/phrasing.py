"""The interviewer's model-written lines: how each is asked for, cleaned, checked, and what stands in for it.

Every line has a templated fallback, so a model that is down, slow to answer, or says too much never reaches the
candidate: `Phraser.line` keeps the model's line only when it is usable and passes the leak check, else the first
fallback that passes (the last fallback is safe by construction). The check reads each line as the candidate will,
inside its frame (the follow-up's opener and quote, the hint's label and cap): the frame's words shift a line's
meaning, and an eval that reads the displayed line must find what the check found. Budgets per task come from
interviewer/resources/prompts/interview.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from interviewer.interview.conversation import LeakCheck
from interviewer.session import SessionConfig
from interviewer.llm.base import LLM, LLMError
from interviewer.prompts import load_interview, load_prompt
from interviewer.text import sentences, word_cut

LINES = load_interview()
REQUESTS: dict[str, dict] = LINES["requests"]  # per task: max_tokens, temperature (and max_words where it applies)
GREETING: dict = LINES["greeting"]  # the templated greeting, and the line for each mode (the model's too)
MAX_LINE_CHARS = 320  # a spoken-length line; longer model output is cut at a sentence end
MIN_LINE_CHARS = 8    # shorter model output ("OK.", "") is not a line
MIN_CUT_CHARS = 41    # a cut that keeps no more than this is no line either: cut at a word instead
_LABEL = re.compile(r"^\s*(follow-?up( question)?|hint|clarification|interviewer)\s*:\s*", re.I)


def request(task: str) -> dict:
    """The model request fields for a task, from the data file."""
    return {k: v for k, v in REQUESTS[task].items() if k in ("max_tokens", "temperature")}


def clean(text: str, max_chars: int = MAX_LINE_CHARS) -> str:
    """Without a "Follow-up:" label or quotes, and cut at a sentence end when too long."""
    text = _LABEL.sub("", text.strip()).strip().strip('"').strip()
    if len(text) > max_chars:
        kept = _whole_sentences(text, max_chars)
        text = kept if len(kept) > MIN_CUT_CHARS else word_cut(text, max_chars) + "..."
    return text


def _whole_sentences(text: str, max_chars: int) -> str:
    """The longest start of `text` that ends at a sentence end (`interviewer.text.sentences`) before `max_chars`."""
    kept = ""
    for sentence in sentences(text):
        end = text.find(sentence, len(kept)) + len(sentence)
        if end >= max_chars:
            break
        kept = text[:end]
    return kept


def _messages(prompt: str, **variables) -> list[dict]:
    return [{"role": "system", "content": load_prompt(prompt)},
            {"role": "user", "content": load_prompt(f"{prompt}_user", **variables)}]


class Phraser:
    def __init__(self, llm: LLM | None, leak_check: LeakCheck) -> None:
        self.llm = llm  # None: templates only
        self.leak_check = leak_check

    def line(self, prompt: str, variables: dict, *, task: str, secrets: list[str], question: str,
             fallbacks: Iterable[str], said: str = "", usable: Callable[[str], bool] | None = None,
             frame: Callable[[str], str] = str, ask_model: bool = True) -> tuple[str, str]:
        """The line (without its frame) and where it came from: model, template, or model+template (the model's was
        not used). `frame(line)` is the line as displayed; that is what the leak check reads. Without `ask_model`
        the fallbacks alone."""
        def leaks(text: str) -> bool:
            return self.leak_check.leaks(frame(text), secrets, question, said)

        candidate = ""
        asked = self.llm is not None and ask_model
        if asked:
            try:
                candidate = clean(self.llm.complete(_messages(prompt, **variables), **request(task), task=task))
            except LLMError:
                candidate = ""
            if len(candidate) < MIN_LINE_CHARS or (usable is not None and not usable(candidate)):
                candidate = ""
        if candidate and not leaks(candidate):
            return candidate, "model"
        template = "model+template" if asked else "template"
        fallbacks = list(fallbacks)
        for text in fallbacks[:-1]:
            if not leaks(text):
                return text, template
        return fallbacks[-1], template

    def greeting(self, config: SessionConfig) -> Iterator[str]:
        """Streamed from the model; the template when it fails before its first word."""
        mode_line = GREETING["modes"]["practice" if config.mode == "practice" else "interview"]
        fallback = GREETING["fallback"].format(setup=config.describe(), mode_line=mode_line)
        sent = False
        if self.llm is not None:
            try:
                for piece in self.llm.stream(_messages("interview_greeting", setup=config.describe(),
                                                       mode_line=mode_line), **request("greet"), task="greet"):
                    sent = True
                    yield piece
            except LLMError:
                pass
        if not sent:
            yield fallback

    def classify(self, question: str, message: str) -> str:
        """answer or clarify, for short questions the heuristic cannot place; unsure means clarify (nothing is lost)."""
        if self.llm is None:
            return "clarify"
        try:
            reply = self.llm.complete(_messages("interview_intent", question=question, message=message),
                                      **request("intent"), task="intent")
        except LLMError:
            return "clarify"
        label = re.search(r"answer|clarif", reply.lower())
        return "answer" if label and label.group(0) == "answer" else "clarify"
