"""Training, calibrated prediction, evaluation and artifacts for the fusion models.

Why it is built this way:

* **Ensemble + split conformal.** A single network's output says nothing about how
  much to trust it, and instructors must see low-confidence grades before students
  do. ``fit_fusion`` holds out a *calibration* part that no member ever trains on,
  trains ``n_members`` networks (different seeds, bootstrap resamples, each with its
  own early-stopping split) on the rest, and measures how far the ensemble mean
  misses on the calibration rows *relative to the ensemble spread* (normalised
  conformal prediction). The stored quantile ``q`` turns every new prediction into
  an interval ``mean +- q * (spread + floor)`` that contains the true score for at
  least ``1 - alpha`` of rows from the same distribution. Spread makes intervals
  adaptive (wide where members disagree), conformal makes them honest (the
  coverage holds whatever the networks got wrong).
* **Confidence** = ``1 - (upper - lower) / (max_score - min_score)``, clipped to
  [0, 1], with the interval clipped to the score range first. It is the fraction of
  the grading scale that the model can rule out at the ``1 - alpha`` level: 1 means
  the score is pinned down, 0 means the model knows nothing beyond the scale itself.
  It is comparable across assignments with different scales and monotone in
  uncertainty, so one threshold (e.g. Moodle's 0.6) can route results to review.
  It is 0 for rows with no modality present and whenever calibration was impossible
  (too few calibration rows for the requested ``alpha``): no claim without evidence.
* **Artifacts** are a directory with ``weights.pt`` (state dicts and input
  normalisation, loadable with ``weights_only=True``) and ``metadata.json``
  (version ``fusion-<kind>-<sha8 of weights>``, creation time, training-data
  summary, held-out metrics, spec, calibration). The version is content-derived, so
  results written back to the database are traceable to exact weights.

Mask convention: ``mask[i, m]`` is True where modality ``spec.modalities[m]`` is
present for row ``i`` (see ``multimodal.research.fusion``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import KFold
from torch import Tensor, nn
from tqdm.auto import tqdm

from multimodal import metrics as mm
from multimodal.device import pick_device
from multimodal.research.fusion import (
    FUSION_KINDS,
    FusionModel,
    FusionOutput,
    FusionSpec,
    build_fusion,
)

__all__ = [
    "ARTIFACT_FORMAT",
    "FusionPrediction",
    "TrainedFusion",
    "compare_fusions",
    "cross_validate",
    "fit_fusion",
    "spec_for",
]

ARTIFACT_FORMAT = 1
WEIGHTS_FILE = "weights.pt"
METADATA_FILE = "metadata.json"
IGNORE = -1  # label value meaning "not graded" for criteria / behaviour targets


# --------------------------------------------------------------------------- data


def spec_for(
    X: Mapping[str, np.ndarray],
    *,
    criteria: np.ndarray | None = None,
    behaviour: np.ndarray | None = None,
    **arch: Any,
) -> FusionSpec:
    """A ``FusionSpec`` whose inputs and heads fit the given arrays.

    Modality widths come from ``X`` (in its key order); criterion and behaviour heads
    are added only when labels are given, so no head exists that was never trained.
    ``arch`` overrides architecture fields (``d_model``, ``n_layers``, ...).
    """
    dims = {name: int(np.asarray(x).reshape(len(x), -1).shape[1]) for name, x in X.items()}
    heads: dict[str, int] = {}
    if criteria is not None:
        c = np.asarray(criteria).reshape(len(criteria), -1)
        heads["n_criteria"] = c.shape[1]
        heads["n_levels"] = max(int(c.max()) + 1, 2)
    if behaviour is not None:
        heads["n_classes"] = max(int(np.asarray(behaviour).max()) + 1, 2)
    return FusionSpec(modality_dims=dims, **{**heads, **arch})


def _as_rows(x: np.ndarray, n: int, dim: int, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1 and dim == 1:
        x = x[:, None]
    if x.shape != (n, dim):
        raise ValueError(f"modality {name!r}: expected shape ({n}, {dim}), got {x.shape}")
    return x


def _check_inputs(
    X: Mapping[str, np.ndarray], mask: np.ndarray | None, spec: FusionSpec
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Validate ``X``/``mask`` against ``spec``; derive the mask if it is None.

    Without a mask, a modality is present where its key exists and the row is all
    finite. A row marked present but holding NaN/inf is an upstream bug and raises.
    """
    unknown = set(X) - set(spec.modalities)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}; model expects {spec.modalities}")
    if not X:
        raise ValueError("X holds no modality")
    n = len(next(iter(X.values())))
    arrays: dict[str, np.ndarray] = {}
    for name, dim in spec.modality_dims.items():
        arrays[name] = _as_rows(X[name], n, dim, name) if name in X else np.zeros((n, dim), np.float32)
    if mask is None:
        mask = np.stack(
            [(name in X) & np.isfinite(arrays[name]).all(axis=1) for name in spec.modalities],
            axis=1,
        )
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n, len(spec.modalities)):
        raise ValueError(
            f"mask must have shape ({n}, {len(spec.modalities)}) with columns {spec.modalities}; got {mask.shape}"
        )
    mask = mask.copy()
    for m, name in enumerate(spec.modalities):
        if name not in X:
            mask[:, m] = False
        bad = mask[:, m] & ~np.isfinite(arrays[name]).all(axis=1)
        if bad.any():
            raise ValueError(
                f"modality {name!r} is marked present but non-finite in rows {np.flatnonzero(bad)[:5].tolist()}"
            )
    return arrays, mask


