"""Key-point judgements that survive paraphrase, abbreviation, negation and contradiction.

For every key point (a rubric point, or a reference sentence when the rubric has
none) the answer is cut into spans (the whole answer, its sentences, clauses, and
pairs of neighbouring sentences) and each (key point, span) pair is scored by a
small entailment-style classifier: P(the span states the point), P(it states the
opposite), P(neither). The classifier is a logistic regression on

* MiniLM pair features: cosine, and the element-wise product and absolute
  difference of the two sentence vectors (the classic sentence-pair NLI features);
* lexical alignment: how many of the key point's words the span has, literally
  (after light stemming) or softly (MiniLM word vectors: "removes" ~ "deletes");
* polarity: negations on either side and whether their parity differs, antonym
  substitutions ("first in first out" for "last in first out"), numbers that differ;

after abbreviations are expanded on both sides ("LIFO" -> "last in first out",
learnt also from "(LIFO)" after its words anywhere in the question, references or
key points). It is trained on the SemEval-2013 Task 7 training answers (correct /
contradictory / incorrect against reference answers), see
``multimodal.research.keypoint_training`` and ``manage.py train_keypoint_model``,
and ships as ``multimodal/models/keypoint_nli.joblib`` + ``keypoint_nli.json``.

Levels (thresholds chosen by cross-validation on the training answers so that a
"missing" statement is almost never wrong, stored in the artifact's metadata):

* ``met``: P(states) >= ``met`` threshold on the best span, or a span states the
  point in its own words (every content word, in order, same polarity, no antonym or
  number changed: a transparent rule that needs no model);
* ``contradicted``: a span states the point's words with the other polarity or with
  an antonym in place of one of them (``pair_rules``). The classifier's P(opposite)
  is reported (``p_contradicted``, and it feeds the score models) but never decides
  this level alone: trained on SemEval, whose "contradictory" answers are mostly
  wrong in other ways, it was right for under a third of the answers it flagged;
* ``missing``: P(states) <= the ``missing`` threshold on *every* span, nothing is
  even partly similar, and nothing contradicts it: a confident absence;
* ``partial``: P(states) above the ``partial`` threshold and above P(opposite);
* ``unsure`` otherwise: the student is told nothing about this point.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from multimodal.chunking import CHUNK_WORDS
from multimodal.text import split_sentences
from multimodal.text_features import light_stem

__all__ = [
    "ABBREVIATIONS",
    "DEFAULT_MODEL_PATH",
    "KeypointJudgement",
    "KeypointModel",
    "Span",
    "answer_spans",
    "expand_abbreviations",
    "judge_key_points",
    "learn_abbreviations",
    "load_default_model",
    "pair_features",
    "texts_for_judgement",
]

MODEL_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_PATH = MODEL_DIR / "keypoint_nli.joblib"
LABELS: tuple[str, ...] = ("entailed", "contradicted", "neutral")

# Abbreviations students use for textbook phrases (lower-case key -> expansion). Only
# unambiguous ones in the subjects the platform grades; assignments add their own by
# writing "(ABBR)" after the words anywhere in the question, references or key points.
ABBREVIATIONS: dict[str, str] = {
    "lifo": "last in first out",
    "fifo": "first in first out",
    "filo": "first in last out",
    "lilo": "last in last out",
    "bst": "binary search tree",
    "bfs": "breadth first search",
    "dfs": "depth first search",
    "adt": "abstract data type",
    "oop": "object oriented programming",
    "cpu": "central processing unit",
    "alu": "arithmetic logic unit",
    "ram": "random access memory",
    "rom": "read only memory",
    "os": "operating system",
    "ui": "user interface",
    "gui": "graphical user interface",
    "api": "application programming interface",
    "ide": "integrated development environment",
    "io": "input output",
    "i/o": "input output",
    "dbms": "database management system",
    "sql": "structured query language",
    "dna": "deoxyribonucleic acid",
    "rna": "ribonucleic acid",
    "mrna": "messenger rna",
    "trna": "transfer rna",
    "atp": "adenosine triphosphate",
    "co2": "carbon dioxide",
    "h2o": "water",
    "o2": "oxygen",
    "emf": "electromotive force",
    "ac": "alternating current",
    "dc": "direct current",
    "gdp": "gross domestic product",
    "w/": "with",
    "w/o": "without",
    "b/c": "because",
    "bc": "because",
    "approx": "approximately",
    "temp": "temperature",
    "info": "information",
    "diff": "different",
    "amt": "amount",
    "eg": "for example",
    "e.g.": "for example",
    "ie": "that is",
    "i.e.": "that is",
}

NEGATIONS = frozenset(
    {
        "not",
        "no",
        "never",
        "none",
        "nothing",
        "neither",
        "nor",
        "without",
        "cannot",
        "cant",
        "can't",
        "isnt",
        "isn't",
        "arent",
        "aren't",
        "doesnt",
        "doesn't",
        "dont",
        "don't",
        "didnt",
        "didn't",
        "wont",
        "won't",
        "wasnt",
        "wasn't",
        "werent",
        "weren't",
        "hasnt",
        "hasn't",
        "havent",
        "haven't",
        "shouldnt",
        "shouldn't",
        "wouldnt",
        "wouldn't",
        "couldnt",
        "couldn't",
        "nobody",
        "nowhere",
        "unable",
    }
)

_ANTONYM_PAIRS = (
    ("first", "last"),
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("more", "less"),
    ("more", "fewer"),
    ("most", "least"),
    ("high", "low"),
    ("higher", "lower"),
    ("highest", "lowest"),
    ("large", "small"),
    ("larger", "smaller"),
    ("largest", "smallest"),
    ("big", "small"),
    ("bigger", "smaller"),
    ("biggest", "smallest"),
    ("great", "small"),
    ("greater", "less"),
    ("greater", "smaller"),
    ("greatest", "least"),
    ("long", "short"),
    ("longer", "shorter"),
    ("longest", "shortest"),
    ("fast", "slow"),
    ("faster", "slower"),
    ("hot", "cold"),
    ("hotter", "colder"),
    ("warm", "cool"),
    ("warmer", "cooler"),
    ("heavy", "light"),
    ("heavier", "lighter"),
    ("open", "closed"),
    ("open", "close"),
    ("on", "off"),
    ("positive", "negative"),
    ("series", "parallel"),
    ("true", "false"),
    ("correct", "incorrect"),
    ("before", "after"),
    ("top", "bottom"),
    ("front", "back"),
    ("front", "rear"),
    ("same", "different"),
    ("connected", "disconnected"),
    ("connected", "separated"),
    ("conductor", "insulator"),
    ("add", "remove"),
    ("insert", "delete"),
    ("push", "pop"),
    ("enqueue", "dequeue"),
    ("left", "right"),
    ("start", "end"),
    ("beginning", "end"),
    ("head", "tail"),
    ("maximum", "minimum"),
    ("max", "min"),
    ("always", "never"),
    ("all", "none"),
    ("everything", "nothing"),
    ("inside", "outside"),
    ("internal", "external"),
    ("above", "below"),
    ("over", "under"),
    ("up", "down"),
    ("ascending", "descending"),
    ("sorted", "unsorted"),
    ("empty", "full"),
    ("static", "dynamic"),
    ("public", "private"),
    ("local", "global"),
    ("stable", "unstable"),
    ("even", "odd"),
    ("input", "output"),
    ("parent", "child"),
    ("absorb", "reflect"),
    ("attract", "repel"),
    ("expand", "contract"),
    ("gain", "lose"),
    ("win", "lose"),
    ("north", "south"),
    ("east", "west"),
    ("rise", "fall"),
    ("early", "late"),
    ("earlier", "later"),
    ("accept", "reject"),
    ("include", "exclude"),
    ("possible", "impossible"),
    ("visible", "invisible"),
    ("living", "nonliving"),
    ("alive", "dead"),
    ("solid", "liquid"),
    ("liquid", "gas"),
    ("solid", "gas"),
    ("acid", "base"),
    ("complete", "incomplete"),
    ("equal", "unequal"),
    ("same", "opposite"),
    ("similar", "different"),
    ("strong", "weak"),
    ("stronger", "weaker"),
    ("dark", "bright"),
    ("darker", "brighter"),
    ("deep", "shallow"),
    ("wide", "narrow"),
    ("thick", "thin"),
    ("rough", "smooth"),
    ("hard", "soft"),
    ("wet", "dry"),
    ("old", "new"),
    ("older", "newer"),
    ("oldest", "newest"),
    ("young", "old"),
)


def _antonym_map() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for a, b in _ANTONYM_PAIRS:
        sa, sb = light_stem(a), light_stem(b)
        out.setdefault(sa, set()).add(sb)
        out.setdefault(sb, set()).add(sa)
    return {k: frozenset(v) for k, v in out.items()}


ANTONYMS = _antonym_map()

# Function words only: the sklearn list also drops "first", "last", "top", "not",
# "same"..., which are exactly the words a key point can hinge on.
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its it's they them their there here is are was were be been being am
    do does did done has have had having of to for by with as at from into onto about than then so such
    and or but if because while which who whom whose what when where why how will would shall should can
    could may might must also just very really i me my we our you your he him his she her one ones
    some any each every thing things something anything way ways like""".split()
)

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['/][A-Za-z0-9]+)?")
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[;:]|,\s*(?:and|but|so|because|while|whereas|which)\b|\s(?:but|because|whereas|while|so that)\s)\s*",
    re.IGNORECASE,
)
_ABBR_FIRST = re.compile(r"\b([A-Z][A-Za-z0-9]{1,9})\s*\(([A-Za-z][A-Za-z \-]{2,80})\)")
_ABBR_PAREN = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9/]{1,9})\s*\)")
MIN_SPAN_WORDS = 2
MAX_SPANS = 60
LONG_ANSWER_CLAUSE_SENTENCES = 8


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; hyphens and slashes between words split ("last-in")."""
    return [t.lower() for t in _TOKEN.findall((text or "").replace("-", " "))]


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return light_stem(word)


def key_words(text: str) -> list[str]:
    """Stemmed tokens without function words (negations are kept)."""
    return [_stem(t) for t in tokens(text) if t not in FUNCTION_WORDS or t in NEGATIONS]


def content_tokens(text: str) -> list[str]:
    """Lower-case tokens without function words or negations (what soft matching aligns)."""
    return [t for t in tokens(text) if t not in FUNCTION_WORDS and t not in NEGATIONS]


# ------------------------------------------------------------------- abbreviations


def learn_abbreviations(texts: Sequence[str]) -> dict[str, str]:
    """ "last-in first-out (LIFO)" anywhere in ``texts`` -> {"lifo": "last in first out"}.

    The words before the parenthesis are taken when their initials spell the
    abbreviation (the shortest such run of up to 8 words).
    """
    return dict(_learn_abbreviations(tuple(texts)))


@lru_cache(maxsize=4096)
def _learn_abbreviations(texts: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out: dict[str, str] = {}
    for text in texts:
        for m in _ABBR_PAREN.finditer(text or ""):
            abbr = m.group(1).lower()
            letters = re.sub(r"[^a-z]", "", abbr)
            if len(letters) < 2:
                continue
            words = tokens(text[max(0, m.start() - 120) : m.start()])[-8:]
            for n in range(len(letters), 0, -1):
                cand = words[-n:] if n <= len(words) else []
                if cand and "".join(w[0] for w in cand) == letters:
                    out[abbr] = " ".join(cand)
                    break
        for m in _ABBR_FIRST.finditer(text or ""):  # "ADT (abstract data type)"
            abbr, words = m.group(1).lower(), tokens(m.group(2))
            if 2 <= len(words) <= 8 and "".join(w[0] for w in words) == re.sub(r"[^a-z]", "", abbr):
                out[abbr] = " ".join(words)
    return tuple(sorted(out.items()))


def expand_abbreviations(text: str, extra: Mapping[str, str] | None = None) -> str:
    """Every known abbreviation is followed by its expansion: "LIFO" -> "LIFO (last in first out)".

    The abbreviation stays (the sentence still reads the same); an expansion already
    written next to it is not repeated.
    """
    if not text:
        return text or ""
    return _expand(text, tuple(sorted((extra or {}).items())))


_ABBR_TOKEN = re.compile(r"(?<![\w/])[A-Za-z][A-Za-z0-9]*(?:[./][A-Za-z0-9]+)*\.?(?![\w/])")


@lru_cache(maxsize=200_000)
def _expand(text: str, extra: tuple[tuple[str, str], ...]) -> str:
    table = {**ABBREVIATIONS, **dict(extra)}
    lowered = text.lower().replace("-", " ")

    def repl(m: re.Match[str]) -> str:
        word = m.group(0)
        exp = table.get(word.lower())
        if not exp:
            return word
        # "os"/"io"/"ie"/... also are ordinary letter pairs: expand only upper-case forms
        if len(word) <= 2 and not word.isupper():
            return word
        if exp in lowered[max(0, m.start() - 60) : m.end() + 60]:
            return word
        return f"{word} ({exp})"

    return _ABBR_TOKEN.sub(repl, text)


# --------------------------------------------------------------------------- spans


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int
    kind: str  # "answer" | "sentence" | "clause" | "window"


def answer_spans(answer: str, max_spans: int = MAX_SPANS) -> list[Span]:
    """The answer, its sentences, clauses of longer sentences and neighbouring pairs.

    Offsets are character positions in ``answer``. Spans shorter than
    ``MIN_SPAN_WORDS`` words are dropped (a lone "and" is evidence of nothing); at
    most ``max_spans`` are returned (the answer and sentences first). A long answer
    (an essay: more than ``CHUNK_WORDS`` words) is judged sentence by sentence: the
    whole text and sentence pairs are not spans, clauses only when it has few sentences.
    """
    text = answer or ""
    stripped = text.strip()
    if not stripped:
        return []
    long_answer = len(stripped.split()) > CHUNK_WORDS
    out: list[Span] = []
    if not long_answer:
        out.append(Span(stripped, text.find(stripped), text.find(stripped) + len(stripped), "answer"))
    seen = {stripped}
    sentences: list[Span] = []
    pos = 0
    for s in split_sentences(text):
        i = text.find(s, pos)
        if i < 0:
            i = text.find(s)
        pos = i + len(s)
        sentences.append(Span(s, i, i + len(s), "sentence"))

    def add(sp: Span) -> None:
        if sp.text not in seen and len(sp.text.split()) >= MIN_SPAN_WORDS:
            seen.add(sp.text)
            out.append(sp)

    for sp in sentences:
        add(sp)
    if long_answer and len(sentences) > LONG_ANSWER_CLAUSE_SENTENCES:
        return out[:max_spans]
    for sp in sentences:
        if len(sp.text.split()) < 2 * MIN_SPAN_WORDS + 2:
            continue
        cpos = 0
        for piece in _CLAUSE_SPLIT.split(sp.text):
            piece = piece.strip(" ,.")
            if not piece:
                continue
            j = sp.text.find(piece, cpos)
            if j < 0:
                continue
            cpos = j + len(piece)
            add(Span(piece, sp.start + j, sp.start + j + len(piece), "clause"))
    if not long_answer:
        for a, b in zip(sentences, sentences[1:], strict=False):
            add(Span(text[a.start : b.end], a.start, b.end, "window"))
    return out[:max_spans]


# ------------------------------------------------------------------------ features

SCALAR_NAMES: tuple[str, ...] = (
    "cos",
    "cos_expanded",
    "cos_answer",
    "cos_question_point",
    "recall",
    "precision",
    "recall_demoted",
    "soft_recall_mean",
    "soft_recall_min",
    "unmatched_share",
    "unmatched_demoted_share",
    "lcs_ratio",
    "neg_point",
    "neg_span",
    "neg_mismatch",
    "antonym_sub",
    "antonym_sub_rev",
    "number_mismatch",
    "point_words_log",
    "span_words_log",
    "span_is_answer",
)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            cur[j] = prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1])
        prev = cur
    return prev[-1]


def antonym_substitutions(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """Words of ``a`` replaced by an antonym in ``b`` (and the reverse), counted as
    multisets so "first in first out" for "last in first out" is one substitution."""
    ca, cb = Counter(a), Counter(b)
    only_a, only_b = ca - cb, cb - ca
    sub = sum(1 for w in only_a if ANTONYMS.get(w, frozenset()) & only_b.keys())
    rev = sum(1 for w in only_b if ANTONYMS.get(w, frozenset()) & only_a.keys())
    return sub, rev


def _neg_count(toks: Sequence[str]) -> int:
    return sum(1 for t in toks if t in NEGATIONS or t.endswith("n't"))


@dataclass
class PairContext:
    """What pair features need besides the two texts: vectors and word vectors."""

    vec: Callable[[Sequence[str]], np.ndarray]  # text -> unit vector rows
    word_vec: Callable[[Sequence[str]], np.ndarray] | None = None  # stemmed word -> unit vector rows


def _soft_recall(p_words: list[str], s_words: list[str], word_vec: Any) -> tuple[float, float, np.ndarray]:
    """Per key-point word, the best match in the span: 1 if the stems agree, else the
    word-vector cosine of the surface words."""
    if not p_words:
        return 1.0, 1.0, np.zeros(0)
    if not s_words:
        return 0.0, 0.0, np.zeros(len(p_words))
    s_stems = {_stem(w) for w in s_words}
    best = np.array([1.0 if _stem(w) in s_stems else 0.0 for w in p_words])
    if word_vec is not None:
        need = [i for i, w in enumerate(p_words) if best[i] < 1.0]
        if need:
            pv = word_vec([p_words[i] for i in need])
            sv = word_vec(sorted(set(s_words)))
            best[need] = np.clip((pv @ sv.T).max(axis=1), 0.0, 1.0)
    return float(best.mean()), float(best.min()), best


@dataclass(frozen=True)
class _Analysed:
    tokens: tuple[str, ...]
    surface: tuple[str, ...]
    stems: tuple[str, ...]
    stem_set: frozenset[str]
    negations: int
    numbers: frozenset[str]


@lru_cache(maxsize=200_000)
def _analysed(text: str) -> _Analysed:
    """Tokens, content words, stems, negations and numbers of one text (cached: key
    points and spans recur in every pair they take part in)."""
    toks = tuple(tokens(text))
    surface = tuple(t for t in toks if t not in FUNCTION_WORDS and t not in NEGATIONS)
    stems = tuple(_stem(w) for w in surface)
    return _Analysed(
        toks, surface, stems, frozenset(stems), _neg_count(toks), frozenset(t for t in toks if t[0].isdigit())
    )


@lru_cache(maxsize=20_000)
def _question_words(question: str) -> frozenset[str]:
    return frozenset(key_words(question))


def pair_scalar_features(
    point: str,
    span: str,
    *,
    answer_vec: np.ndarray,
    question: str,
    abbreviations: Mapping[str, str],
    ctx: PairContext,
    span_is_answer: bool,
) -> np.ndarray:
    """``SCALAR_NAMES`` for one (key point, span) pair."""
    p_exp = expand_abbreviations(point, abbreviations)
    s_exp = expand_abbreviations(span, abbreviations)
    v = ctx.vec([point, span, p_exp, s_exp, question or point])
    cos, cos_exp = float(v[0] @ v[1]), float(v[2] @ v[3])
    cos_answer, cos_qp = float(v[2] @ answer_vec), float(v[4] @ v[2]) if question else 0.0
    pa, sa = _analysed(p_exp), _analysed(s_exp)
    q_words = _question_words(question)
    ps, ss = pa.stem_set, sa.stem_set
    recall = len(ps & ss) / len(ps) if ps else 1.0
    precision = len(ps & ss) / len(ss) if ss else 0.0
    demoted = ps - q_words
    recall_demoted = len(demoted & ss) / len(demoted) if demoted else recall
    soft_mean, soft_min, best = _soft_recall(list(pa.surface), list(sa.surface), ctx.word_vec)
    unmatched = float(np.mean(best < 0.6)) if len(best) else 0.0
    dem_idx = [i for i, w in enumerate(pa.stems) if w not in q_words]
    unmatched_dem = float(np.mean(best[dem_idx] < 0.6)) if dem_idx else unmatched
    lcs = _lcs(pa.stems, sa.stems) / len(pa.stems) if pa.stems else 1.0
    neg_p, neg_s = pa.negations, sa.negations
    sub, sub_rev = antonym_substitutions(pa.stems, sa.stems)
    nums_p, nums_s = pa.numbers, sa.numbers
    num_mismatch = float(bool(nums_p) and bool(nums_s) and not (nums_p & nums_s))
    p_tok, s_tok = pa.tokens, sa.tokens
    return np.array(
        [
            cos,
            cos_exp,
            cos_answer,
            cos_qp,
            recall,
            precision,
            recall_demoted,
            soft_mean,
            soft_min,
            unmatched,
            unmatched_dem,
            lcs,
            min(neg_p, 3),
            min(neg_s, 3),
            float((neg_p % 2) != (neg_s % 2)),
            min(sub, 3),
            min(sub_rev, 3),
            num_mismatch,
            math.log1p(len(p_tok)),
            math.log1p(len(s_tok)),
            float(span_is_answer),
        ],
        dtype=np.float64,
    )


def pair_features(
    point: str,
    span: str,
    *,
    answer_vec: np.ndarray,
    question: str,
    abbreviations: Mapping[str, str],
    ctx: PairContext,
    span_is_answer: bool,
) -> np.ndarray:
    """Scalar features followed by the MiniLM pair features [u * v, |u - v|].

    ``answer_vec`` is the whole answer's unit vector (pooled chunks for long answers).
    """
    scal = pair_scalar_features(
        point,
        span,
        answer_vec=answer_vec,
        question=question,
        abbreviations=abbreviations,
        ctx=ctx,
        span_is_answer=span_is_answer,
    )
    u, v = ctx.vec([expand_abbreviations(point, abbreviations), expand_abbreviations(span, abbreviations)])
    return np.concatenate([scal, u * v, np.abs(u - v)])


def texts_for_judgement(
    answers: Sequence[str], points: Sequence[str], questions: Sequence[str], abbreviations: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Every span-level text and every word the judgements of these will embed (the
    answers' own vectors come from ``multimodal.chunking``)."""
    texts: list[str] = []
    words: list[str] = []
    for p in points:
        pe = expand_abbreviations(p, abbreviations)
        texts += [p, pe]
        words += content_tokens(pe)
    for q in questions:
        if q:
            texts.append(q)
    for a in answers:
        for sp in answer_spans(a):
            se = expand_abbreviations(sp.text, abbreviations)
            texts += [sp.text, se]
            words += content_tokens(se)
    return list(dict.fromkeys(texts)), sorted(set(words))


