"""The model's judgement: one short structured reply, a verdict letter per key point and a 0-5 level, read as
probabilities.

The rubric (interviewer/resources/prompts/rubric.yaml) writes all of it: the verdict letters and what they mean, the criterion asked, the
reply's schema and, where the server takes GBNF, a grammar forcing exactly `{"1":"y","2":"x","c":4}` with no
whitespace. The prompt is the same on every backend, rubric and worked examples first, then question, reference and key
points, the answer last, so that llama.cpp reuses the question's prefix. The reference is always shown: on the calib
split, showing it for long references too raised the judge-only correlation from 0.66 to 0.75 (answers that need a
judgement; the prefix is read once per question, while the candidate thinks). The reply's letters are only the argmax: the score uses the probability of every allowed letter
at each choice point (`interviewer.grading.choices`), from logprobs where the backend returns them.
"""

from __future__ import annotations

import json
import re
import time
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, create_model

from interviewer.grading.choices import Distribution, Slot, distributions, one_hot
from interviewer.llm.base import LLM, Messages
from interviewer.prompts import load_examples, load_prompt, load_rubric, load_verdicts

TOP_LOGPROBS = 10  # alternatives asked per generated token (OpenAI allows up to 20)
DIGITS = "012345"


def rubric_kind(tier: str) -> str:
    return "scenario" if tier == "scenario" else "technical"


def asked_criteria(kind: str) -> list[dict]:
    """The criteria the model rates (the computed ones come from the verdicts)."""
    return [c for c in load_rubric(kind) if not c.get("computed")]


@lru_cache(maxsize=1)
def verdict_letters() -> str:
    return "".join(v["letter"] for v in load_verdicts())


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    out = {}
    for v in load_verdicts():
        out[v["letter"]] = v["letter"]
        out.update({str(a).lower(): v["letter"] for a in v.get("aliases", [])})
    return out


def as_letter(value) -> str:
    """What a model means, where it is unambiguous: "No" is n, "yes" is y, "Partly" is p."""
    text = str(value).strip().strip("\"'.").lower()
    letter = _aliases().get(text)
    if letter is None:
        raise ValueError(f"{value!r} is not one of {', '.join(verdict_letters())}")
    return letter


def as_level(value) -> int:
    """An integer 0-5, also from "4", "4.0" or "4/5"."""
    m = re.match(r"\s*([0-5])(\.0*)?(\s*/\s*5)?\s*$", str(value))
    if not m:
        raise ValueError(f"{value!r} is not an integer 0-5")
    return int(m.group(1))


Letter = Annotated[Literal[tuple(verdict_letters())], BeforeValidator(as_letter)]  # type: ignore[misc]
Level = Annotated[Literal[0, 1, 2, 3, 4, 5], BeforeValidator(as_level)]


@lru_cache(maxsize=64)
def judge_schema(kind: str, n_points: int) -> type[BaseModel]:
    fields: dict = {f"k{i}": (Letter, Field(alias=str(i))) for i in range(1, n_points + 1)}
    fields.update({c["code"]: (Level, Field(...)) for c in asked_criteria(kind)})
    return create_model(f"Judge_{kind}_{n_points}", **fields)


