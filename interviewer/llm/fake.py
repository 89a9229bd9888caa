"""The scripted fake model (like llm's toy model or Inspect's mockllm): replies from a script, every call recorded."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from interviewer.llm.base import LLM, Capabilities, LLMError, Messages, Reply, Stream
from interviewer.llm.jumpforward import grammar_pattern

Script = Callable[[Messages], str] | list[str] | str
TaskScript = Callable[[Messages, str | None], str]


class ScriptError(AssertionError):
    """A test scripted a reply the request's grammar would not let a real server give."""


class FakeLLM(LLM):
    """Scripted replies for unit tests (like llm's toy model or Inspect's mockllm).

    `script` is a list of replies consumed in order, a function of the messages, or one fixed reply; `task_script` a
    function of the messages and the request's task (the toy model). A reply may be a `Reply` (to script logprobs).
    Every call is recorded in `.calls`, task included. `fail=True` simulates a backend that is down. With a capability
    `grammar`, a request's grammar binds the reply as on the real server: a scripted reply it could not produce raises
    `ScriptError` (a mistake in the test, not a model failure).
    """

    def __init__(self, script: Script = "{}", *, task_script: TaskScript | None = None, fail: bool = False,
                 delay_s: float = 0.0, capabilities: Capabilities | None = None) -> None:
        super().__init__(None, "fake", backend="fake", capabilities=capabilities or Capabilities(schema_mode="json_schema"))
        self.script = script
        self.task_script = task_script
        self.fail = fail
        self.delay_s = delay_s
        self.calls: list[dict] = []

    def _reply(self, messages: Messages, task: str | None = None) -> Reply:
        if self.fail:
            raise LLMError("fake backend is down")
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.task_script is not None:
            out = self.task_script(messages, task)
        elif callable(self.script):
            out = self.script(messages)
        elif isinstance(self.script, list):
            if not self.script:
                raise LLMError("fake script exhausted")
            out = self.script.pop(0)
        else:
            out = self.script
        return out if isinstance(out, Reply) else Reply(text=out, finish_reason="stop")

    def generate(self, messages: Messages, **kwargs) -> Reply:
        self.calls.append({"messages": messages, **kwargs})
        return self._bound(self._reply(messages, kwargs.get("task")), kwargs.get("grammar"))

    def _bound(self, reply: Reply, grammar: str | None) -> Reply:
        if grammar and self.capabilities.grammar:
            pattern = grammar_pattern(grammar)
            if pattern is not None and not pattern.fullmatch(reply.text):
                raise ScriptError(f"the scripted reply {reply.text[:80]!r} does not fit the request's grammar")
        return reply

    def stream(self, messages: Messages, **kwargs) -> Stream:
        self.calls.append({"messages": messages, "stream": True, **kwargs})
        reply = self._bound(self._reply(messages, kwargs.get("task")), kwargs.get("grammar"))
        return Stream(iter(re.findall(r"\S+\s*", reply.text)), list(reply.tokens or []))


def toy_llm(**kwargs) -> FakeLLM:
    """The toy model behind the `fake` backend: every prompt kind of the project answered by word overlap."""
    from interviewer.llm.toy import toy_reply

    return FakeLLM(task_script=toy_reply, **kwargs)