# --------------------------------------------------------------------------- model


@dataclass
class Thresholds:
    met: float = 0.5
    partial: float = 0.3
    missing: float = 0.1
    contradicted: float = 0.5
    partial_cos: float = 0.5  # a span this similar makes "missing" impossible


@dataclass
class KeypointModel:
    """The trained pair classifier (scikit-learn pipeline) and its decision thresholds."""

    classifier: Any
    thresholds: Thresholds = field(default_factory=Thresholds)
    metadata: dict[str, Any] = field(default_factory=dict)
    use_embedding_pairs: bool = True

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "keypoint-nli-untrained"))

    def features(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        x = np.vstack(rows) if len(rows) else np.zeros((0, len(SCALAR_NAMES)))
        return x if self.use_embedding_pairs else x[:, : len(SCALAR_NAMES)]

    def proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities in ``LABELS`` order."""
        if len(x) == 0:
            return np.zeros((0, 3))
        p = self.classifier.predict_proba(x)
        classes = list(self.classifier.classes_)
        return np.column_stack([p[:, classes.index(lab)] for lab in LABELS])

    # -- artifact -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "classifier": self.classifier,
            "thresholds": self.thresholds.__dict__,
            "use_embedding_pairs": self.use_embedding_pairs,
        }
        joblib.dump(payload, path, compress=3)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
        self.metadata["version"] = f"keypoint-nli-{digest}"
        self.metadata["thresholds"] = self.thresholds.__dict__
        path.with_suffix(".json").write_text(json.dumps(self.metadata, indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> KeypointModel:
        import joblib

        path = Path(path)
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            raise FileNotFoundError(f"key-point model {path} (and {meta_path.name}) not found")
        meta = json.loads(meta_path.read_text())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
        if not str(meta.get("version", "")).endswith(digest):
            raise ValueError(f"key-point model {path}: digest {digest} does not match {meta.get('version')!r}")
        payload = joblib.load(path)
        return cls(
            classifier=payload["classifier"],
            thresholds=Thresholds(**payload["thresholds"]),
            metadata=meta,
            use_embedding_pairs=payload.get("use_embedding_pairs", True),
        )


@lru_cache(maxsize=1)
def load_default_model() -> KeypointModel | None:
    """The shipped model, or None when it is absent (judgements then fall back to cosines)."""
    try:
        return KeypointModel.load(DEFAULT_MODEL_PATH)
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------------- judgement


@dataclass
class KeypointJudgement:
    point: str
    level: str
    p_met: float
    p_contradicted: float
    evidence: str
    span: tuple[int, int] | None
    best_cos: float


def judge_key_points(
    answer: str,
    points: Sequence[str],
    *,
    answer_vec: np.ndarray,
    question: str,
    abbreviations: Mapping[str, str],
    ctx: PairContext,
    model: KeypointModel,
) -> list[KeypointJudgement]:
    """One judgement per key point (see the module doc for the levels)."""
    spans = answer_spans(answer)
    if not points:
        return []
    if not spans:
        return [KeypointJudgement(p, "missing", 0.0, 0.0, "", None, 0.0) for p in points]
    rows, owner, rules = [], [], []
    for k, p in enumerate(points):
        for sp in spans:
            rules.append(pair_rules(p, sp.text, abbreviations))
            rows.append(
                pair_features(
                    p,
                    sp.text,
                    answer_vec=answer_vec,
                    question=question,
                    abbreviations=abbreviations,
                    ctx=ctx,
                    span_is_answer=sp.kind == "answer",
                )
            )
            owner.append(k)
    x = model.features(rows)
    prob = model.proba(x)
    cos = x[:, SCALAR_NAMES.index("cos_expanded")]
    literal = np.array([r[0] for r in rules])
    opposite = np.array([r[1] for r in rules])
    owner_arr = np.asarray(owner)
    th = model.thresholds
    out = []
    for k, p in enumerate(points):
        idx = np.flatnonzero(owner_arr == k)
        pe, pc = prob[idx, 0], prob[idx, 1]
        best = int(np.argmax(pe))
        # the span most *about* the point (least "neither") decides between "states it"
        # and "states the opposite": a clause elsewhere that merely sounds negative must not
        about = int(np.argmax(pe + pc))
        p_met, p_con = float(pe[best]), float(pc[about])
        best_cos = float(cos[idx].max())
        lit = np.flatnonzero(literal[idx])
        opp = np.flatnonzero(opposite[idx])
        if len(lit):
            level, j = "met", int(lit[np.argmax(pe[lit])])
        elif len(opp):
            level, j = "contradicted", int(opp[np.argmax(pc[opp])])
            p_con = max(p_con, float(pc[j]))
        elif p_met >= th.met:
            level, j = "met", best
        elif p_met >= th.partial and p_met > p_con:
            level, j = "partial", best
        elif p_met <= th.missing and p_con < th.contradicted and best_cos < th.partial_cos:
            level, j = "missing", -1
        else:
            level, j = "unsure", best
        if j >= 0 and ((level == "met" and literal[idx[j]]) or (level == "contradicted" and opposite[idx[j]])):
            sp = spans[j]
            evidence, where = sp.text, (sp.start, sp.end)
        elif j >= 0:
            sp = _prefer_short(spans, idx, pe if level != "contradicted" else pc, j)
            evidence, where = sp.text, (sp.start, sp.end)
        else:
            evidence, where = "", None
        out.append(KeypointJudgement(p, level, round(p_met, 4), round(p_con, 4), evidence, where, round(best_cos, 4)))
    return out


OPPOSITE_MIN_RECALL = 0.75  # of the point's content words, counting the antonym as its word


def pair_rules(point: str, span: str, abbreviations: Mapping[str, str]) -> tuple[bool, bool]:
    """(states it in its own words, states the opposite) - transparent rules on words.

    *Own words*: every content word of the point (2+ words) is in the span after
    abbreviation expansion and light stemming, in the same order, with the same
    polarity, no antonym swapped in and no number changed.
    *Opposite*: the point's words are there but with the other polarity ("does not
    need to be sorted"), or one of them is replaced by its antonym ("first in first
    out" for "last in first out", the antonym counting for the word it replaces), and
    not both.
    """
    pa = _analysed(expand_abbreviations(point, abbreviations))
    sa = _analysed(expand_abbreviations(span, abbreviations))
    if len(pa.stems) < 2 or (pa.numbers and sa.numbers and not (pa.numbers & sa.numbers)):
        return False, False
    ps, ss = pa.stem_set, sa.stem_set
    recall = len(ps & ss) / len(ps)
    neg_flip = (pa.negations % 2) != (sa.negations % 2)
    sub, rev = antonym_substitutions(pa.stems, sa.stems)
    literal = recall >= 1.0 and not neg_flip and not sub and not rev and _lcs(pa.stems, sa.stems) == len(pa.stems)
    recall_after = min(1.0, (len(ps & ss) + sub) / len(ps))
    opposite = (neg_flip and not sub and recall >= 1.0) or (
        sub >= 1 and not neg_flip and recall_after >= OPPOSITE_MIN_RECALL and len(ps & ss) >= 1
    )
    return literal, opposite


def _prefer_short(spans: Sequence[Span], idx: np.ndarray, prob: np.ndarray, j: int) -> Span:
    """The shortest span whose probability is within 0.05 of the best: evidence reads better short."""
    cands = [(len(spans[i].text), i) for i in range(len(idx)) if prob[i] >= prob[j] - 0.05]
    return spans[min(cands)[1]]
