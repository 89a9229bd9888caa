"""Feedback a candidate can trust: built from the verdicts, the candidate's own words and the reference, nothing else.

A small model asked to write feedback praises what was never said and repeats wrong claims as advice (seen: "Add more
details about how to use a bigger learning rate", for an off-topic answer). So the model judges and the feedback says
what it judged: a Strength is a key point judged stated, with the answer's own words quoted (cut from the answer
verbatim); To improve names the key points missing or only partly made, and for a contradicted one "you said X; in
fact Y" with Y from the key point. Every sentence of advice is a key point, so no claim of the answer's can come back
as advice, and the text is ready the moment the score is: nothing to wait for.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from interviewer.grading.models import Grade, KeyPointResult
from interviewer.grading.screen import ZEROED_FLAGS

MAX_STRENGTHS = 3
MAX_IMPROVEMENTS = 4
MAX_QUOTE_CHARS = 160
VOID_ADVICE = "Answer the question asked: start from the definition, then explain the mechanism and when it matters."


class Feedback(BaseModel):
    strengths: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    model_answer: str = ""

    def text(self) -> str:
        """Markdown: a blank line ends each list, or the next heading would read as part of its last bullet."""
        sections = [["Strengths:", *([f"- {s}" for s in self.strengths] or ["- None yet."])],
                    ["To improve:", *[f"- {s}" for s in self.improvements]],
                    [f"Model answer: {self.model_answer}"]]
        return "\n\n".join("\n".join(lines) for lines in sections)


def _quote(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) > MAX_QUOTE_CHARS:
        text = text[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0] + " …"
    return f"“{text}”"


def _point(text: str) -> str:
    """A key point as a clause: "Dropout is off at inference" -> "dropout is off at inference" (ReLU stays ReLU)."""
    text = text.strip().rstrip(".")
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first[1:] == first[1:].lower() else text


def strength(k: KeyPointResult) -> str:
    return f"You said {_quote(k.quote)}: that covers the point that {_point(k.point)}."


def improvement(k: KeyPointResult) -> str:
    if k.status == "contradicted":
        said = f"You said {_quote(k.quote)}, but" if k.quote else "Your answer says otherwise, but"
        return f"{said} in fact {_point(k.point)}."
    if k.status == "partly":
        said = f" (you said {_quote(k.quote)})" if k.quote else ""
        return f"Make this precise{said}: {_point(k.point)}."
    return f"Add: {_point(k.point)}."


ORDER = {"contradicted": 0, "missing": 1, "partly": 2}


def write(grade: Grade, reference: str, answer: str = "") -> Feedback:
    """The feedback for a grade whose key points carry verdicts and quotes. A stated point with no quote of its own
    (no English embeddings to find one: another language) quotes the answer itself, where the judgement came from."""
    if ZEROED_FLAGS & set(grade.flags):
        return Feedback(improvements=[VOID_ADVICE], model_answer=reference)
    points = [k if k.quote or k.status == "missing" or not answer else k.model_copy(update={"quote": answer})
              for k in grade.key_points]
    # A strength is said only with the candidate's words to show for it: a point judged stated with no sentence of the
    # answer like it is left unpraised (and not advised either: the judge thought it was said).
    strengths = [strength(k) for k in points if k.status == "covered" and k.quote][:MAX_STRENGTHS]
    todo = sorted((k for k in points if k.status in ORDER),
                  key=lambda k: ORDER[k.status])  # stable: key points keep their order (most important first)
    improvements = [improvement(k) for k in todo][:MAX_IMPROVEMENTS]
    if not improvements:
        improvements = ["Nothing essential is missing: to stand out, add a concrete example or say when it fails."]
    return Feedback(strengths=strengths, improvements=improvements, model_answer=reference)
