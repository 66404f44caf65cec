"""WORKER ONLY: knowledge-tracing training and deep-model serving.

Imported by ``recommendations.tasks`` and management commands, never by a module the
web process loads (it reaches torch through ``multimodal.knowledge_tracing.deep``).

* ``kt_train_and_select`` trains BKT (with forgetting) and a deep model on the school's
  history, scores both on held-out students and serves the better one (BKT on a tie:
  cheaper, explainable). Each model is an artifact folder under
  ``artifact_dir("kt")`` with its metadata (``multimodal.artifacts``).
* ``deep_serving`` loads the serving deep model once per worker process
  (``multimodal.registry.cached``, a bounded LRU) and gives mastery its estimates.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from django.db import transaction

from eduplatform.core.api import artifact_dir, settings
from multimodal import registry
from multimodal.artifacts import json_safe, save_versioned
from multimodal.knowledge_tracing import BKTModel, BKTParams, data_summary, evaluate, train_val_split
from multimodal.knowledge_tracing import Sequence as KTSequence
from multimodal.knowledge_tracing.deep import DeepKTModel
from multimodal.knowledge_tracing.factory import make_model
from recommendations.mastery import selectors, services
from recommendations.mastery.rules import mastery_from_p_correct
from recommendations.models import KTModelRecord, SkillAttempt

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ serving


class DeepServing:
    """The serving deep model as ``services.mastery_recompute`` uses it."""

    def __init__(self, model: DeepKTModel, version: str) -> None:
        self.model = model
        self.version = version

    def mastery(
        self, history: Sequence[tuple[int, float]], skill_ids: Sequence[int], params: Mapping[int, BKTParams]
    ) -> dict[int, float]:
        """P(mastered) per skill: the model's P(correct) on a next attempt at the skill after
        the student's whole history, through the skill's guess/slip. Skills the model
        never saw are left out (BKT covers them)."""
        hs = np.array([s for s, _ in history], dtype=np.int64)
        hc = np.array([1 if c >= 0.5 else 0 for _, c in history], dtype=np.int8)
        known = [sid for sid in skill_ids if 0 < sid < self.model.n_ids]
        if not known:
            return {}
        seqs = [KTSequence(np.r_[hs, sid], np.r_[hc, 0]) for sid in known]
        preds = self.model.predict_sequences(seqs)
        return {
            sid: mastery_from_p_correct(float(pred[-1]), params[sid]) for sid, pred in zip(known, preds, strict=True)
        }


def deep_serving() -> DeepServing | None:
    """The serving deep model, loaded once per process; None when BKT serves or the
    artifact cannot be loaded (mastery then stays on BKT, which is logged)."""
    record = selectors.kt_serving_record()
    if record is None or record.kind != KTModelRecord.Kind.DEEP:
        return None
    try:
        model = registry.cached(
            f"kt:{record.version}", lambda: DeepKTModel.load(record.path, device=settings.DEVICE or None)
        )
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        log.warning("deep KT model %s unusable (%s); using BKT", record.version, exc)
        return None
    return DeepServing(model, record.version)


def mastery_refresh_with_serving(*, student_ids: Sequence[int] | None = None, skill_ids: Sequence[int] | None = None):
    """Recompute mastery (these students and skills, default everyone) with the serving model."""
    return services.mastery_refresh(student_ids=student_ids, skill_ids=skill_ids, deep=deep_serving())


# ------------------------------------------------------------------ training


def kt_training_sequences() -> tuple[list[KTSequence], list[int]]:
    """One sequence per student (all courses) from the stored attempts, in time order;
    skill ids are Skill primary keys, a score fraction >= 0.5 counts as correct."""
    per: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for st, sk, c in (
        SkillAttempt.objects.order_by("student_id", "occurred_at", "pk")
        .values_list("student_id", "skill_id", "correct")
        .iterator(chunk_size=5000)
    ):
        per[st].append((sk, c))
    students = sorted(per)
    seqs = [KTSequence([s for s, _ in per[st]], [1 if c >= 0.5 else 0 for _, c in per[st]]) for st in students]
    return seqs, students


def kt_train_and_select(
    *,
    deep_model: str = "dkt",
    max_epochs: int | None = None,
    time_budget_s: float | None = None,
    seed: int = 0,
    folder: Path | None = None,
) -> KTModelRecord | None:
    """Train BKT (with forgetting) and the deep model on the school's history, score both
    on held-out students, and serve the better (BKT on a tie: cheaper, explainable).

    Returns the serving record, or None when there is not enough history yet. The
    deep model tunes (early stopping) on a validation split of the training students
    only; the held-out students decide which model serves.
    """
    seqs, _ = kt_training_sequences()
    usable = [s for s in seqs if len(s) >= 2]
    min_students = int(settings.KT_MIN_STUDENTS)
    labels = {int(c) for s in usable for c in s.correct.tolist()}
    if len(usable) < min_students or labels != {0, 1}:
        log.info(
            "KT training skipped: %d students with 2+ attempts (need %d), labels %s",
            len(usable),
            min_students,
            sorted(labels),
        )
        return None
    train, test = train_val_split(usable, float(settings.KT_HOLDOUT_FRACTION), seed)
    if len({int(c) for s in test for c in s.correct.tolist()}) < 2:
        log.info("KT training skipped: held-out students have one label only")
        return None
    folder = Path(folder) if folder is not None else artifact_dir("kt")
    candidates = []
    for name in ("bkt_forget", deep_model):
        model = make_model(
            name, max_epochs=max_epochs, time_budget_s=time_budget_s, seed=seed, device=settings.DEVICE or None
        )
        t0 = time.perf_counter()
        try:
            model.fit(train)
        except ImportError as exc:  # a worker without torch still serves BKT
            log.warning("KT model %s not trained: %s", name, exc)
            continue
        train_s = time.perf_counter() - t0
        metrics = evaluate(model, test)
        model.metrics = {
            "heldout_auc": json_safe(round(metrics["auc"], 4)),
            "heldout_acc": round(metrics["acc"], 4),
            "heldout_responses": metrics["n"],
            "heldout_students": len(test),
            "train_s": round(train_s, 2),
            "pred_per_s": round(metrics["pred_per_s"], 1),
        }
        summary = {
            **data_summary(train),
            "heldout_students": len(test),
            "device": str(getattr(model, "device", "cpu")),
        }
        model.train_summary = {**model.train_summary, **summary}  # the deep model adds its epochs
        path = save_versioned(folder, model.save, lambda m=model: m.version)
        candidates.append(
            (
                model.metrics["heldout_auc"] if model.metrics["heldout_auc"] is not None else -1.0,
                0 if isinstance(model, BKTModel) else 1,
                name,
                model,
                path,
                summary,
            )
        )
    if not candidates:
        return None
    best = max(candidates, key=lambda c: (c[0], -c[1]))
    with transaction.atomic():
        KTModelRecord.objects.filter(serving=True).update(serving=False)
        serving = None
        for _auc, is_deep, name, model, path, summary in candidates:
            row = KTModelRecord.objects.create(
                name=name,
                kind=KTModelRecord.Kind.DEEP if is_deep else KTModelRecord.Kind.BKT,
                version=model.version
                if not KTModelRecord.objects.filter(version=model.version).exists()
                else f"{model.version}-{uuid.uuid4().hex[:6]}",
                path=str(path),
                metrics=model.metrics,
                training_summary=summary,
                serving=False,
            )
            if name == best[2]:
                serving = row
        KTModelRecord.objects.filter(pk=serving.pk).update(serving=True)
        serving.serving = True
    log.info("KT models trained; serving %s (held-out AUC %s)", serving.version, serving.metrics.get("heldout_auc"))
    mastery_refresh_with_serving()
    return serving
