"""Retrieval levers (not the shipped search), measured on scripts/bench_retrieval.py's fixtures: spelling repair of
query words and BM25 fusion, applied around the shipped `Store.search`. Needs the `experiments` extra (bm25s,
symspellpy).

    python experiments/retrieval_levers.py --lever spell+bm25   # one lever (see LEVERS)
    python experiments/retrieval_levers.py --table              # every lever, one table
    python experiments/retrieval_levers.py --show-repairs       # the query words the speller changes

- "dense": the shipped search alone (MiniLM).
- "spell": query words that neither the bank nor English knows are repaired to the closest bank word first (`Speller`).
- "bm25": a BM25 ranking of whole questions (`LexicalIndex`) is fused with the dense ranking by reciprocal rank (`rrf`).
- "spell+bm25": both; the repaired query feeds both rankings.

Measured on the three fixtures, neither lever raised top-1 on people's phrasing (spoken, blind) and BM25 fusion lowered
it: the shipped search stays dense. Both aids are built once from the bank (`interviewer.bank.bank.load_bank`):
its questions and the chunks of its reference documents, the texts the store holds.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from interviewer.bank.bank import Question, load_bank
from interviewer.bank.chunking import reference_chunks
from interviewer.bank.store import Store, ensure_ingested

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the benchmark's fixtures and measure
from bench_retrieval import FIXTURES, fixtures, load, measure, report  # noqa: E402

LEVERS = ("dense", "spell", "bm25", "spell+bm25", "question-form", "two-chunks")
DEFAULT_LEVER = "dense"  # the shipped search
# Reciprocal-rank fusion's k: 60 is the value Cormack et al. found robust across collections; it keeps the fused order
# close to a vote between the two rankings, so one ranker's first place alone cannot outweigh agreement lower down.
RRF_K = 60
# question-form: a short query (a topic, "kv cache") is asked as the bank's questions are asked, "What is kv cache?",
# since MiniLM reads a bare two-word phrase weakly; up to this many words.
QUESTION_FORM_WORDS = 3
QUESTION_FORM = "What is {query}?"
# two-chunks: a question's score is its best chunk's cosine plus this share of its second best (agreement between a
# question's parts), instead of the best alone.
SECOND_CHUNK_SHARE = 0.3

# -- spelling ------------------------------------------------------------------------------------------------------
# Words shorter than this are never repaired: at 4 letters one edit reaches too many real words (loss/less/lose,
# relu/rely) and short query words are mostly acronyms (kv, gpu, lstm, bert) that no vocabulary lists.
MIN_REPAIR_LEN = 5
# Edits allowed (optimal string alignment: insert, delete, substitute, swap two neighbours). Most typing errors are
# one such edit (Damerau 1964: about 80%); 5-7 letter words get one, since two edits on a short word reach unrelated
# words; words of 8+ letters may hold two (backpropogation, distilation) and stay far from other long words.
LONG_WORD = 8
MAX_EDITS_SHORT, MAX_EDITS_LONG = 1, 2

_WORD = re.compile(r"[A-Za-z]+")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Words never repaired: MiniLM's whole-word wordpieces (30k, uncased BERT) and symspellpy's English frequency
    dictionary (83k words with their inflections: the wordpieces alone lack detaching, pasting, flagging...)."""
    from importlib import resources

    from tokenizers import Tokenizer

    from interviewer.bank.embeddings import model_paths

    vocab = Tokenizer.from_file(str(model_paths()[1])).get_vocab()
    known = {w for w in vocab if w.isalpha() and w.islower()}
    text = (resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
    known.update(line.split(" ", 1)[0] for line in text.splitlines() if line)
    return frozenset(known)


# A word built from a known English word with one of these is known too (recommender, unfreezing): the dictionary
# lists base forms better than derived ones. Longer suffixes (-ings, -ation) are left out: they would pass typos
# built on a correct stem (embedings, distilation).
SUFFIXES = ("s", "es", "d", "ed", "er", "ers", "ing")
PREFIXES = ("un", "re")


class Speller:
    """Replaces a query word that neither the bank nor English knows by the closest bank word (symspellpy)."""

    def __init__(self, bank_words: Counter[str], known: frozenset[str] | None = None) -> None:
        from symspellpy import SymSpell

        self.counts = bank_words
        self.known = known if known is not None else english_words()
        self._symspell = SymSpell(max_dictionary_edit_distance=MAX_EDITS_LONG)
        for w, n in bank_words.items():
            if len(w) >= MIN_REPAIR_LEN - MAX_EDITS_LONG:
                self._symspell.create_dictionary_entry(w, n)

    def is_known(self, word: str) -> bool:
        w = word.lower()
        if w in self.counts or w in self.known:
            return True
        return (any(w.endswith(s) and w[:-len(s)] in self.known for s in SUFFIXES)
                or any(w.startswith(p) and w[len(p):] in self.known for p in PREFIXES))

    def repair_word(self, word: str) -> str | None:
        """The bank word to use instead, or None to keep the word."""
        from symspellpy import Verbosity

        w = word.lower()
        if len(w) < MIN_REPAIR_LEN or self.is_known(w):
            return None
        cutoff = MAX_EDITS_LONG if len(w) >= LONG_WORD else MAX_EDITS_SHORT
        # CLOSEST: every bank word at the smallest distance (Damerau-OSA), the commoner first: the likelier intended
        # word, and either way one the bank uses.
        found = self._symspell.lookup(w, Verbosity.CLOSEST, max_edit_distance=cutoff, transfer_casing=False)
        return found[0].term if found else None

    def repair(self, query: str) -> str:
        def swap(m: re.Match) -> str:
            fixed = self.repair_word(m.group(0))
            return m.group(0) if fixed is None else fixed

        return _WORD.sub(swap, query)


def bank_words(questions: list[Question], reference_texts: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for q in questions:
        for text in (q.question, q.reference_answer, *q.key_points, *(c.replace("-", " ") for c in q.concepts)):
            counts.update(words(text))
    for text in reference_texts:
        counts.update(words(text))
    return counts


# -- BM25 over questions ---------------------------------------------------------------------------------------------
def _fold(token: str) -> str:
    """A plural fold (gradients -> gradient, losses -> loss): enough for the bank's nouns, no stemmer dependency."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("sses", "xes", "ches", "shes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    raw = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    return [[_fold(t) for t in doc] for doc in raw]


def question_document(q: Question, with_answer: bool = False) -> str:
    parts = [q.question, " ".join(c.replace("-", " ") for c in q.concepts), *q.key_points]
    if with_answer:
        parts.append(q.reference_answer)
    return "\n".join(parts)


class LexicalIndex:
    """BM25 (bm25s, Lucene variant, k1 1.5, b 0.75: the library's defaults) over one document per question."""

    def __init__(self, questions: list[Question], with_answer: bool = False) -> None:
        import bm25s

        self.ids = [q.id for q in questions]
        self._retriever = bm25s.BM25()
        self._retriever.index(_tokens([question_document(q, with_answer) for q in questions]), show_progress=False)

    def rank(self, query: str) -> list[str]:
        """Question ids with a positive score, best first."""
        toks = _tokens([query])[0]
        if not toks or not self.ids:
            return []
        scores = self._retriever.get_scores(toks)
        order = np.argsort(-scores, kind="stable")
        return [self.ids[i] for i in order if scores[i] > 0]


def rrf(rankings: list[list[str]], k: int = RRF_K) -> list[str]:
    """Reciprocal-rank fusion (Cormack, Clarke & Buettcher 2009): sum of 1 / (k + rank), rank from 1."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for r, item in enumerate(ranking, start=1):
            score[item] = score.get(item, 0.0) + 1.0 / (k + r)
    return sorted(score, key=lambda i: -score[i])


# -- the levers around Store.search ------------------------------------------------------------------------------------
def dense_candidates(store: Store, query: str, k: int) -> list[str]:
    """The dense ranking BM25 is fused with: each question's best chunk among the chunks the shipped search reads
    for k results (k * 4 + 12, store.Store.search), best first."""
    hits = store.search(query, k=k * 4 + 12, per_question=False)  # question chunks, best first
    return list(dict.fromkeys(h.question_id for h in hits))


def two_chunk_ranking(store: Store, query: str, k: int) -> list[str]:
    """Questions ranked by best chunk + SECOND_CHUNK_SHARE x second best, over the chunks the shipped search reads."""
    scores: dict[str, list[float]] = {}
    for h in store.search(query, k=k * 4 + 12, per_question=False):
        scores.setdefault(h.question_id, []).append(h.score)
    def score(qid: str) -> float:
        best = sorted(scores[qid], reverse=True) + [0.0]
        return best[0] + SECOND_CHUNK_SHARE * best[1]
    return sorted(scores, key=lambda qid: -score(qid))


class Levers:
    """The speller and BM25 index of one bank, and a search that applies a lever around the shipped one."""

    def __init__(self, knowledge_dir: Path, bm25_with_answer: bool = False, rrf_k: int = RRF_K) -> None:
        bank = load_bank(knowledge_dir)
        questions = sorted(bank.questions, key=lambda q: q.id)
        references = [c.text for r in bank.references for c in reference_chunks(r)]
        self.speller = Speller(bank_words(questions, references))
        self.index = LexicalIndex(questions, with_answer=bm25_with_answer)
        self.rrf_k = rrf_k

    def search(self, store: Store, query: str, k: int, lever: str = DEFAULT_LEVER) -> list[str]:
        """Question ids, best first: the shipped search for "dense", else it with the lever applied."""
        if lever not in LEVERS:
            raise ValueError(f"unknown lever {lever!r}; known: {', '.join(LEVERS)}")
        if "spell" in lever:
            query = self.speller.repair(query)
        if lever == "question-form" and len(query.split()) <= QUESTION_FORM_WORDS:
            query = QUESTION_FORM.format(query=query)
        if lever == "two-chunks":
            return two_chunk_ranking(store, query, k)[:k]
        if "bm25" not in lever:
            return [h.question_id for h in store.search(query, k=k)]
        return rrf([dense_candidates(store, query, k), self.index.rank(query)], self.rrf_k)[:k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lever", choices=LEVERS, default=DEFAULT_LEVER, help=f"default: the shipped {DEFAULT_LEVER!r}")
    ap.add_argument("--table", action="store_true", help="run every lever and print one table")
    ap.add_argument("--rrf-k", type=int, default=RRF_K, help="reciprocal-rank fusion k (bm25 levers)")
    ap.add_argument("--bm25-answer", action="store_true", help="BM25 documents include the reference answer")
    ap.add_argument("--show-repairs", action="store_true", help="print every fixture query the speller changes")
    args = ap.parse_args()
    store = Store()
    ensure_ingested(store)
    sets = fixtures()
    levers = Levers(store.settings.knowledge_dir, bm25_with_answer=args.bm25_answer, rrf_k=args.rrf_k)

    def search(lever: str):
        return lambda query, k: levers.search(store, query, k, lever)

    if args.show_repairs:
        for name in sets:
            for q in load(FIXTURES[name]):
                fixed = levers.speller.repair(q["query"])
                if fixed != q["query"]:
                    print(f"{name:16} {q['query']!r} -> {fixed!r}")
        return
    if args.table:
        print(f"{'lever':11} | {'fixture':15} | {'n':>3} | {'top-1 [95% CI]':>24} | {'top-3 [95% CI]':>25} | p50 / p95 ms")
        for lever in LEVERS:
            for name, (queries, _) in sets.items():
                r = measure(search(lever), queries)
                print(f"{lever:11} | {name:15} | {r['n']:3} | {r['top1']:6.1%} [{r['ci1'][0]:5.1%}, {r['ci1'][1]:5.1%}] | "
                      f"{r['top3']:6.1%} [{r['ci3'][0]:5.1%}, {r['ci3'][1]:6.1%}] | {r['p50']:.1f} / {r['p95']:.1f}")
        return
    print(f"lever: {args.lever}")
    report(search(args.lever), sets)


if __name__ == "__main__":
    main()
