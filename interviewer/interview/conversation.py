"""What the interviewer says between questions (clarifications, follow-ups, hints) and the check that none of it
gives the answer away.

- A clarification restates what is asked: the question's parts, the depth and the kind of answer expected, built
  from the question text alone. The model may add a sentence on the candidate's own clarifying question, kept only
  when it passes the leak check.
- A follow-up starts from the candidate's words (a quote cut verbatim from the answer) and asks about one missing or
  contradicted key point without stating it: a challenge after a contradiction, a simpler stepping stone after an
  unsure answer, a probe otherwise.
- Hints come in two levels, a templated nudge towards the area (from the question's concept tags) and then a
  model-written pointer at the mechanism; each caps the score more.
- A follow-up stays on the question's topic: a model-written probe much closer in meaning to the candidate's claim
  than to the question (`strays`) is replaced by a template built from a key point. An answer off the question gets
  no follow-up at all (interview/redirect.py).
- The leak check is lexical (a 5-word run of a secret that the question does not contain, or most of a secret's own
  content words) and by meaning (MiniLM similarity to a secret above a floor and above what the question itself
  has: a line may restate the question, not add to it). Thresholds are set on the hand-labelled lines of
  evals/datasets/leaks.yaml; `interviewer eval-interview --leak-labels` prints the agreement.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel

from interviewer.grading.grade import Grade
from interviewer.prompts import load_interview
from interviewer.text import CLAUSE_ENDS, content_words, sentences

NGRAM = 5
WORD_SHARE = 0.6          # a line holding this share of a secret's own content words (3 or more) restates it
# A line this similar to a secret, and this much more similar than the question itself is, says what the secret says.
# On the 84 hand-labelled lines (a deliberately hard set: topical probes against paraphrased leaks) this operating
# point catches 36 of 42 leaks and rejects 28 of 42 safe lines; a rejected line costs only a templated fallback.
MEANING_FLOOR = 0.40
MEANING_GAIN = 0.02
QUOTE_WORDS = 14          # a follow-up quotes at most this many of the candidate's words
MAX_PROBE_WORDS = 35
WRONG_LEVEL = 1.0         # a confident answer the judge finds mostly wrong (expected correctness at most this)...
# ...and credits with almost nothing (expected key-point credit under this) is challenged. Chosen on the DL calib
# split for a challenge that is right nine times in ten: 3 of its 41 partial answers challenged and 42 of its 93
# misconceptions, where the level and "no point stated" alone challenged 17 and 66.
WRONG_COVERAGE = 0.10
MIN_REPLY_WORDS = 4       # a follow-up reply with fewer content words of its own ends the probing
# A probe (its quotes left out) this much closer in meaning to the claim it follows than to the question with its
# reference, and under STRAY_FLOOR to the latter, is about the claim. Of the 118 follow-ups of interview-local-v3 one
# passes both (a probe on image classification for "give some applications of DL"), and the follow-up on learning
# rates to "What is end-to-end learning?" that a browser session got does too (0.31 closer, 0.28 to the question).
STRAY_BY = 0.25
STRAY_FLOOR = 0.30

Move = Literal["probe", "challenge", "step-down"]

_UNSURE = re.compile(r"\b(don'?t (really )?know|do not know|not (totally |really |quite |very |entirely )?sure|no idea|"
                     r"i'?m unsure|unsure|i forget|i forgot|can'?t remember|no clue|not certain|i have no idea|"
                     r"i guess|no real idea|haven'?t heard)\b", re.I)
_HEDGE = re.compile(r"^(?:(?:and|but|so|well|um+|uh+|hmm+|i think|i believe|i guess|maybe|perhaps|probably|"
                    r"basically|honestly|actually)\b[\s,]*)+", re.I)
# An ask is a question ("what is...?") or an instruction ("explain...", "give a brief on..."): the rephrase says
# "I'm asking you to <instruction>" for the second kind.
_IMPERATIVE = (r"explain|describe|compare|contrast|give|list|name|compute|calculate|walk|tell|define|derive|discuss|"
               r"outline|suggest|propose|design|identify")
_ASK = re.compile(rf"^(what|why|how|when|where|which|who|whether|should|can|could|would|do|does|did|is|are|"
                  rf"{_IMPERATIVE})\b", re.I)
_INSTRUCTION = re.compile(rf"^({_IMPERATIVE})\b", re.I)
_SPLIT_ASKS = re.compile(r"(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|;\s*)(?=(?:what|why|how|when|where|which|whether)\b)",
                         re.I)

_LINES = load_interview()
_KINDS: tuple[tuple[str, str], ...] = tuple((k["pattern"], k["kind"]) for k in _LINES["answer_kinds"])
DEPTH: dict[str, str] = _LINES["depth"]
_GENERIC_CLARIFY = frozenset("mean meant exactly clarify clarification asking ask question rephrase explain please "
                             "sorry understand get could would like want again said saying".split())
_DEPTH_CLARIFY = re.compile(r"\b(how (much|long|deep|detailed)|detail|depth|level of|in depth)\b", re.I)


# --- the leak check ------------------------------------------------------------------------------------------------

def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", (text or "").lower())


def _ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    toks = _tokens(text)
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def _known(question: str, said: str) -> set[str]:
    """The content words the candidate has already seen or said."""
    return set(content_words(question)) | set(content_words(said))


def lexical_leak(line: str, secret: str, question: str, said: str = "") -> bool:
    """Most of the secret's own content words (those neither the question nor the candidate used), or a 5-word run of
    it that neither the question nor the candidate's words contain."""
    known = _known(question, said)
    own = set(content_words(secret)) - known
    if len(own) >= 3 and len(own & set(content_words(line))) / len(own) >= WORD_SHARE:
        return True
    return bool(_ngrams(line) & (_ngrams(secret) - _ngrams(question) - _ngrams(said)))