def _lit(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid GBNF literal for this text


@lru_cache(maxsize=64)
def judge_grammar(kind: str, n_points: int) -> str:
    """GBNF for the reply with no whitespace: ~22 output tokens, of which only the letters and digits are choices."""
    quote = _lit('"')
    parts = [f"{_lit(chr(34) + str(i) + chr(34) + ':' + chr(34))} [{verdict_letters()}] {quote}"
             for i in range(1, n_points + 1)]
    parts += [f"{_lit(chr(34) + c['code'] + chr(34) + ':')} [0-5]" for c in asked_criteria(kind)]
    return 'root ::= "{" ' + ' "," '.join(parts) + ' "}"'


# The compact reply spends about 6 tokens per key point (`"1":"y",`) and under 30 on braces and criterion levels.
REPLY_TOKENS_PER_POINT = 6
REPLY_TOKENS_FIXED = 30


def max_tokens(n_points: int) -> int:
    return REPLY_TOKENS_FIXED + REPLY_TOKENS_PER_POINT * n_points


def reply_text(verdicts: str, levels: dict[str, int]) -> str:
    """A reply exactly as the grammar forces it: {"1":"y","2":"n","c":3}."""
    parts = [f'"{i}":"{v}"' for i, v in enumerate(verdicts, 1)] + [f'"{k}":{v}' for k, v in levels.items()]
    return "{" + ",".join(parts) + "}"


def _examples(code: str) -> str:
    ex = load_examples()
    points = "\n".join(f"{i}. {p}" for i, p in enumerate(ex["key_points"], 1))
    answers = "\n".join(f"<answer>{a['text']}</answer> -> {reply_text(a['verdicts'], {code: a['level']})}"
                        for a in ex["answers"])
    return f"QUESTION: {ex['question']}\nKEY POINTS ({len(ex['key_points'])}):\n{points}\n{answers}"


def judge_messages(kind: str, question: str, reference: str, key_points: list[str], answer: str) -> Messages:
    """Rubric and instructions first, then question and key points, the answer last: llama.cpp reuses the prefix."""
    verdicts = ",\n".join(f"  {v['letter']} = {v['meaning']}" for v in load_verdicts()) + "."
    asked = asked_criteria(kind)
    criteria = "\n".join(f"- Then {c['code']} = {c['question']}, an integer 0-5: "
                         + "; ".join(f"{k} = {c['levels'][k]}" for k in (0, 1, 3, 5)) + "." for c in asked)
    letters = "|".join(verdict_letters())
    example = ",".join([f'"1":<{letters}>', f'"2":<{letters}>', "..."] + [f'"{c["code"]}":<0-5>' for c in asked])
    system = load_prompt("grade", verdicts=verdicts, criteria=criteria, reply_example="{" + example + "}",
                         examples=_examples(asked[0]["code"]))
    user = load_prompt("grade_user", question=question, reference=f"REFERENCE ANSWER: {reference}\n",
                       n_points=len(key_points),
                       key_points="\n".join(f"{i}. {p}" for i, p in enumerate(key_points, 1)), answer=answer)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def prefix_messages(kind: str, question: str, reference: str, key_points: list[str]) -> Messages:
    """The judge prompt up to the answer: what every answer to this question shares (read ahead while it is typed)."""
    msgs = judge_messages(kind, question, reference, key_points, "")
    user = msgs[-1]["content"]
    msgs[-1]["content"] = user[:user.rindex("<answer>\n") + len("<answer>\n")]
    return msgs


class Judgement(BaseModel):
    """The judge's probabilities: per key point over the verdict letters, per criterion over the levels 0-5."""

    points: list[Distribution]
    levels: dict[str, Distribution] = Field(description="criterion code -> level distribution")
    source: Literal["logprobs", "argmax"]
    reply: str = ""
    seconds: float = 0.0


def _slots(text: str, keys: list[str]) -> dict[str, Slot]:
    """Where each key's value starts in the reply (any spacing or quoting the server chose)."""
    letters = verdict_letters()
    out = {}
    for m in re.finditer(r'"(\w+)"\s*:\s*"?', text):
        if m.group(1) in keys and m.group(1) not in out and m.end() < len(text):
            out[m.group(1)] = Slot(offset=m.end(), allowed=letters if m.group(1).isdigit() else DIGITS)
    return out


def read_judgement(reply_text: str, tokens, value: BaseModel, kind: str, n_points: int, seconds: float) -> Judgement:
    """Distributions at each choice point; where the reply spells a value another way ("No"), the parsed value."""
    data = value.model_dump(by_alias=True)
    codes = [c["code"] for c in asked_criteria(kind)]
    keys = [str(i) for i in range(1, n_points + 1)] + codes
    slots = _slots(reply_text, keys)
    found, from_logprobs = distributions(reply_text, tokens, slots) if len(slots) == len(keys) else ({}, False)
    letters = verdict_letters()

    def dist(key: str, allowed: str) -> Distribution:
        chosen = str(data[key])
        d = found.get(key)
        # A spelled-out value ("No", "partly") puts a letter at the slot that is not the one it means, and where the
        # alternatives found no allowed character at all, the value stands alone.
        if d is None or reply_text[slots[key].offset].lower() != chosen or not any(d.values()):
            return one_hot(chosen, allowed)
        return d

    points = [dist(str(i), letters) for i in range(1, n_points + 1)]
    levels = {c: dist(c, DIGITS) for c in codes}
    return Judgement(points=points, levels=levels, source="logprobs" if from_logprobs else "argmax",
                     reply=reply_text, seconds=round(seconds, 3))


def judge(llm: LLM, messages: Messages, kind: str, n_points: int) -> Judgement:
    """Ask once (with the one repair round of `LLM.structured`); LLMError when no usable reply came."""
    t = time.perf_counter()
    schema = judge_schema(kind, n_points)
    value, reply = llm.structured(messages, schema, max_tokens=max_tokens(n_points),
                                  grammar=judge_grammar(kind, n_points), top_logprobs=TOP_LOGPROBS, task="grade")
    return read_judgement(reply.text, reply.tokens, value, kind, n_points, time.perf_counter() - t)
