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

from interviewer.grading.grade import Grade, KeyPointResult
from interviewer.grading.screen import ZEROED_FLAGS
from interviewer.text import word_cut

MAX_STRENGTHS = 3
MAX_IMPROVEMENTS = 4
MAX_QUOTE_CHARS = 160
# The nearest graded answer is named when it carries at least this share of the anchored score: it decided the grade.
DECIDING_WEIGHT = 0.5
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
        text = word_cut(text, MAX_QUOTE_CHARS) + " …"
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
# What the nearest graded answer says of this one, by its level; {add} is the first key point still to make.
LIKE = {
    "terse": "Like a terse correct answer ({score:g}/5): the core is right; to go further, add: {add}.",
    "partial": "Like a partial answer ({score:g}/5): some of it is right, with large gaps; add: {add}.",
    "vague": "Like a vague answer ({score:g}/5): it names the topic but not the mechanism; say: {add}.",
    "padded": "Like an answer padded with jargon ({score:g}/5): length and terms earn nothing; say: {add}.",
    "instructor": "Close to an answer an instructor graded {score:g}/5.",
    "file": "Close to an answer graded {score:g}/5 in your labelled answers.",
}
STRONG_LIKE = {"reference": "Close to the model answer.", "complete": "Like a complete answer ({score:g}/5)."}


def anchor_note(grade: Grade, todo: list[KeyPointResult]) -> tuple[str | None, str | None]:
    """(strength, improvement): what the nearest graded answer says, when it decided the grade. A misconception is
    named with its correction; a person's graded answer only by its grade (its text is another candidate's)."""
    if not grade.anchors or grade.anchors[0].weight < DECIDING_WEIGHT:
        return None, None
    near = grade.anchors[0]
    if near.level == "misconception" and near.claim and near.correction:
        return None, f"Closest to a common misconception, that {_point(near.claim)}; in fact, {_point(near.correction)}."
    if near.source in ("instructor", "file"):
        return None, LIKE[near.source].format(score=near.score)
    if near.level in STRONG_LIKE:
        return STRONG_LIKE[near.level].format(score=near.score), None
    if near.level in LIKE:
        add = _point(todo[0].point) if todo else "a concrete example, or when it fails"
        return None, LIKE[near.level].format(score=near.score, add=add)
    return None, None


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
    like, unlike = anchor_note(grade, todo)
    strengths = ([like] if like else []) + strengths
    improvements = ([unlike] if unlike else []) + improvements
    return Feedback(strengths=strengths, improvements=improvements, model_answer=reference)