Embed = Callable[[list[str]], np.ndarray]


def _default_embed(texts: list[str]) -> np.ndarray:
    from interviewer.bank.embeddings import get_embedder

    return get_embedder().embed(texts)


class LeakCheck:
    """`reason(line, secrets, question)`: why the line gives a secret away ("words", "ngram", "meaning"), or None.

    Without embeddings (the model failed to load) only the lexical check runs; the failure is kept, not retried.
    """

    def __init__(self, embed: Embed | None = _default_embed, *, floor: float = MEANING_FLOOR,
                 gain: float = MEANING_GAIN) -> None:
        self.embed = embed
        self.floor, self.gain = floor, gain
        self.embed_error: str | None = None

    def similarities(self, line: str, secrets: list[str], question: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(line vs each secret, question vs each secret) cosines, or None without embeddings."""
        if self.embed is None or not secrets:
            return None
        try:
            vecs = self.embed([line, question, *secrets])
        except Exception as e:  # noqa: BLE001 - remembered: the lexical check goes on alone
            self.embed, self.embed_error = None, f"{type(e).__name__}: {e}"
            return None
        return vecs[2:] @ vecs[0], vecs[2:] @ vecs[1]

    def reason(self, line: str, secrets: list[str], question: str, said: str = "") -> str | None:
        for secret in secrets:
            if lexical_leak(line, secret, question, said):
                return "words"
        # The candidate's own words, quoted back, tell them nothing new: judge the meaning of the rest.
        own = re.sub(r"“([^”]*)”", lambda m: "" if said and m.group(1) in said else m.group(0), line)
        sims = self.similarities(own, secrets, question)
        if sims is not None:
            line_sim, question_sim = sims
            if np.any((line_sim >= self.floor) & (line_sim - question_sim >= self.gain)):
                return "meaning"
        return None

    def leaks(self, line: str, secrets: list[str], question: str, said: str = "") -> bool:
        return self.reason(line, secrets, question, said) is not None


def secrets_of(reference: str, key_points: list[str]) -> list[str]:
    """What no interviewer line may state: each key point and each sentence of the reference."""
    return [*key_points, *(s for s in sentences(reference) if len(s.split()) >= 4)]


# --- clarifications ------------------------------------------------------------------------------------------------

def question_parts(question: str) -> tuple[list[str], list[str]]:
    """(context, asks): the question's set-up sentences and the things it asks, in its own words."""
    context, asks = [], []
    for piece in sentences(question):
        subs = [s.strip(" ,;.?!") for s in _SPLIT_ASKS.split(piece)]
        subs = [s for s in subs if s]
        if piece.endswith("?") or _ASK.match(piece):
            asks.extend(subs)
        else:
            context.append(piece.rstrip("."))
    return context, asks or [question.strip(" ?")]


REPHRASE: dict[str, str] = _LINES["rephrase"]  # open, setting, one, one_instruction, several, item, close
REDIRECT: dict[str, str] = _LINES["redirect"]  # topic, other, quote, plain, again; how the ask is put
DEFAULT_KIND = "a clear explanation"


def kind_of_answer(ask: str) -> str:
    for pattern, kind in _KINDS:
        if re.match(pattern, ask.strip(), re.I):
            return kind
    return DEFAULT_KIND


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def rephrase(question: str, tier: str) -> str:
    """The question restated part by part, with the depth and kind of answer expected: its own words only."""
    context, asks = question_parts(question)
    depth = DEPTH.get(tier, DEPTH["intermediate"])
    if len(asks) == 1:
        template = REPHRASE["one_instruction" if _INSTRUCTION.match(asks[0]) else "one"]
        body = template.format(ask=_lower_first(asks[0]), kind=kind_of_answer(asks[0]))
    else:
        items = "; ".join(REPHRASE["item"].format(i=i, ask=_lower_first(a), kind=kind_of_answer(a))
                          for i, a in enumerate(asks, 1))
        body = REPHRASE["several"].format(n=len(asks), items=items)
    setting = [REPHRASE["setting"]] if context else []
    return " ".join([REPHRASE["open"], *setting, body, depth, REPHRASE["close"]])


def asked(question: str) -> str:
    """What the question asks, in its own words, to follow "I'm asking": "what is dropout", "you to explain...",
    "2 things: (1) why...; (2) give..."."""
    asks = [_lower_first(a) for a in question_parts(question)[1]]
    if len(asks) == 1:
        return REDIRECT["ask_instruction"].format(ask=asks[0]) if _INSTRUCTION.match(asks[0]) else asks[0]
    items = "; ".join(REDIRECT["item"].format(i=i, ask=a) for i, a in enumerate(asks, 1))
    return REDIRECT["several"].format(n=len(asks), items=items)


def generic_clarification(message: str, question: str) -> bool:
    """A request to restate ("what do you mean exactly?") rather than a question about a term or a case."""
    own = set(content_words(message)) - _GENERIC_CLARIFY - set(content_words(question))
    return not own


def asks_depth(message: str) -> bool:
    return bool(_DEPTH_CLARIFY.search(message))


# --- follow-ups ----------------------------------------------------------------------------------------------------

def unsure(answer: str) -> bool:
    return bool(_UNSURE.search(answer or ""))


class FollowupPlan(BaseModel):
    move: Move
    target: str
    quote: str | None = None


def _clauses(text: str) -> list[str]:
    out = []
    for s in sentences(text, also_at=CLAUSE_ENDS) or [text]:
        out.extend(c.strip() for c in re.split(r"[,;:()]|\s[-–—]\s|\bbut\b|\bbecause\b|\bwhich\b", s) if c.strip())
    return out


def _trim(clause: str) -> str:
    clause = _HEDGE.sub("", clause.strip()).strip(" ,.;:!?\"'“”")
    words = clause.split()
    if len(words) > QUOTE_WORDS:
        clause = " ".join(words[:QUOTE_WORDS])
    return clause


def pick_quote(answer: str, target: str, *, preferred: str | None = None, embed: Embed | None = None) -> str | None:
    """A verbatim piece of the answer (at most QUOTE_WORDS words) to start a follow-up from: the grader's quote for the
    point when it has one, else the clause closest in meaning to the point, else the first clause with content."""
    sources = ([preferred] if preferred and preferred in answer else []) + [answer]
    for source in sources:  # the grader's quote may hold nothing quotable ("WRONG."): then the whole answer
        clauses = [c for c in (_trim(c) for c in _clauses(source)) if len(content_words(c)) >= 2 and not unsure(c)]
        if clauses:
            break
    else:
        return None
    best = clauses[0]
    if embed is not None and len(clauses) > 1:
        try:
            vecs = embed([target, *clauses])
            best = clauses[int(np.argmax(vecs[1:] @ vecs[0]))]
        except Exception:  # noqa: BLE001 - the first clause will do
            pass
    return best if best in answer else None


def correctness(grade: Grade) -> float | None:
    return next((c.score for c in grade.criteria if c.name == "correctness"), None)


def plan_followup(answer: str, grade: Grade, probed: list[str], important: int) -> FollowupPlan | None:
    """Which key point to follow up on, and how: a contradiction first, then a missing or partly stated point among
    the important ones, then any other; None when nothing is left to probe. A confident answer judged mostly wrong
    that states no key point and earns almost no credit is challenged too (the judge seldom says "contradicted" of
    a single point when the whole answer is off)."""
    fresh = [k for k in grade.key_points if k.point not in probed]
    contradicted = next((k for k in fresh if k.status == "contradicted"), None)
    if contradicted is not None:
        return FollowupPlan(move="challenge", target=contradicted.point, quote=contradicted.quote)
    gaps = [k for k in fresh if k.status in ("missing", "partly")]
    gaps.sort(key=lambda k: (grade.key_points.index(k) >= important, k.status != "missing"))
    if not gaps:
        return None
    level = correctness(grade)
    # A short correct answer also gets a low correctness level; it credits a key point, a misconception none.
    wrong = (level is not None and level <= WRONG_LEVEL and grade.features.get("coverage", 0.0) < WRONG_COVERAGE
             and not any(k.status in ("covered", "partly") for k in grade.key_points))
    move: Move = "step-down" if unsure(answer) else "challenge" if wrong else "probe"
    return FollowupPlan(move=move, target=gaps[0].point, quote=gaps[0].quote if gaps[0].status == "partly" else None)


OPENERS: dict[Move, tuple[str, ...]] = {move: tuple(lines) for move, lines in _LINES["openers"].items()}
OPENERS_UNQUOTED: dict[Move, str] = _LINES["openers_unquoted"]


def substantive(reply: str, question: str) -> bool:
    """A follow-up reply that says something ("Yes, I'm sure." and "I don't know" do not)."""
    own = set(content_words(reply)) - set(content_words(question))
    return len(own) >= MIN_REPLY_WORDS and not (unsure(reply) and len(own) < 2 * MIN_REPLY_WORDS)


FALLBACK_PROBES: dict[Move, tuple[str, ...]] = {move: tuple(lines) for move, lines in _LINES["fallback_probes"].items()}


def _frame_words() -> frozenset[str]:
    """The content words of the fixed text the templated lines are built from (slots such as {quote} left out)."""
    texts = [*REPHRASE.values(), *REDIRECT.values(), DEFAULT_KIND,
             *DEPTH.values(), *(kind for _, kind in _KINDS), *(t for ts in OPENERS.values() for t in ts),
             *OPENERS_UNQUOTED.values(), *(t for ts in FALLBACK_PROBES.values() for t in ts)]
    return frozenset(content_words(re.sub(r"\{\w+\}", " ", " ".join(texts))))


FRAME_WORDS = _frame_words()


def restates_question(line: str, question: str, said: str = "") -> bool:
    """Every content word of the line is the question's, the candidate's or the templates' own fixed words. Holds of
    a template filled from the question (a clarification's rephrase): such a line cannot state what the question
    does not. Not a test for a model-written line, which can recombine the question's words into its answer."""
    return set(content_words(line)) <= _known(question, said) | FRAME_WORDS


def strays(probe: str, question: str, reference: str, claim: str, embed: Embed | None) -> bool:
    """The probe is about the candidate's claim rather than the question (see STRAY_BY); False without embeddings."""
    if embed is None or not claim.strip():
        return False
    own = re.sub(r"“[^”]*”", " ", probe)
    try:
        vecs = embed([own, f"{question} {reference}", claim])
    except Exception:  # noqa: BLE001 - the grounding and leak checks still run
        return False
    to_question, to_claim = float(vecs[0] @ vecs[1]), float(vecs[0] @ vecs[2])
    return to_claim - to_question >= STRAY_BY and to_question < STRAY_FLOOR


def opener(plan: FollowupPlan, n: int = 0) -> str:
    if plan.quote:
        options = OPENERS[plan.move]
        return options[n % len(options)].format(quote=plan.quote)
    return OPENERS_UNQUOTED[plan.move]


_PROMPT_WORDING = re.compile(r"\bsecret\b|\bmissing point\b|\bthe point\b", re.I)
_THIRD_PERSON = re.compile(r"\bthe (candidate|interviewee|student)\b", re.I)


def addresses(text: str) -> bool:
    """A model-written line speaks to the candidate, not about them, and not in the prompt's words."""
    return not (_PROMPT_WORDING.search(text) or _THIRD_PERSON.search(text))


def usable_probe(text: str) -> bool:
    """A model-written follow-up is one short question, put to the candidate."""
    return (text.endswith("?") and 3 <= len(text.split()) <= MAX_PROBE_WORDS and text.count("?") <= 2
            and addresses(text))


# --- hints ---------------------------------------------------------------------------------------------------------

def usable_hint(text: str) -> bool:
    """A model-written hint points with a question, put to the candidate. A statement about the topic states the point:
    in interview-local-v3 the 3 model pointers that passed the leak check were statements, and each gave a key point
    away on reading."""
    return text.rstrip().endswith("?") and addresses(text)


HINT_LEVELS = ("nudge", "pointer")


def area_of(concepts: list[str]) -> str:
    return " and ".join(c.replace("-", " ") for c in concepts[:2]) or "the underlying mechanism"


def term_counts(texts: list[str]) -> Counter:
    """In how many of `texts` (e.g. every key point of the bank) each content word occurs: rare means specific."""
    return Counter(w for t in texts for w in set(content_words(t)))


GENERIC_TERMS = frozenset("first second feature features parameter parameters itself works relies reaches present "
                          "applying kept spread using used uses makes needs means every often usually instead rather "
                          "because through between without within across another different important simple "
                          "particular specific example examples process processes result results value values".split())


def keyword_of(point: str, question: str, counts: Counter | None = None) -> str:
    """The point's most telling term that the question does not use: a code-like token (pack_padded_sequence,
    224x224, co-adaptation), else its longest content word that is not a generic one, rarer words first on ties."""
    asked = set(content_words(question))
    for token in point.split():
        token = token.strip(".,;:()[]'\"")
        if re.fullmatch(r"[A-Za-z][\w.-]*[A-Za-z0-9]", token) and re.search(r"[_\d]|-|[a-z][A-Z]", token) \
                and token.lower() not in asked:
            return token
    counts = counts or Counter()
    words = [w for w in dict.fromkeys(content_words(point))
             if w not in asked and w not in GENERIC_TERMS and len(w) > 3 and not w.isdigit()]
    if not words:
        return "the underlying mechanism"
    return max(words, key=lambda w: (len(w), -counts[w]))


POINTER_PROBE: str = _LINES["pointer_probe"]
FALLBACK_HINTS: dict[str, tuple[str, ...]] = {level: tuple(ts) for level, ts in _LINES["fallback_hints"].items()}


def pointer_probe(point: str, question: str, counts: Counter | None = None) -> str:
    return POINTER_PROBE.format(keyword=keyword_of(point, question, counts))


def fallback_hints(level: int, point: str, question: str, concepts: list[str],
                   counts: Counter | None = None) -> list[str]:
    """Templated hints, strongest first; the last of each level names only the question's concepts (safe as is)."""
    templates = FALLBACK_HINTS[HINT_LEVELS[0] if level == 0 else HINT_LEVELS[1]]
    area, keyword = area_of(concepts), keyword_of(point, question, counts)
    return [t.format(area=area, keyword=keyword) for t in templates]
