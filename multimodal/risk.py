"""The at-risk estimator: a logistic regression over behaviour features, its acceptance
guardrail, and its artifact.

Plain Python (numpy, scikit-learn for fitting only): the caller turns students into
feature rows (``recommendations.risk.features``) and passes arrays; this module returns
dataclasses. Prediction needs numpy only, and the parameters are plain lists of floats,
so the estimator round-trips through JSON (``to_dict`` / ``from_dict``: the database row
and the artifact hold the same thing, no pickles).

* :class:`RiskEstimator` - median-imputed, log1p on count features, standardised
  logistic regression; per-feature log-odds contributions for explanations.
* :func:`fit_risk_estimator` - fit it on a feature matrix (rows = students, NaN = missing).
* :func:`guardrail_evaluate` - Moodle's acceptance rule: mean evaluation score (ROC AUC
  here) >= 0.7 with standard deviation <= 0.05 over 10 random stratified splits of the
  *training* data.
* :func:`confidence_of` - the probability of the called class.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from multimodal import artifacts
from multimodal.metrics import roc_auc

__all__ = [
    "ARTIFACT_FORMAT",
    "GuardrailResult",
    "RiskEstimator",
    "confidence_of",
    "feature_matrix",
    "fit_risk_estimator",
    "guardrail_evaluate",
]

ARTIFACT_FORMAT = "eduplatform-risk/1"
MODEL_FILE = "estimator.json"


def confidence_of(probability: float) -> float:
    """Confidence in the at-risk / not-at-risk call: the probability of the called class."""
    return max(probability, 1.0 - probability)


def feature_matrix(rows: Iterable[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
    """Rows of named features as an (n, len(names)) float matrix; missing names are NaN."""
    return np.array([[row.get(n, np.nan) for n in names] for row in rows], dtype=float).reshape(-1, len(names))


@dataclass
class RiskEstimator:
    """Logistic regression on log1p(counts) and raw rates, median-imputed and standardised.

    All parameters are lists of floats, so the estimator round-trips through JSON and
    predicting needs numpy only.
    """

    feature_names: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]
    coef: list[float]
    intercept: float
    log_features: list[str] = field(default_factory=list)
    C: float = 1.0

    def _transform(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=float, copy=True)
        for j, name in enumerate(self.feature_names):
            if name in self.log_features:
                X[:, j] = np.log1p(np.clip(X[:, j], 0, None))
        nan = np.isnan(X)
        X[nan] = np.take(np.asarray(self.medians), np.nonzero(nan)[1])
        return (X - np.asarray(self.means)) / np.asarray(self.scales)

    def matrix(self, rows: Iterable[Mapping[str, float]]) -> np.ndarray:
        return feature_matrix(rows, self.feature_names)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self._transform(X) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-feature log-odds contributions relative to an average student."""
        return self._transform(X) * np.asarray(self.coef)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskEstimator:
        return cls(**data)

    # -- artifact: estimator.json + metadata.json (multimodal.artifacts)
    def save(
        self,
        path: str | os.PathLike,
        *,
        version_prefix: str,
        training_summary: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Write the artifact folder ``path``; returns its metadata (``version`` is
        ``<version_prefix>-<digest of the parameters>``)."""
        return artifacts.write_artifact(
            path,
            files=self._files(),
            format=ARTIFACT_FORMAT,
            version_prefix=version_prefix,
            training_summary=training_summary,
            metrics=metrics,
            **extra,
        )

    def version(self, prefix: str) -> str:
        """The version an artifact of these parameters gets (``<prefix>-<digest>``)."""
        return artifacts.digest_version(prefix, self._files())

    def _files(self) -> dict[str, bytes]:
        return {MODEL_FILE: json.dumps(artifacts.json_safe(self.to_dict()), sort_keys=True).encode()}

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[RiskEstimator, dict[str, Any]]:
        """(estimator, metadata) from an artifact folder; checks format and digest."""
        meta, files = artifacts.read_artifact(Path(path), names=(MODEL_FILE,), format=ARTIFACT_FORMAT)
        return cls.from_dict(json.loads(files[MODEL_FILE])), meta


def fit_risk_estimator(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    *,
    log_features: Collection[str] = (),
    C: float = 1.0,
) -> RiskEstimator:
    """Fit on a feature matrix (rows = students, NaN = missing); ``log_features`` are counts
    (log1p before standardising)."""
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        raise ValueError("training data needs both at-risk and not-at-risk students")
    names = list(feature_names)
    logged = [n for n in names if n in set(log_features)]
    probe = RiskEstimator(
        names, [0.0] * len(names), [0.0] * len(names), [1.0] * len(names), [0.0] * len(names), 0.0, logged, C
    )
    Xl = np.array(X, copy=True)
    for j, n in enumerate(names):
        if n in logged:
            Xl[:, j] = np.log1p(np.clip(Xl[:, j], 0, None))
    medians = np.nan_to_num(np.nanmedian(np.where(np.isnan(Xl).all(axis=0), 0.0, Xl), axis=0))
    probe.medians = medians.tolist()
    Xi = probe._transform(X)  # imputed, log-transformed, not yet scaled (means 0, scales 1)
    means = Xi.mean(axis=0)
    scales = Xi.std(axis=0)
    scales[scales < 1e-9] = 1.0
    Z = (Xi - means) / scales
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(Z, y)
    return RiskEstimator(
        names,
        medians.tolist(),
        means.tolist(),
        scales.tolist(),
        clf.coef_[0].tolist(),
        float(clf.intercept_[0]),
        logged,
        C,
    )


@dataclass
class GuardrailResult:
    scores: list[float]
    mean: float
    std: float
    accepted: bool
    min_score: float
    max_std: float
    metric: str = "roc_auc"
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def guardrail_evaluate(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    *,
    log_features: Collection[str] = (),
    runs: int = 10,
    test_size: float = 0.3,
    min_score: float = 0.7,
    max_std: float = 0.05,
    seed: int = 0,
    C: float = 1.0,
) -> GuardrailResult:
    """Moodle's rule: fit on ``runs`` random stratified splits of the training data;
    accept only if mean ROC AUC >= ``min_score`` and its std-dev <= ``max_std``."""
    from sklearn.model_selection import StratifiedShuffleSplit

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    if len(y) < 10 or min(np.bincount(y, minlength=2)) < 2:
        return GuardrailResult(
            [],
            float("nan"),
            float("nan"),
            False,
            min_score,
            max_std,
            reason=f"not enough labelled students to evaluate ({len(y)})",
        )
    splitter = StratifiedShuffleSplit(n_splits=runs, test_size=test_size, random_state=seed)
    scores = []
    for train, test in splitter.split(X, y):
        model = fit_risk_estimator(X[train], y[train], feature_names, log_features=log_features, C=C)
        scores.append(roc_auc(y[test], model.predict_proba(X[test])))
    mean, std = float(np.mean(scores)), float(np.std(scores))
    accepted = mean >= min_score and std <= max_std
    if accepted:
        reason = f"accepted: mean AUC {mean:.3f} >= {min_score} and std {std:.3f} <= {max_std}"
    else:
        why = []
        if mean < min_score:
            why.append(f"mean AUC {mean:.3f} < {min_score}")
        if std > max_std:
            why.append(f"std {std:.3f} > {max_std}")
        reason = "rejected: " + " and ".join(why)
    return GuardrailResult([round(s, 4) for s in scores], mean, std, accepted, min_score, max_std, reason=reason)
