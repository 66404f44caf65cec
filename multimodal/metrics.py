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
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn import metrics as skm

__all__ = [
    "accuracy",
    "average_precision",
    "classification_metrics",
    "f1_macro",
    "mae",
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
