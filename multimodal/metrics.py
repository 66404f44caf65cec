"""Evaluation metrics for grading (regression on a score grid) and classification.

Thin wrappers over scikit-learn / SciPy that return plain ``float`` (JSON- and
DB-ready) and never raise or return NaN on degenerate input, because these
numbers are averaged across cross-validation folds, stored in model artifacts and
compared by acceptance gates; one NaN would silently poison all of that.

Degenerate-input policy (one rule, applied everywhere): when a metric is
mathematically undefined for the input, return the value of an *uninformative*
predictor, i.e. chance level:

* Pearson r with a constant prediction or target -> 0.0 (no linear association
  can be shown; a constant predictor must not look better than a useless one).
* ROC AUC with only one class in ``y_true`` -> 0.5 (ranking cannot be judged).
* Average precision with no positives -> 0.0 (there is nothing to retrieve).
* Quadratic weighted kappa when both raters give one and the same grade to every
  item (expected disagreement 0) -> 1.0 if they agree, which they then do: all
  observed pairs are on the diagonal. Any other constant case is well defined.
* Empty input -> ``ValueError``: that is a caller bug, not a degenerate sample.

Callers who must tell "undefined" from "really chance" can check their inputs
(e.g. ``np.ptp(y_pred) == 0``); the metrics themselves stay total functions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn import metrics as skm

__all__ = [
    "accuracy",
    "average_precision",
    "char_error_rate",
    "classification_metrics",
    "edit_distance",
    "f1_macro",
    "mae",
    "normalize_ocr_text",
    "normalize_transcript",
    "number_to_words",
    "ordinal_to_words",
    "pearson_r",
    "precision_binary",
    "precision_macro",
    "quadratic_weighted_kappa",
    "recall_binary",
    "recall_macro",
    "regression_metrics",
    "rmse",
    "roc_auc",
    "score_to_grid",
    "word_error_rate",
]


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true, dtype=float).ravel()
    b = np.asarray(y_pred, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_pred differ in length: {a.shape[0]} vs {b.shape[0]}")
    if a.size == 0:
        raise ValueError("metrics need at least one item")
    return a, b


def score_to_grid(scores: ArrayLike, *, min_score: float, max_score: float, step: float = 1.0) -> np.ndarray:
    """Map scores to integer grid indices 0..K on [min_score, max_score] in ``step``s.

    Rounds to the nearest grid point and clips to the range, so a model prediction of
    7.74 on a 0-10 half-point scale becomes index 15 (= 7.5). Indices, not scores, are
    what kappa compares.
    """
    if step <= 0 or max_score <= min_score:
        raise ValueError("need step > 0 and max_score > min_score")
    n_levels = round((max_score - min_score) / step)
    idx = np.rint((np.asarray(scores, dtype=float) - min_score) / step)
    return np.clip(idx, 0, n_levels).astype(int)


def quadratic_weighted_kappa(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    min_score: float,
    max_score: float,
    step: float = 1.0,
) -> float:
    """Cohen's kappa with quadratic weights on the score grid (the AES standard metric).

    Both sides are rounded onto the grid given by ``min_score``, ``max_score`` and
    ``step`` (e.g. 0, 10, 0.5 for half points) so continuous model outputs are judged
    the way a grade would be released. All grid levels are passed as labels, so the
    weights reflect the full scale even when some grades never occur.
    """
    a, b = _pair(y_true, y_pred)
    ga = score_to_grid(a, min_score=min_score, max_score=max_score, step=step)
    gb = score_to_grid(b, min_score=min_score, max_score=max_score, step=step)
    if np.array_equal(ga, gb) and np.unique(ga).size == 1:
        return 1.0  # single shared grade: perfect agreement, 0/0 in the formula
    labels = np.arange(round((max_score - min_score) / step) + 1)
    value = skm.cohen_kappa_score(ga, gb, labels=labels, weights="quadratic")
    return float(value) if math.isfinite(value) else 0.0


def pearson_r(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Pearson correlation; 0.0 when either side is constant or n < 2 (see module doc)."""
    a, b = _pair(y_true, y_pred)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    value = stats.pearsonr(a, b).statistic
    return float(value) if math.isfinite(value) else 0.0


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error, in score units."""
    a, b = _pair(y_true, y_pred)
    return float(skm.root_mean_squared_error(a, b))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, in score units."""
    a, b = _pair(y_true, y_pred)
    return float(skm.mean_absolute_error(a, b))


