"""Hand-crafted text features: length, vocabulary, sentence structure, spelling, readability.

Why hand-crafted features next to embeddings: a sentence embedding says *what* an
answer is about, not how long, how well structured or how well spelled it is, and
those are exactly what essay rubrics ask about and what an instructor can check.
Every number here is explainable in a feedback sentence.

Spelling uses a word list that ships with an installed package (no downloads): the
whole-word entries of the MiniLM ``vocab.txt`` (about 21,700 lowercase words), plus
``/usr/share/dict/words`` when the system has it. MiniLM's list lacks many
inflections and technical terms, so a word also counts as known when a light
morphological analysis (plural/-ed/-ing/... suffixes, common prefixes, two-word
compounds) reduces it to a listed word, or when the caller passes it as domain
vocabulary (the question, reference answers and rubric text). The ratio is therefore
an estimate, good for ranking and flagging, not a spell checker.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as _SK_STOP

__all__ = [
    "FEATURE_NAMES",
    "content_words",
    "gibberish_reasons",
    "is_known_word",
    "light_stem",
    "spelling_error_ratio",
    "spelling_errors",
    "syllable_count",
    "text_feature_dict",
    "text_features",
    "tokenize_words",
    "word_list",
]

FEATURE_NAMES: tuple[str, ...] = (
    "n_words_log",  # log(1 + words)
    "n_chars_log",  # log(1 + characters)
    "n_sentences",
    "n_paragraphs",
    "mean_sentence_words",
    "std_sentence_words",
    "max_sentence_words",
    "mean_word_length",  # letters per word
    "long_word_ratio",  # words with >= 7 letters
    "type_token_ratio",  # distinct / all words (falls with length)
    "guiraud_index",  # distinct / sqrt(all): length-robust vocabulary richness
    "hapax_ratio",  # words used once / distinct words
    "stopword_ratio",
    "spelling_error_ratio",  # unknown words / checkable words
    "flesch_reading_ease",  # 206.835 - 1.015 wps - 84.6 spw (higher = easier)
    "flesch_kincaid_grade",  # 0.39 wps + 11.8 spw - 15.59 (US school grade)
    "punctuation_per_word",
    "commas_per_sentence",
    "digit_ratio",  # digits / characters
    "uppercase_ratio",  # upper-case letters / letters
)

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?")
_ALPHA_WORD = re.compile(r"[A-Za-z]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_PARAGRAPH = re.compile(r"\n\s*\n|\r\n\s*\r\n")
_PUNCT = re.compile(r"[^\w\s]")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_NON_LETTER = re.compile(r"[\W\d_]+")  # keeps letters of any script
_NON_ASCII_LETTER = re.compile(r"[^a-z]+")
_DIGITS = re.compile(r"\d")
_UPPER = re.compile(r"[A-Z]")

STOPWORDS: frozenset[str] = frozenset(_SK_STOP) | frozenset(
    {"it's", "don't", "doesn't", "isn't", "can't", "won't", "i'm", "you're", "that's", "also"}
)

_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (suffix, replacements to try on the stem)
    ("ies", ("y", "ie")),
    ("ied", ("y", "ie")),
    ("ier", ("y",)),
    ("iest", ("y",)),
    ("ily", ("y",)),
    ("iness", ("y",)),
    ("ing", ("", "e")),
    ("ings", ("", "e")),
    ("ed", ("", "e")),
    ("es", ("", "e")),
    ("s", ("",)),
    ("'s", ("",)),
    ("ly", ("", "le")),
    ("ally", ("", "al")),
    ("er", ("", "e")),
    ("ers", ("", "e")),
    ("est", ("", "e")),
    ("ness", ("",)),
    ("ment", ("", "e")),
    ("ments", ("", "e")),
    ("tion", ("te", "t", "")),
    ("tions", ("te", "t", "")),
    ("ation", ("e", "", "ate")),
    ("ations", ("e", "", "ate")),
    ("sion", ("de", "se", "t", "")),
    ("ion", ("", "e")),
    ("ions", ("", "e")),
    ("able", ("", "e")),
    ("ible", ("", "e")),
    ("ability", ("", "e", "able")),
    ("al", ("", "e")),
    ("ity", ("", "e")),
    ("ive", ("", "e")),
    ("ively", ("", "e")),
    ("ize", ("", "e")),
    ("ized", ("", "e")),
    ("izes", ("", "e")),
    ("izing", ("", "e")),
    ("ise", ("", "e")),
    ("ised", ("", "e")),
    ("ful", ("",)),
    ("less", ("",)),
    ("ism", ("",)),
    ("ist", ("", "e")),
    ("ists", ("", "e")),
    ("ence", ("ent", "")),
    ("ance", ("ant", "")),
    ("ency", ("ent",)),
    ("ancy", ("ant",)),
    ("ic", ("", "e", "y")),
    ("ical", ("", "ic", "y")),
    ("ically", ("", "ic")),
    ("ure", ("", "e")),
)
# Two-letter prefixes other than un-/re- ("de", "in", "co"...) are left out on purpose:
# they turn too many misspellings into "known" words ("desided" = de + sided).
_PREFIXES = (
    "un",
    "re",
    "non",
    "pre",
    "sub",
    "dis",
    "over",
    "under",
    "multi",
    "inter",
    "mis",
    "out",
    "self",
    "super",
    "semi",
)
_NO_PLURAL_S = ("s", "x", "z", "sh", "ch")


@lru_cache(maxsize=1)
def word_list() -> frozenset[str]:
    """Lower-case English words from installed sources; empty set if none is found."""
    words: set[str] = set()
    try:
        from multimodal.text import default_text_model_path

        vocab = default_text_model_path() / "vocab.txt"
    except ImportError:  # pragma: no cover - package missing: fall back to the system list
        vocab = None
    if vocab is not None and vocab.exists():
        for line in vocab.read_text(encoding="utf-8").splitlines():
            token = line.strip()
            if token.isalpha() and token.isascii() and token.islower():
                words.add(token)
    system = Path("/usr/share/dict/words")
    if system.exists():
        for line in system.read_text(encoding="utf-8", errors="ignore").splitlines():
            token = line.strip().lower()
            if token.isalpha() and token.isascii():
                words.add(token)
    return frozenset(words)


def tokenize_words(text: str) -> list[str]:
    """Words and numbers, case kept (apostrophe contractions stay one word)."""
    return _WORD.findall(text or "")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "") if s.strip()]


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _PARAGRAPH.split(text or "") if p.strip()]


def light_stem(word: str) -> str:
    """A tiny suffix stripper so 'pointers'/'pointer' and 'sorted'/'sorting' match.

    Deliberately conservative (only common inflections): the point is to make token
    overlap between a student answer and a reference robust, not linguistics.
    """
    w = word.lower().replace("'s", "")
    if len(w) <= 3:
        return w
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                return w
            stem = w[: -len(suffix)] + repl
            if suffix in ("ing", "ed") and len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]  # "stopped" -> "stop"
            return stem
    return w


def content_words(text: str, *, stem: bool = True) -> list[str]:
    """Lower-cased non-stopword tokens (stemmed by default) for overlap measures."""
    return list(_content_words(text or "", stem))


@lru_cache(maxsize=8192)
def _content_words(text: str, stem: bool) -> tuple[str, ...]:
    # cached: the same question and reference texts are processed for every answer
    out = []
    for token in tokenize_words(text):
        t = token.lower()
        if t in STOPWORDS or (len(t) == 1 and not t.isdigit()):
            continue
        out.append(_stem_cached(t) if stem else t)
    return tuple(out)


@lru_cache(maxsize=65536)
def _stem_cached(word: str) -> str:
    return light_stem(word)


def _known_by_morphology(w: str, vocab: frozenset[str], depth: int = 0) -> bool:
    if w in vocab:
        return True
    if depth >= 2:
        return False
    for suffix, repls in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 2:
            stem = w[: -len(suffix)]
            if suffix == "s" and stem.endswith(_NO_PLURAL_S):
                continue  # "thiss" is not a plural of "this"
            candidates = [stem + r for r in repls]
            if len(stem) > 2 and stem[-1] == stem[-2] and suffix in ("ing", "ed", "er", "est", "ings"):
                candidates.append(stem[:-1])  # stopped -> stop
            # a stem found after a second suffix must be a real word, not a fragment
            # ("goverment" = gov + er + ment is not English)
            min_len = 2 if depth == 0 else 4
            if any(c in vocab for c in candidates if len(c) >= min_len):
                return True
            if any(_known_by_morphology(c, vocab, depth + 1) for c in candidates if len(c) >= 4):
                return True
    for prefix in _PREFIXES:
        rest = w[len(prefix) :]
        if w.startswith(prefix) and len(rest) >= 4 and _known_by_morphology(rest, vocab, depth + 1):
            return True
    # two-word compounds ("dataset", "linkedlist"): both parts listed, each >= 3 letters
    for cut in range(3, len(w) - 2):
        if w[:cut] in vocab and w[cut:] in vocab and len(w[:cut]) >= 3 and len(w[cut:]) >= 3:
            return True
    return False


@lru_cache(maxsize=65536)
def _is_known_lower(w: str) -> bool:
    return _known_by_morphology(w, word_list())


def is_known_word(word: str, extra: Iterable[str] | frozenset[str] = frozenset()) -> bool:
    """Whether ``word`` is a listed word, a regular variant of one, or domain vocabulary.

    Numbers, acronyms (2-6 capitals) and one/two-letter words are treated as known:
    they are not spelling evidence either way.
    """
    if not word or not word.isascii():
        return True
    if any(c.isdigit() for c in word):
        return True
    if word.isupper() and 2 <= len(word) <= 6:
        return True
    w = word.lower().strip("'")
    w = w.removesuffix("'s")
    if "'" in w:  # contractions: check the part before the apostrophe
        w = w.split("'", 1)[0]
    if len(w) <= 2:
        return True
    if w in extra:
        return True
    return _is_known_lower(w)


def _extra_set(extra_words: Iterable[str] | None) -> frozenset[str]:
    if not extra_words:
        return frozenset()
    if isinstance(extra_words, frozenset):
        return extra_words
    return _extra_set_cached(tuple(extra_words))


@lru_cache(maxsize=4096)
def _extra_set_cached(texts: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t.lower() for text in texts for t in _ALPHA_WORD.findall(text or ""))


def spelling_errors(text: str, extra_words: Iterable[str] | None = None) -> list[str]:
    """Words judged misspelled, in order of appearance (see module doc for how)."""
    if not word_list():
        return []
    extra = _extra_set(extra_words)
    tokens = _ALPHA_WORD.findall(text or "")
    known = _known_map(tokens, extra)
    return [t for t in tokens if not known[t]]


def spelling_error_ratio(text: str, extra_words: Iterable[str] | None = None) -> float:
    """Misspelled words / checkable words (words of 3+ letters); 0.0 with no such word."""
    if not word_list():
        return 0.0
    extra = _extra_set(extra_words)
    checkable = [t for t in _ALPHA_WORD.findall(text or "") if len(t) >= 3]
    if not checkable:
        return 0.0
    known = _known_map(checkable, extra)
    return sum(1 for t in checkable if not known[t]) / len(checkable)


def _known_map(tokens: Iterable[str], extra: frozenset[str]) -> dict[str, bool]:
    """``is_known_word`` once per distinct token (essays repeat most of their words)."""
    return {t: is_known_word(t, extra) for t in set(tokens)}


@lru_cache(maxsize=65536)
def syllable_count(word: str) -> int:
    """Vowel-group heuristic (silent final 'e' removed); at least 1 per word."""
    w = word.lower()
    if not w:
        return 0
    if len(w) > 2 and w.endswith("e") and not w.endswith(("le", "ee", "ye")):
        w = w[:-1]
    return max(1, len(_VOWEL_GROUPS.findall(w)))


_CODE_LIKE = re.compile(r"[;{}=&<>*\[\]()]|->|[a-z][A-Z]|_")


def gibberish_reasons(text: str, extra_words: Iterable[str] | None = None) -> list[str]:
    """Why ``text`` looks like keyboard mashing or filler; empty list if it looks like text.

    Strong signals (a letter repeated 5+ times in a row, one word making up most of
    the answer) count alone. Weak signals (words without vowels, unpronounceable
    letter runs, very few distinct letters, few dictionary words) need a second one
    or, for the dictionary ratio, an answer of 4+ checkable words with under 20%
    known: one unknown technical term ("iterative", "enqueue") must not make an
    answer gibberish. Numbers, formulas and code-like answers (operators, camelCase,
    underscores) skip the word-level checks: "42" or "xPtr + 1" can be correct.
    """
    raw = (text or "").strip()
    joined = _NON_ASCII_LETTER.sub("", raw.lower())
    if not joined:
        return []
    strong: list[str] = []
    weak: list[str] = []
    if re.search(r"([a-z])\1{4,}", joined):
        strong.append("repeated characters")
    alpha_words = [w.lower() for w in _ALPHA_WORD.findall(raw)]
    if len(alpha_words) >= 4:
        top = Counter(alpha_words).most_common(1)[0][1]
        if top / len(alpha_words) >= 0.6:
            strong.append("one word repeated")
    if _CODE_LIKE.search(raw):
        return strong
    long_words = [w for w in alpha_words if len(w) >= 4]
    if long_words:
        no_vowel = sum(1 for w in long_words if not re.search(r"[aeiouy]", w))
        if no_vowel / len(long_words) >= 0.5:
            weak.append("words without vowels")
        if any(re.search(r"[^aeiouy\W\d]{6,}", w) for w in long_words if not _is_known_lower(w)):
            weak.append("unpronounceable letter runs")
    if len(joined) >= 12 and len(set(joined)) <= 4:
        weak.append("very few distinct letters")
    extra = _extra_set(extra_words)
    checkable = [w for w in alpha_words if len(w) >= 3]
    if word_list() and checkable:
        known_map = _known_map(checkable, extra)
        known = sum(1 for w in checkable if known_map[w]) / len(checkable)
        if known < 0.4:
            weak.append(f"few dictionary words ({known:.0%})")
            if len(checkable) >= 4 and known < 0.2:
                strong.append(weak.pop())
    if strong or len(weak) >= 2:
        return strong + weak
    return []


def text_feature_dict(text: str, extra_words: Iterable[str] | None = None) -> dict[str, float]:
    """All ``FEATURE_NAMES`` for one text, as a name -> float mapping."""
    text = text or ""
    words = tokenize_words(text)
    alpha = [w for w in words if w[0].isalpha()]
    lower = [w.lower() for w in words]
    n_words = len(words)
    sentences = _sentences(text)
    sentence_lengths = [len(tokenize_words(s)) for s in sentences] or [0]
    letters = _NON_LETTER.sub("", text)
    syllables = sum(syllable_count(w) for w in alpha)
    n_sent = max(1, len(sentences))
    wps = n_words / n_sent if n_words else 0.0
    spw = syllables / len(alpha) if alpha else 0.0
    counts = Counter(lower)
    distinct = len(counts)
    return {
        "n_words_log": math.log1p(n_words),
        "n_chars_log": math.log1p(len(text.strip())),
        "n_sentences": float(len(sentences)),
        "n_paragraphs": float(len(_paragraphs(text))),
        "mean_sentence_words": float(np.mean(sentence_lengths)),
        "std_sentence_words": float(np.std(sentence_lengths)),
        "max_sentence_words": float(max(sentence_lengths)),
        "mean_word_length": float(np.mean([len(w) for w in alpha])) if alpha else 0.0,
        "long_word_ratio": (sum(1 for w in alpha if len(w) >= 7) / len(alpha)) if alpha else 0.0,
        "type_token_ratio": distinct / n_words if n_words else 0.0,
        "guiraud_index": distinct / math.sqrt(n_words) if n_words else 0.0,
        "hapax_ratio": (sum(1 for c in counts.values() if c == 1) / distinct) if distinct else 0.0,
        "stopword_ratio": (sum(1 for w in lower if w in STOPWORDS) / n_words) if n_words else 0.0,
        "spelling_error_ratio": spelling_error_ratio(text, extra_words),
        "flesch_reading_ease": (206.835 - 1.015 * wps - 84.6 * spw) if alpha else 0.0,
        "flesch_kincaid_grade": (0.39 * wps + 11.8 * spw - 15.59) if alpha else 0.0,
        "punctuation_per_word": len(_PUNCT.findall(text)) / n_words if n_words else 0.0,
        "commas_per_sentence": text.count(",") / n_sent,
        "digit_ratio": (len(_DIGITS.findall(text)) / len(text)) if text else 0.0,
        "uppercase_ratio": (len(_UPPER.findall(letters)) / len(letters)) if letters else 0.0,
    }


def text_features(text: str, extra_words: Iterable[str] | None = None) -> np.ndarray:
    """``FEATURE_NAMES`` for one text as a float32 vector (same order)."""
    d = text_feature_dict(text, extra_words)
    return np.asarray([d[name] for name in FEATURE_NAMES], dtype=np.float32)


# ------------------------------------------------------------------ writing quality
# Counts an essay rubric's analytic traits ask about (conventions, grammar, cohesion,
# syntax, vocabulary, phraseology), all as rates so essays of any length compare.
# They are proxies (patterns, not a parser): a learned model weighs them, and the
# per-sentence versions pick the example sentence a feedback line quotes.

WRITING_FEATURE_NAMES: tuple[str, ...] = (
    "lower_sentence_start_ratio",  # sentences starting with a lower-case letter
    "lowercase_i_ratio",  # "i" as a word, per word
    "missing_apostrophe_ratio",  # "dont", "im", "thats"... per word
    "space_before_punct_ratio",  # " ," " ." per sentence
    "no_space_after_punct_ratio",  # ",word" ".Word" per sentence
    "repeated_punct_ratio",  # "!!", "??", ",," per sentence
    "run_on_ratio",  # sentences of 35+ words
    "short_sentence_ratio",  # sentences under 5 words
    "transition_rate",  # linking words and phrases per sentence
    "transition_types",  # distinct ones used
    "subordinator_rate",  # because/although/which/when... per sentence
    "informal_rate",  # gonna, gotta, alot, u, cuz... per word
    "grammar_pattern_rate",  # "a apple", "he have", "they was", "could of"... per sentence
    "repeated_word_rate",  # "the the" per word
    "mtld",  # measure of textual lexical diversity (length-robust)
    "word_length_std",
    "bigram_type_ratio",  # distinct word pairs / pairs
    "paragraph_sentences_mean",
    "spelling_errors_per_sentence",
    "question_exclaim_ratio",
)

_TRANSITIONS = (
    "however",
    "therefore",
    "moreover",
    "furthermore",
    "in addition",
    "additionally",
    "for example",
    "for instance",
    "in conclusion",
    "to conclude",
    "in summary",
    "overall",
    "first",
    "firstly",
    "second",
    "secondly",
    "third",
    "finally",
    "lastly",
    "also",
    "on the other hand",
    "as a result",
    "consequently",
    "thus",
    "hence",
    "in contrast",
    "nevertheless",
    "although",
    "even though",
    "instead",
    "meanwhile",
    "similarly",
    "likewise",
    "in fact",
    "indeed",
    "besides",
    "another reason",
    "in my opinion",
    "to sum up",
    "because of this",
    "otherwise",
)
_TRANSITION_RE = re.compile(
    r"\b(" + "|".join(re.escape(t) for t in sorted(_TRANSITIONS, key=len, reverse=True)) + r")\b"
)
_SUBORDINATORS = frozenset(
    "because although though which who whom whose when while whereas if unless since until after before that "
    "where".split()
)
_MISSING_APOSTROPHE = frozenset(
    "dont cant wont im thats doesnt didnt isnt arent wasnt werent ive youre theyre hes shes lets couldnt wouldnt "
    "shouldnt hasnt havent whats theres youll ill youve weve theyve thats".split()
)
_INFORMAL = frozenset(
    "gonna gotta wanna kinda sorta alot u ur cuz cause lol ok okay yeah stuff stuffs tho thru".split()
)
_GRAMMAR_PATTERNS = re.compile(
    r"\b(?:a [aeiou]\w+|an [bcdfgjklmnpqrstvwxz]\w+|(?:he|she|it) (?:have|do|don't|dont|are|were)\b"
    r"|(?:i|you|we|they) (?:has|does|doesn't|doesnt|is|was)\b|(?:could|would|should|must) of\b"
    r"|more (?:better|worse|easier|harder|bigger|smaller)|most (?:best|worst)|(?:is|are|was|were) (?:\w+ )?can\b"
    r"|(?:can|could|will|would|should|must|may|might) (?:\w+ed|\w+s)\b(?<!ss)|to (?:\w+ed)\b"
    r"|(?:don't|dont|doesn't|doesnt|didn't|didnt) (?:\w+ed)\b|peoples|childrens|informations|advices|homeworks)"
)
_PUNCT_SPACE_BEFORE = re.compile(r"\s[,.;:!?](?!\d)")
_PUNCT_NO_SPACE_AFTER = re.compile(r"[a-z][,;!?][A-Za-z]|[a-z]{2}\.[A-Z][a-z]")
_REPEATED_PUNCT = re.compile(r"([!?,])\1+")


def _mtld(words: list[str], threshold: float = 0.72) -> float:
    """MTLD (McCarthy & Jarvis 2010), mean of the forward and backward passes."""
    if len(words) < 10:
        return float(len(set(words)))

    def one_pass(ws: list[str]) -> float:
        factors, types, count = 0.0, set(), 0
        for w in ws:
            types.add(w)
            count += 1
            if len(types) / count <= threshold:
                factors += 1
                types, count = set(), 0
        if count:
            ttr = len(types) / count
            factors += (1 - ttr) / (1 - threshold) if ttr < 1 else 0.0
        return len(ws) / factors if factors else float(len(ws))

    return (one_pass(words) + one_pass(words[::-1])) / 2


def sentence_writing_counts(sentence: str, extra_words: Iterable[str] | None = None) -> dict[str, float]:
    """Error and style counts of one sentence (what an example sentence is chosen by)."""
    words = tokenize_words(sentence)
    lower = [w.lower() for w in words]
    low = sentence.lower()
    first = sentence.lstrip("\"'([ ")[:1]
    return {
        "words": float(len(words)),
        "lower_start": float(first.isalpha() and first.islower()),
        "lowercase_i": float(sum(1 for w in words if w == "i")),
        "missing_apostrophe": float(sum(1 for w in lower if w in _MISSING_APOSTROPHE)),
        "punctuation_spacing": float(
            len(_PUNCT_SPACE_BEFORE.findall(sentence)) + len(_PUNCT_NO_SPACE_AFTER.findall(sentence))
        ),
        "repeated_punct": float(len(_REPEATED_PUNCT.findall(sentence))),
        "spelling_errors": float(len(spelling_errors(sentence, extra_words))),
        "grammar_patterns": float(len(_GRAMMAR_PATTERNS.findall(low))),
        "informal": float(sum(1 for w in lower if w in _INFORMAL)),
        "transitions": float(len(_TRANSITION_RE.findall(low))),
        "subordinators": float(sum(1 for w in lower if w in _SUBORDINATORS)),
        "repeated_words": float(sum(1 for a, b in zip(lower, lower[1:], strict=False) if a == b and a.isalpha())),
        "long_words": float(sum(1 for w in words if len(w) >= 7)),
        "mean_word_length": float(np.mean([len(w) for w in words])) if words else 0.0,
    }


def writing_feature_dict(text: str, extra_words: Iterable[str] | None = None) -> dict[str, float]:
    """All ``WRITING_FEATURE_NAMES`` for one text."""
    text = text or ""
    sentences = _sentences(text)
    n_sent = max(1, len(sentences))
    words = tokenize_words(text)
    lower = [w.lower() for w in words]
    n_words = max(1, len(words))
    per = [sentence_writing_counts(s, extra_words) for s in sentences] or [sentence_writing_counts("", extra_words)]

    def total(key: str) -> float:
        return float(sum(p[key] for p in per))

    lengths = [p["words"] for p in per]
    found = _TRANSITION_RE.findall(text.lower())
    bigrams = list(zip(lower, lower[1:], strict=False))
    paragraphs = _paragraphs(text)
    return {
        "lower_sentence_start_ratio": total("lower_start") / n_sent,
        "lowercase_i_ratio": total("lowercase_i") / n_words,
        "missing_apostrophe_ratio": total("missing_apostrophe") / n_words,
        "space_before_punct_ratio": len(_PUNCT_SPACE_BEFORE.findall(text)) / n_sent,
        "no_space_after_punct_ratio": len(_PUNCT_NO_SPACE_AFTER.findall(text)) / n_sent,
        "repeated_punct_ratio": total("repeated_punct") / n_sent,
        "run_on_ratio": sum(1 for n in lengths if n >= 35) / n_sent,
        "short_sentence_ratio": sum(1 for n in lengths if 0 < n < 5) / n_sent,
        "transition_rate": len(found) / n_sent,
        "transition_types": float(len(set(found))),
        "subordinator_rate": total("subordinators") / n_sent,
        "informal_rate": total("informal") / n_words,
        "grammar_pattern_rate": total("grammar_patterns") / n_sent,
        "repeated_word_rate": total("repeated_words") / n_words,
        "mtld": _mtld([w for w in lower if w[0].isalpha()]),
        "word_length_std": float(np.std([len(w) for w in words])) if words else 0.0,
        "bigram_type_ratio": len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
        "paragraph_sentences_mean": n_sent / max(1, len(paragraphs)),
        "spelling_errors_per_sentence": total("spelling_errors") / n_sent,
        "question_exclaim_ratio": (text.count("?") + text.count("!")) / n_sent,
    }