@dataclass
class _Normaliser:
    """Per-modality standardisation fitted on present training rows.

    Encoders emit very different scales (unit-norm MiniLM vectors vs. words per
    minute); standardising keeps one learning rate sensible for all of them.
    """

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]

    @classmethod
    def fit(
        cls,
        arrays: Mapping[str, np.ndarray],
        mask: np.ndarray,
        modalities: Sequence[str],
    ) -> _Normaliser:
        mean, std = {}, {}
        for m, name in enumerate(modalities):
            rows = arrays[name][mask[:, m]]
            if len(rows):
                mu, sd = rows.mean(axis=0), rows.std(axis=0)
            else:
                mu, sd = np.zeros(arrays[name].shape[1]), np.ones(arrays[name].shape[1])
            mean[name] = mu.astype(np.float32)
            std[name] = np.where(sd > 1e-6, sd, 1.0).astype(np.float32)
        return cls(mean, std)

    def apply(self, arrays: Mapping[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for m, (name, x) in enumerate(arrays.items()):
            z = (x - self.mean[name]) / self.std[name]
            out[name] = np.where(mask[:, m : m + 1], z, 0.0).astype(np.float32)
        return out


@dataclass
class _Batch:
    """Device tensors for one split; targets in normalised units, -1/NaN = unlabelled."""

    tokens: dict[str, Tensor]
    present: Tensor
    y: Tensor
    criteria: Tensor | None
    behaviour: Tensor | None

    def __len__(self) -> int:
        return self.present.shape[0]

    def take(self, idx: Tensor) -> _Batch:
        return _Batch(
            {k: v[idx] for k, v in self.tokens.items()},
            self.present[idx],
            self.y[idx],
            None if self.criteria is None else self.criteria[idx],
            None if self.behaviour is None else self.behaviour[idx],
        )


def _to_batch(
    tokens: Mapping[str, np.ndarray],
    mask: np.ndarray,
    y_norm: np.ndarray,
    criteria: np.ndarray | None,
    behaviour: np.ndarray | None,
    device: torch.device,
) -> _Batch:
    return _Batch(
        {k: torch.as_tensor(v, device=device) for k, v in tokens.items()},
        torch.as_tensor(mask, device=device),
        torch.as_tensor(y_norm, dtype=torch.float32, device=device),
        None if criteria is None else torch.as_tensor(criteria, dtype=torch.long, device=device),
        None if behaviour is None else torch.as_tensor(behaviour, dtype=torch.long, device=device),
    )


def _loss(out: FusionOutput, batch: _Batch) -> Tensor:
    """MSE on labelled normalised scores plus cross-entropy on labelled criteria/behaviour.

    Rows may carry any subset of labels (NaN score, -1 class), so partially graded
    examples still teach what they can.
    """
    labelled = torch.isfinite(batch.y)
    total = out.score.new_zeros(())
    if labelled.any():
        total = total + nn.functional.mse_loss(out.score[labelled], batch.y[labelled])
    if out.criteria is not None and batch.criteria is not None:
        for c, logits in enumerate(out.criteria):
            target = batch.criteria[:, c]
            if (target != IGNORE).any():
                total = total + nn.functional.cross_entropy(logits, target, ignore_index=IGNORE)
    if out.behaviour is not None and batch.behaviour is not None and (batch.behaviour != IGNORE).any():
        total = total + nn.functional.cross_entropy(out.behaviour, batch.behaviour, ignore_index=IGNORE)
    return total


# ----------------------------------------------------------------------- training


def _train_member(
    model: FusionModel,
    train: _Batch,
    val: _Batch | None,
    *,
    lr: float,
    weight_decay: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    seed: int,
    progress: bool,
    desc: str,
) -> dict[str, Any]:
    """AdamW with early stopping on validation loss; restores the best weights.

    Without a validation part (tiny data), it stops on training loss instead, which
    only guards against divergence; the calibration step still keeps intervals honest.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    monitor = val if val is not None and len(val) else train
    best_loss, best_state, best_epoch, stale = math.inf, None, 0, 0
    bar = tqdm(range(max_epochs), desc=desc, disable=not progress, leave=False)
    epoch = 0
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(train), generator=gen).to(train.present.device)
        for start in range(0, len(train), batch_size):
            batch = train.take(perm[start : start + batch_size])
            loss = _loss(model(batch.tokens, batch.present), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        model.eval()
        with torch.inference_mode():
            val_loss = float(_loss(model(monitor.tokens, monitor.present), monitor))
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, stale = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        bar.set_postfix(val_loss=f"{val_loss:.4f}", best=f"{best_loss:.4f}")
        if stale >= patience:
            break
    bar.close()
    if best_state is None:
        # Every epoch gave a non-finite loss: never hand back weights that grade nothing.
        raise RuntimeError(f"{desc}: training diverged (loss was never finite)")
    model.load_state_dict(best_state)
    model.eval()
    return {
        "best_epoch": best_epoch + 1,
        "epochs": epoch + 1,
        "best_val_loss": best_loss if math.isfinite(best_loss) else None,  # None: diverged
    }


def _conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """Split-conformal quantile: the ceil((n+1)(1-alpha))-th smallest score, inf if n too small."""
    n = len(scores)
    rank = math.ceil((n + 1) * (1 - alpha))
    if n == 0 or rank > n:
        return math.inf
    return float(np.sort(scores)[rank - 1])


def fit_fusion(
    X: Mapping[str, np.ndarray],
    mask: np.ndarray | None,
    y: np.ndarray,
    *,
    kind: str = "attention",
    spec: FusionSpec | None = None,
    criteria: np.ndarray | None = None,
    behaviour: np.ndarray | None = None,
    score_range: tuple[float, float] | None = None,
    score_step: float = 1.0,
    n_members: int = 5,
    bootstrap: bool = True,
    val_fraction: float = 0.15,
    calib_fraction: float = 0.2,
    alpha: float = 0.1,
    max_epochs: int = 200,
    patience: int = 15,
    batch_size: int = 64,
    lr: float = 2e-3,
    weight_decay: float = 1e-2,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> TrainedFusion:
    """Train a calibrated ensemble of fusion models on instructor-graded examples.

    ``X`` maps modality name to an (N, D) array, ``mask`` (N, M) marks present
    modalities (None: derive from presence/finiteness), ``y`` (N,) holds scores in
    score units (NaN = not graded). ``score_range`` is the assignment's scale (e.g.
    ``(0, 10)``); it defaults to the observed label range, but pass the real scale
    so confidences are comparable. ``criteria`` (N, C) and ``behaviour`` (N,) are
    optional integer labels (-1 = unlabelled) that add heads. ``score_step`` is the
    grade grid used for kappa. See the module docstring for the calibration scheme.
    """
    if n_members < 1:
        raise ValueError("n_members must be >= 1")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    if spec is None:
        spec = spec_for(X, criteria=criteria, behaviour=behaviour)
    if kind not in FUSION_KINDS:
        build_fusion(kind, spec)  # raises the helpful error before any work is done
    device = torch.device(device) if device is not None else pick_device()
    arrays, mask = _check_inputs(X, mask, spec)
    y = np.asarray(y, dtype=np.float64).ravel()
    n = len(y)
    if mask.shape[0] != n:
        raise ValueError(f"y has {n} rows but X has {mask.shape[0]}")
    labelled = np.isfinite(y)
    if labelled.sum() < 2:
        raise ValueError("need at least 2 graded examples")
    lo, hi = score_range if score_range is not None else (float(y[labelled].min()), float(y[labelled].max()))
    if not hi > lo:
        raise ValueError(f"score range ({lo}, {hi}) is empty: nothing to learn")
    crit = None if criteria is None else np.asarray(criteria, dtype=np.int64).reshape(n, -1)
    beh = None if behaviour is None else np.asarray(behaviour, dtype=np.int64).ravel()
    if (crit is not None) != bool(spec.n_criteria) or (crit is not None and crit.shape[1] != spec.n_criteria):
        raise ValueError("criteria labels and spec.n_criteria disagree")
    if (beh is not None) != bool(spec.n_classes):
        raise ValueError("behaviour labels and spec.n_classes disagree")

    ss = np.random.SeedSequence(seed)
    split_rng = np.random.default_rng(ss.spawn(1)[0])
    order = split_rng.permutation(n)
    # Only graded rows can calibrate; ungraded rows (auxiliary labels only) train.
    graded_order = order[labelled[order]]
    n_cal = round(calib_fraction * len(graded_order))
    cal_idx = np.sort(graded_order[:n_cal])
    pool = np.setdiff1d(np.arange(n), cal_idx)

    norm = _Normaliser.fit({k: v[pool] for k, v in arrays.items()}, mask[pool], spec.modalities)
    tokens = norm.apply(arrays, mask)
    y_norm = ((y - lo) / (hi - lo)).astype(np.float32)
    full = _to_batch(tokens, mask, y_norm, crit, beh, device)

    members: list[FusionModel] = []
    histories = []
    for k, member_ss in enumerate(ss.spawn(n_members)):
        rng = np.random.default_rng(member_ss)
        member_seed = int(rng.integers(2**31 - 1))
        shuffled = rng.permutation(pool)
        n_val = round(val_fraction * len(pool))
        val_idx, train_idx = shuffled[:n_val], shuffled[n_val:]
        if bootstrap and n_members > 1:
            train_idx = rng.choice(train_idx, size=len(train_idx), replace=True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(member_seed)
            model = build_fusion(kind, spec).to(device)
            history = _train_member(
                model,
                full.take(torch.as_tensor(train_idx, device=device)),
                full.take(torch.as_tensor(val_idx, device=device)) if n_val else None,
                lr=lr,
                weight_decay=weight_decay,
                batch_size=batch_size,
                max_epochs=max_epochs,
                patience=patience,
                seed=member_seed,
                progress=progress,
                desc=f"{kind} {k + 1}/{n_members}",
            )
        members.append(model)
        histories.append(history)

    trained = TrainedFusion(
        kind=kind,
        spec=spec,
        members=members,
        normaliser=norm,
        score_range=(float(lo), float(hi)),
        score_step=score_step,
        alpha=alpha,
        device=device,
    )
    # Calibrate on rows no member has seen.
    metrics: dict[str, Any] = {"n_calibration": len(cal_idx)}
    if len(cal_idx):
        raw = trained._forward({k: v[cal_idx] for k, v in arrays.items()}, mask[cal_idx])
        resid = np.abs(y_norm[cal_idx] - raw["mean"])
        floor = float(np.median(raw["std"])) + 1e-3
        trained.spread_floor = floor
        trained.conformal_q = _conformal_quantile(resid / (raw["std"] + floor), alpha)
        pred = trained._postprocess(raw)
        metrics.update(
            _regression_report(
                y[cal_idx],
                pred,
                y_train=y[pool],
                score_range=(lo, hi),
                score_step=score_step,
            )
        )
        metrics.update(_aux_report(pred, crit, beh, cal_idx))
    trained.metrics = {"calibration": metrics, "members": histories}
    present_counts = mask.sum(axis=0)
    trained.data_summary = {
        "n": int(n),
        "n_graded": int(labelled.sum()),
        "n_train_pool": len(pool),
        "n_calibration": len(cal_idx),
        "label_min": float(y[labelled].min()),
        "label_max": float(y[labelled].max()),
        "label_mean": float(y[labelled].mean()),
        "label_std": float(y[labelled].std()),
        "score_range": [float(lo), float(hi)],
        "modalities": {name: int(c) for name, c in zip(spec.modalities, present_counts, strict=False)},
        "modalities_present": [name for name, c in zip(spec.modalities, present_counts, strict=False) if c],
        "criteria_labelled": None if crit is None else int((crit != IGNORE).any(axis=1).sum()),
        "behaviour_labelled": None if beh is None else int((beh != IGNORE).sum()),
    }
    trained.training = {
        "n_members": n_members,
        "bootstrap": bootstrap,
        "val_fraction": val_fraction,
        "calib_fraction": calib_fraction,
        "max_epochs": max_epochs,
        "patience": patience,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "seed": seed,
        "device": str(device),
    }
    return trained


# ---------------------------------------------------------------------- inference


@dataclass
class FusionPrediction:
    """Per-row outputs in score units; see the module docstring for ``confidence``."""

    score: np.ndarray  # ensemble mean, clipped to the score range
    lower: np.ndarray  # conformal interval, clipped to the score range
    upper: np.ndarray
    confidence: np.ndarray  # 1 - (upper - lower) / (max - min), in [0, 1]
    spread: np.ndarray  # ensemble standard deviation, score units
    n_present: np.ndarray  # number of modalities available per row
    criteria: list[np.ndarray] | None = None  # per criterion: (N, n_levels) probabilities
    behaviour: np.ndarray | None = None  # (N, n_classes) probabilities

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per row (what a worker writes back to the database)."""
        out = []
        for i in range(len(self.score)):
            row: dict[str, Any] = {
                "score": float(self.score[i]),
                "lower": float(self.lower[i]),
                "upper": float(self.upper[i]),
                "confidence": float(self.confidence[i]),
                "spread": float(self.spread[i]),
                "n_present": int(self.n_present[i]),
            }
            if self.criteria is not None:
                row["criteria"] = [p[i].tolist() for p in self.criteria]
            if self.behaviour is not None:
                row["behaviour"] = self.behaviour[i].tolist()
            out.append(row)
        return out


class TrainedFusion:
    """A calibrated ensemble ready for inference, with its provenance.

    Build with ``fit_fusion`` or ``TrainedFusion.load``; ``predict`` is the only call
    a worker needs. ``version`` is derived from the weights, so two artifacts with
    the same version hold the same numbers.
    """

    def __init__(
        self,
        *,
        kind: str,
        spec: FusionSpec,
        members: Sequence[FusionModel],
        normaliser: _Normaliser,
        score_range: tuple[float, float],
        score_step: float = 1.0,
        alpha: float = 0.1,
        conformal_q: float = math.inf,
        spread_floor: float = 1e-3,
        device: torch.device | None = None,
    ) -> None:
        self.kind = kind
        self.spec = spec
        self.members = list(members)
        self.normaliser = normaliser
        self.score_range = score_range
        self.score_step = score_step
        self.alpha = alpha
        self.conformal_q = conformal_q
        self.spread_floor = spread_floor
        self.device = device or pick_device()
        self.metrics: dict[str, Any] = {}
        self.data_summary: dict[str, Any] = {}
        self.training: dict[str, Any] = {}
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._version: str | None = None
        for m in self.members:
            m.to(self.device).eval()

    # -- inference: preprocess (CPU) -> _forward (device) -> _postprocess (numpy)

    @torch.inference_mode()
    def _forward(
        self,
        X: Mapping[str, np.ndarray],
        mask: np.ndarray | None,
        batch_size: int = 4096,
    ) -> dict[str, Any]:
        arrays, mask = _check_inputs(X, mask, self.spec)
        tokens = self.normaliser.apply(arrays, mask)
        n = mask.shape[0]
        scores = np.zeros((len(self.members), n), np.float32)
        crit = [np.zeros((n, self.spec.n_levels)) for _ in range(self.spec.n_criteria)] or None
        beh = np.zeros((n, self.spec.n_classes)) if self.spec.n_classes else None
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            tok = {k: torch.as_tensor(v[sl], device=self.device) for k, v in tokens.items()}
            present = torch.as_tensor(mask[sl], device=self.device)
            for j, model in enumerate(self.members):
                out = model(tok, present)
                scores[j, sl] = out.score.float().cpu().numpy()
                if crit is not None and out.criteria is not None:
                    for c, logits in enumerate(out.criteria):
                        crit[c][sl] += torch.softmax(logits.float(), -1).cpu().numpy() / len(self.members)
                if beh is not None and out.behaviour is not None:
                    beh[sl] += torch.softmax(out.behaviour.float(), -1).cpu().numpy() / len(self.members)
        return {
            "mean": scores.mean(axis=0),
            "std": scores.std(axis=0),
            "n_present": mask.sum(axis=1),
            "criteria": crit,
            "behaviour": beh,
        }

    def _postprocess(self, raw: Mapping[str, Any]) -> FusionPrediction:
        lo, hi = self.score_range
        width = hi - lo
        mean = np.clip(raw["mean"], 0.0, 1.0)
        half = self.conformal_q * (raw["std"] + self.spread_floor)  # inf when uncalibrated
        lower = np.clip(mean - half, 0.0, 1.0)
        upper = np.clip(mean + half, 0.0, 1.0)
        nothing = raw["n_present"] == 0
        lower[nothing], upper[nothing] = 0.0, 1.0
        confidence = np.clip(1.0 - (upper - lower), 0.0, 1.0)
        return FusionPrediction(
            score=lo + width * mean,
            lower=lo + width * lower,
            upper=lo + width * upper,
            confidence=confidence,
            spread=width * raw["std"],
            n_present=raw["n_present"],
            criteria=raw["criteria"],
            behaviour=raw["behaviour"],
        )

    def predict(
        self,
        X: Mapping[str, np.ndarray],
        mask: np.ndarray | None = None,
        *,
        batch_size: int = 4096,
    ) -> FusionPrediction:
        """Scores with conformal intervals and confidence for each row of ``X``.

        ``mask`` follows the training convention (True = present); None derives it
        from which keys exist and which rows are finite.
        """
        return self._postprocess(self._forward(X, mask, batch_size))

    # -- provenance

    def _weights_payload(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "members": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in self.members],
            "normaliser": {
                name: {
                    "mean": torch.from_numpy(self.normaliser.mean[name]),
                    "std": torch.from_numpy(self.normaliser.std[name]),
                }
                for name in self.spec.modalities
            },
        }

    @staticmethod
    def _digest(payload: Mapping[str, Any]) -> str:
        """SHA-256 over every tensor's name, dtype, shape and bytes, in a fixed order."""
        h = hashlib.sha256()
        for j, state in enumerate(payload["members"]):
            for key in sorted(state):
                t = state[key].contiguous()
                h.update(f"m{j}/{key}/{t.dtype}/{tuple(t.shape)}".encode())
                h.update(t.numpy().tobytes())
        for name in sorted(payload["normaliser"]):
            for part in ("mean", "std"):
                h.update(f"norm/{name}/{part}".encode())
                h.update(payload["normaliser"][name][part].contiguous().numpy().tobytes())
        return h.hexdigest()

    @property
    def version(self) -> str:
        """``fusion-<kind>-<first 8 hex of the weights' SHA-256>``."""
        if self._version is None:
            self._version = f"fusion-{self.kind}-{self._digest(self._weights_payload())[:8]}"
        return self._version

    def metadata(self) -> dict[str, Any]:
        """Everything ``metadata.json`` holds (JSON-ready; an infinite q is null)."""
        return {
            "format": ARTIFACT_FORMAT,
            "version": self.version,
            "kind": self.kind,
            "created_at": self.created_at,
            "spec": self.spec.to_dict(),
            "score_range": list(self.score_range),
            "score_step": self.score_step,
            "calibration": {
                "alpha": self.alpha,
                "q": self.conformal_q if math.isfinite(self.conformal_q) else None,
                "spread_floor": self.spread_floor,
                "n_members": len(self.members),
            },
            "confidence_definition": "1 - (upper - lower) / (max_score - min_score), clipped to [0, 1]",
            "data_summary": self.data_summary,
            "metrics": self.metrics,
            "training": self.training,
        }

    # -- artifacts

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``weights.pt`` and ``metadata.json`` into directory ``path``.

        Each file is written to a temporary name and renamed, weights first, so a
        worker loading concurrently sees either the old or the new complete artifact.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        payload = self._weights_payload()
        tmp = path / f".{WEIGHTS_FILE}.tmp"
        torch.save(payload, tmp)
        os.replace(tmp, path / WEIGHTS_FILE)
        tmp = path / f".{METADATA_FILE}.tmp"
        tmp.write_text(json.dumps(self.metadata(), indent=2, sort_keys=True, allow_nan=False))
        os.replace(tmp, path / METADATA_FILE)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: torch.device | str | None = None) -> TrainedFusion:
        """Rebuild a saved ensemble; raises ``FileNotFoundError`` with what is missing.

        The weights' digest is checked against the recorded version, so a truncated
        or mixed-up artifact fails loudly instead of grading with the wrong model.
        """
        path = Path(path)
        meta_path, weights_path = path / METADATA_FILE, path / WEIGHTS_FILE
        if not path.is_dir():
            raise FileNotFoundError(
                f"fusion artifact not found: {path} is not a directory "
                f"(expected {METADATA_FILE} and {WEIGHTS_FILE} written by TrainedFusion.save)"
            )
        for p in (meta_path, weights_path):
            if not p.is_file():
                raise FileNotFoundError(f"fusion artifact at {path} is incomplete: {p.name} is missing")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(
                f"fusion artifact {path} has format {meta.get('format')!r}; this code reads {ARTIFACT_FORMAT}"
            )
        payload = torch.load(weights_path, map_location="cpu", weights_only=True)
        digest = cls._digest(payload)[:8]
        if not meta["version"].endswith(digest):
            raise ValueError(
                f"fusion artifact {path}: weights digest {digest} does not match version {meta['version']}"
            )
        spec = FusionSpec.from_dict(meta["spec"])
        members = []
        for state in payload["members"]:
            model = build_fusion(meta["kind"], spec)
            model.load_state_dict(state)
            members.append(model)
        norm = _Normaliser(
            mean={k: v["mean"].numpy() for k, v in payload["normaliser"].items()},
            std={k: v["std"].numpy() for k, v in payload["normaliser"].items()},
        )
        cal = meta["calibration"]
        obj = cls(
            kind=meta["kind"],
            spec=spec,
            members=members,
            normaliser=norm,
            score_range=tuple(meta["score_range"]),
            score_step=meta["score_step"],
            alpha=cal["alpha"],
            conformal_q=math.inf if cal["q"] is None else cal["q"],
            spread_floor=cal["spread_floor"],
            device=torch.device(device) if device is not None else None,
        )
        obj.metrics = meta["metrics"]
        obj.data_summary = meta["data_summary"]
        obj.training = meta["training"]
        obj.created_at = meta["created_at"]
        obj._version = meta["version"]
        return obj


