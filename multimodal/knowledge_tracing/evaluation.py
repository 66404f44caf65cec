"""How knowledge-tracing models are scored: next-response AUC and accuracy (pyKT's protocol).

Every response is predicted from the *preceding* responses of the same student only,
and every response is scored, including a student's first one (predicted from the
prior / initial state). Works with any model that has ``predict_sequences`` (BKT, the
deep models, an ensemble); numpy only. The numbers come from ``multimodal.metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence as Seq

import numpy as np

from multimodal.knowledge_tracing.data import Sequence
from multimodal.metrics import accuracy, roc_auc

__all__ = ["EnsembleModel", "evaluate"]


class EnsembleModel:
    """Average of several fitted models' P(correct) (e.g. DKT + akt_lite)."""

    def __init__(self, models: Seq) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models = list(models)
        self.name = "+".join(m.name for m in self.models)
        self.version = "+".join(m.version for m in self.models)

    def predict_sequences(self, seqs: Seq[Sequence]) -> list[np.ndarray]:
        member_preds = [m.predict_sequences(seqs) for m in self.models]
        return [np.mean(ps, axis=0) for ps in zip(*member_preds, strict=True)]


def evaluate(model, seqs: Seq[Sequence]) -> dict:
    """Next-response AUC/accuracy over every response of ``seqs``, plus prediction speed.

    Returns ``{"auc", "acc", "n", "predict_s", "pred_per_s"}``; AUC is 0.5 when the
    responses hold one class only (``multimodal.metrics``' rule), both are NaN without
    any response.
    """
    t0 = time.perf_counter()
    preds = model.predict_sequences(seqs)
    dt = time.perf_counter() - t0
    p = np.concatenate(preds) if preds else np.zeros(0)
    y = np.concatenate([s.correct for s in seqs]) if seqs else np.zeros(0)
    empty = y.size == 0
    return {
        "auc": float("nan") if empty else roc_auc(y, p),
        "acc": float("nan") if empty else accuracy(y == 1, p >= 0.5),
        "n": int(y.size),
        "predict_s": dt,
        "pred_per_s": float(y.size / dt) if dt > 0 else float("inf"),
    }