def _labels(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true).ravel()
    b = np.asarray(y_pred).ravel()
    if a.shape != b.shape:
        raise ValueError(f"y_true and y_pred differ in length: {a.shape[0]} vs {b.shape[0]}")
    if a.size == 0:
        raise ValueError("metrics need at least one item")
    return a, b


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of exact label matches."""
    a, b = _labels(y_true, y_pred)
    return float(skm.accuracy_score(a, b))


def precision_macro(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Macro-averaged precision; a class never predicted contributes 0 (not NaN)."""
    a, b = _labels(y_true, y_pred)
    return float(skm.precision_score(a, b, average="macro", zero_division=0))


def recall_macro(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Macro-averaged recall, so rare behaviour classes count as much as common ones."""
    a, b = _labels(y_true, y_pred)
    return float(skm.recall_score(a, b, average="macro", zero_division=0))


def f1_macro(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Macro-averaged F1; 0 for classes with no predicted and no true items."""
    a, b = _labels(y_true, y_pred)
    return float(skm.f1_score(a, b, average="macro", zero_division=0))


def precision_binary(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Precision of the positive class (1): of the items flagged, the share truly positive;
    0 when nothing is flagged (an alert rule that never fires is not precise)."""
    a, b = _labels(y_true, y_pred)
    return float(skm.precision_score(np.asarray(a) == 1, np.asarray(b) == 1, zero_division=0))


def recall_binary(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Recall of the positive class (1): of the truly positive items, the share flagged;
    0 when there is no positive item."""
    a, b = _labels(y_true, y_pred)
    return float(skm.recall_score(np.asarray(a) == 1, np.asarray(b) == 1, zero_division=0))


def _scores(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(y_true).ravel()
    s = np.asarray(y_score, dtype=float)
    if s.shape[0] != a.shape[0]:
        raise ValueError(f"y_true and y_score differ in length: {a.shape[0]} vs {s.shape[0]}")
    if a.size == 0:
        raise ValueError("metrics need at least one item")
    return a, s


def roc_auc(y_true: ArrayLike, y_score: ArrayLike, labels: Sequence[int] | None = None) -> float:
    """ROC AUC. Binary: ``y_score`` (n,) is the positive-class score.

    Multiclass: ``y_score`` (n, K) with column k scoring class ``labels[k]``
    (default 0..K-1); one-vs-rest AUC averaged over the classes present in
    ``y_true``. Returns 0.5 when ``y_true`` holds a single class (see module doc).
    """
    a, s = _scores(y_true, y_score)
    if np.unique(a).size < 2:
        return 0.5
    if s.ndim == 2 and s.shape[1] > 1:
        if s.shape[1] == 2:
            return float(skm.roc_auc_score(a, s[:, 1]))
        # One-vs-rest by hand: sklearn refuses when a class is absent from a fold;
        # here absent classes are skipped (their AUC is undefined), not fatal.
        labels = list(labels) if labels is not None else list(range(s.shape[1]))
        aucs = [
            skm.roc_auc_score(a == label, s[:, k]) for k, label in enumerate(labels) if 0 < np.sum(a == label) < a.size
        ]
        return float(np.mean(aucs)) if aucs else 0.5
    return float(skm.roc_auc_score(a, s.ravel()))


def average_precision(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the precision-recall curve for binary labels (1 = positive).

    More telling than AUC for rare positives such as at-risk learners. 0.0 when
    there is no positive item (see module doc).
    """
    a, s = _scores(y_true, y_score)
    a = (a == 1).astype(int)
    if a.sum() == 0:
        return 0.0
    return float(skm.average_precision_score(a, s.ravel()))


def regression_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    min_score: float,
    max_score: float,
    step: float = 1.0,
) -> dict[str, float]:
    """The grading metric set used in artifacts and benchmarks: rmse, mae, pearson, qwk."""
    return {
        "rmse": rmse(y_true, y_pred),
        "mae": mae(y_true, y_pred),
        "pearson": pearson_r(y_true, y_pred),
        "qwk": quadratic_weighted_kappa(y_true, y_pred, min_score=min_score, max_score=max_score, step=step),
    }


def classification_metrics(y_true: ArrayLike, y_pred: ArrayLike, y_score: ArrayLike | None = None) -> dict[str, float]:
    """Accuracy and macro precision/recall/F1; ROC AUC (and, if binary, AP) with scores."""
    out = {
        "accuracy": accuracy(y_true, y_pred),
        "precision_macro": precision_macro(y_true, y_pred),
        "recall_macro": recall_macro(y_true, y_pred),
        "f1_macro": f1_macro(y_true, y_pred),
    }
    if y_score is not None:
        s = np.asarray(y_score, dtype=float)
        out["roc_auc"] = roc_auc(y_true, s)
        if s.ndim == 1 or s.shape[1] <= 2:
            out["average_precision"] = average_precision(y_true, s if s.ndim == 1 else s[:, 1])
    return out


# -- recognition (OCR, speech): character and word error rates ---------------------------
#
# Why our own normalisers: references such as speechocean762's are upper-case words with
# digits spelled out ("ZERO THREE FIVE ONE") while Whisper writes "0351."; handwriting
# labels carry the prompt's punctuation that writers drop. An error rate should count
# recognition errors, not formatting, and no extra dependency is needed for that.

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_PUNCT = re.compile(r"[^\w\s]|_")
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "=": " equals ", "@": " at "}


def number_to_words(n: int) -> str:
    """Spell out a non-negative integer in English words, without "and" or hyphens:
    ``number_to_words(2021) == "two thousand twenty one"``."""
    if n < 0:
        raise ValueError("number_to_words expects a non-negative integer")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")
    for scale, word in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{number_to_words(high)} {word}" + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """``ordinal_to_words(21) == "twenty first"``."""
    *head, last = number_to_words(n).split()
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _spell_number(match: re.Match[str]) -> str:
    token = match.group(0)
    if "." in token and token.count(".") == 1 and "," not in token:  # 3.5 -> three point five
        whole, frac = token.split(".")
        return f" {number_to_words(int(whole))} point {' '.join(_ONES[int(d)] for d in frac)} "
    digits = token.replace(",", "").replace(".", "")
    if len(digits) > 1 and digits.startswith("0"):  # codes and phone numbers: digit by digit
        return " " + " ".join(_ONES[int(d)] for d in digits) + " "
    if len(digits) > 15:
        return " " + " ".join(_ONES[int(d)] for d in digits) + " "
    return f" {number_to_words(int(digits))} "


def normalize_transcript(text: str) -> str:
    """Speech transcripts: lower-case, drop apostrophes ("it's" = "its", a frequent
    reference/ASR disagreement that is not a recognition error), spell out numbers,
    strip punctuation, split hyphenated words, collapse spaces."""
    text = (text or "").lower().replace("\u2019", "").replace("\u2018", "").replace("'", "")
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = _ORDINAL.sub(lambda m: f" {ordinal_to_words(int(m.group(1)))} ", text)
    text = _NUMBER.sub(_spell_number, text)
    text = text.replace("-", " ")
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def normalize_ocr_text(text: str) -> str:
    """Recognised handwriting: lower-case, punctuation becomes a space, spaces collapsed.

    Digits stay digits (a page says "1496", not "one thousand ..."), so a misread digit
    costs one character, as it would to a reader.
    """
    text = (text or "").lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(_PUNCT.sub(" ", text).split())


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance (substitutions + deletions + insertions) of two sequences:
    characters of two strings, or words of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


Normalizer = Callable[[str], str]


def _normalizer(normalize: bool | Normalizer, default: Normalizer) -> Normalizer:
    if normalize is True:
        return default
    if normalize is False:
        return lambda s: s or ""
    return normalize


def _pairs(refs: Sequence[str] | str, hyps: Sequence[str] | str) -> list[tuple[str, str]]:
    refs = [refs] if isinstance(refs, str) else list(refs)
    hyps = [hyps] if isinstance(hyps, str) else list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    return list(zip(refs, hyps, strict=True))


def word_error_rate(refs: Sequence[str] | str, hyps: Sequence[str] | str, normalize: bool | Normalizer = True) -> float:
    """Corpus-level WER: total word edits / total reference words (so long utterances weigh
    more than short ones, as in the usual ASR reporting). ``normalize=True`` uses
    ``normalize_transcript``; pass ``normalize_ocr_text`` (or any function) for other text."""
    prep = _normalizer(normalize, normalize_transcript)
    edits = words = 0
    for ref, hyp in _pairs(refs, hyps):
        r, h = prep(ref).split(), prep(hyp).split()
        edits += edit_distance(r, h)
        words += len(r)
    if words == 0:
        raise ValueError("references contain no words; WER is undefined")
    return edits / words


def char_error_rate(refs: Sequence[str] | str, hyps: Sequence[str] | str, normalize: bool | Normalizer = True) -> float:
    """Corpus-level CER: total character edits / total reference characters, after
    ``normalize_ocr_text`` by default (case, spacing and punctuation do not count)."""
    prep = _normalizer(normalize, normalize_ocr_text)
    edits = chars = 0
    for ref, hyp in _pairs(refs, hyps):
        r, h = prep(ref), prep(hyp)
        edits += edit_distance(r, h)
        chars += len(r)
    if chars == 0:
        raise ValueError("references contain no characters; CER is undefined")
    return edits / chars