# --------------------------------------------------------------------- evaluation


def _regression_report(
    y_true: np.ndarray,
    pred: FusionPrediction,
    *,
    y_train: np.ndarray,
    score_range: tuple[float, float],
    score_step: float,
) -> dict[str, float]:
    """Grading metrics plus interval quality and the constant-predictor baseline.

    ``constant_rmse`` (predicting the training mean) is reported next to ``rmse``
    because a model that does not beat it must not be presented as meaningful.
    """
    ok = np.isfinite(y_true)
    y_true = y_true[ok]
    lo, hi = score_range
    out = mm.regression_metrics(y_true, pred.score[ok], min_score=lo, max_score=hi, step=score_step)
    train_mean = float(np.nanmean(y_train)) if np.isfinite(y_train).any() else (lo + hi) / 2
    out["constant_rmse"] = mm.rmse(y_true, np.full_like(y_true, train_mean))
    out["coverage"] = float(np.mean((y_true >= pred.lower[ok]) & (y_true <= pred.upper[ok])))
    out["mean_interval_width"] = float(np.mean(pred.upper[ok] - pred.lower[ok]))
    out["mean_confidence"] = float(np.mean(pred.confidence[ok]))
    return out


def _aux_report(
    pred: FusionPrediction,
    crit: np.ndarray | None,
    beh: np.ndarray | None,
    idx: np.ndarray,
) -> dict[str, float]:
    out: dict[str, float] = {}
    if crit is not None and pred.criteria is not None:
        accs = []
        for c, probs in enumerate(pred.criteria):
            t = crit[idx, c]
            ok = t != IGNORE
            if ok.any():
                accs.append(mm.accuracy(t[ok], probs[ok].argmax(axis=1)))
        if accs:
            out["criteria_accuracy"] = float(np.mean(accs))
    if beh is not None and pred.behaviour is not None:
        t = beh[idx]
        ok = t != IGNORE
        if ok.any():
            probs = pred.behaviour[ok]
            cls_metrics = mm.classification_metrics(t[ok], probs.argmax(axis=1), probs)
            out.update({f"behaviour_{k}": v for k, v in cls_metrics.items()})
    return out


def _summarise(
    folds: Sequence[Mapping[str, float]],
) -> tuple[dict[str, float], dict[str, float]]:
    keys = [k for k in folds[0] if isinstance(folds[0][k], (int, float)) and k != "fold"]
    mean = {k: float(np.mean([f[k] for f in folds])) for k in keys}
    std = {k: float(np.std([f[k] for f in folds])) for k in keys}
    return mean, std


def cross_validate(
    X: Mapping[str, np.ndarray],
    mask: np.ndarray | None,
    y: np.ndarray,
    *,
    k: int = 5,
    kind: str = "attention",
    spec: FusionSpec | None = None,
    criteria: np.ndarray | None = None,
    behaviour: np.ndarray | None = None,
    score_range: tuple[float, float] | None = None,
    score_step: float = 1.0,
    seed: int = 0,
    **fit_kwargs: Any,
) -> dict[str, Any]:
    """K-fold evaluation of ``fit_fusion``: metrics per fold plus their mean and std.

    Folds come from ``KFold(shuffle=True, random_state=seed)``, so different kinds
    evaluated with the same seed see the same splits. The score range is fixed from
    all labels up front, so every fold normalises and scores on the same scale.
    Returns ``{"kind", "k", "folds": [...], "mean": {...}, "std": {...}}``.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    labelled = np.isfinite(y)
    if score_range is None:
        score_range = (float(y[labelled].min()), float(y[labelled].max()))
    if spec is None:
        spec = spec_for(X, criteria=criteria, behaviour=behaviour)
    arrays, full_mask = _check_inputs(X, mask, spec)
    crit = None if criteria is None else np.asarray(criteria).reshape(len(y), -1)
    beh = None if behaviour is None else np.asarray(behaviour).ravel()
    folds = []
    for f, (train_idx, test_idx) in enumerate(KFold(k, shuffle=True, random_state=seed).split(y)):
        started = time.perf_counter()
        model = fit_fusion(
            {m: a[train_idx] for m, a in arrays.items()},
            full_mask[train_idx],
            y[train_idx],
            kind=kind,
            spec=spec,
            criteria=None if crit is None else crit[train_idx],
            behaviour=None if beh is None else beh[train_idx],
            score_range=score_range,
            score_step=score_step,
            seed=seed + f,
            **fit_kwargs,
        )
        fit_s = time.perf_counter() - started
        pred = model.predict({m: a[test_idx] for m, a in arrays.items()}, full_mask[test_idx])
        row: dict[str, Any] = {
            "fold": f,
            "n_train": len(train_idx),
            "n_test": len(test_idx),
        }
        row.update(
            _regression_report(
                y[test_idx],
                pred,
                y_train=y[train_idx],
                score_range=score_range,
                score_step=score_step,
            )
        )
        row.update(_aux_report(pred, crit, beh, test_idx))
        row["fit_seconds"] = fit_s
        folds.append(row)
    mean, std = _summarise(folds)
    return {"kind": kind, "k": k, "folds": folds, "mean": mean, "std": std}


def compare_fusions(
    X: Mapping[str, np.ndarray],
    mask: np.ndarray | None,
    y: np.ndarray,
    *,
    kinds: Sequence[str] = ("attention", "concat", "weighted"),
    k: int = 5,
    seed: int = 0,
    include_constant: bool = True,
    **cv_kwargs: Any,
) -> list[dict[str, Any]]:
    """Cross-validate several fusion kinds on the same folds; one table row per kind.

    Each row has ``kind`` and ``<metric>_mean`` / ``<metric>_std`` for rmse, mae,
    pearson, qwk, coverage, mean_interval_width, mean_confidence and fit_seconds
    (plus auxiliary-head metrics when labels are given). With ``include_constant``
    a ``constant`` row (training-mean predictor, same folds) anchors the table: a
    fusion model that does not beat it has learnt nothing usable. ``cv_kwargs`` go to
    ``cross_validate`` / ``fit_fusion`` (``spec``, ``score_range``, ``max_epochs``...).
    """
    table: list[dict[str, Any]] = []
    constant: list[float] = []
    for kind in kinds:
        result = cross_validate(X, mask, y, k=k, kind=kind, seed=seed, **cv_kwargs)
        row: dict[str, Any] = {"kind": kind, "k": k}
        for key, value in result["mean"].items():
            if key in ("n_train", "n_test", "constant_rmse"):
                continue
            row[f"{key}_mean"] = value
            row[f"{key}_std"] = result["std"][key]
        table.append(row)
        constant = [f["constant_rmse"] for f in result["folds"]]
    if include_constant and constant:
        table.append(
            {
                "kind": "constant",
                "k": k,
                "rmse_mean": float(np.mean(constant)),
                "rmse_std": float(np.std(constant)),
            }
        )
    return table
