"""Writes for behaviour analysis: snapshots, at-risk estimates, alerts, estimator training.

The database rows are the product's memory: a recompute upserts on
(student, course, as_of[, model version]) so running it twice changes nothing, and
alerts are keyed so that a crossing into at-risk raises exactly one alert. The
estimator itself (fitting, guardrail, prediction) is ``multimodal.risk``; the features
and their wording are ``recommendations.risk.features``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from eduplatform.core.api import ApplicationError, Course, artifact_dir, settings
from multimodal.artifacts import json_safe
from multimodal.risk import GuardrailResult, RiskEstimator, confidence_of, fit_risk_estimator, guardrail_evaluate
from recommendations.models import BehaviourSnapshot, RiskAlert, RiskEstimate, RiskModel
from recommendations.risk import selectors
from recommendations.risk.features import COUNT_LIKE, RISK_FEATURES, compute_features, risk_reasons
from recommendations.risk.patterns import Cohort, classify_pattern, engagement_score
from recommendations.xapi import LABEL_RULE

log = logging.getLogger(__name__)


def _hour(ts: datetime) -> datetime:
    """Recomputes within the same hour share one as_of, so re-running is an upsert."""
    return ts.replace(minute=0, second=0, microsecond=0)


def behaviour_recompute_course(*, course_id: int, as_of: datetime | None = None) -> dict:
    """Features, engagement, pattern and (if a model exists) risk for every student of
    a course as of ``as_of`` (default: now, rounded down to the hour); raise or resolve
    alerts. Returns counts."""
    course = Course.objects.get(pk=course_id)
    as_of = _hour(as_of or timezone.now())
    day = (as_of - selectors.course_start(course)).total_seconds() / 86400.0
    timelines = selectors.course_timelines(course_ids=[course_id], as_of_days={course_id: day})
    window = settings.BEHAVIOUR_WINDOW_DAYS
    model_row = selectors.risk_model_for_day(day)
    model = RiskEstimator.from_dict(model_row.params) if model_row else None
    threshold = float(settings.RISK_ALERT_THRESHOLD)
    min_conf = float(settings.RISK_CONFIDENCE_THRESHOLD)
    counts = {"students": 0, "estimates": 0, "shown": 0, "at_risk": 0, "alerts": 0, "resolved": 0}
    features = {key: compute_features(tl, day) for key, tl in sorted(timelines.items())}
    activities = (
        {key: compute_features(tl, day, window) for key, tl in sorted(timelines.items())} if window else features
    )
    cohort = Cohort.of(activities.values())
    with transaction.atomic():
        for (student_id, cid), f in features.items():
            activity = activities[(student_id, cid)]
            engagement = engagement_score(activity)
            pattern, drivers = classify_pattern(activity, cohort)
            BehaviourSnapshot.objects.update_or_create(
                student_id=student_id,
                course_id=course_id,
                as_of=as_of,
                defaults={
                    "course_day": day,
                    "window_days": window,
                    "engagement": engagement,
                    "pattern": pattern,
                    "pattern_drivers": drivers,
                    "features": {k: json_safe(v) for k, v in activity.items()},
                },
            )
            counts["students"] += 1
            if model is None or f["withdrawn"]:
                continue  # withdrawn students are shown as disengaged; a risk score adds nothing
            p = float(model.predict_proba(model.matrix([f]))[0])
            conf = confidence_of(p)
            if not model_row.accepted:
                hidden = RiskEstimate.Hidden.MODEL_NOT_ACCEPTED
            elif conf < min_conf:
                hidden = RiskEstimate.Hidden.LOW_CONFIDENCE
            else:
                hidden = RiskEstimate.Hidden.NONE
            est, _ = RiskEstimate.objects.update_or_create(
                student_id=student_id,
                course_id=course_id,
                as_of=as_of,
                model_version=model_row.version,
                defaults={
                    "course_day": day,
                    "probability": p,
                    "confidence": conf,
                    "at_risk": p >= threshold,
                    "pattern": pattern,
                    "engagement": engagement,
                    "reasons": risk_reasons(model, f),
                    "model": model_row,
                    "shown": hidden == RiskEstimate.Hidden.NONE,
                    "hidden_reason": hidden,
                },
            )
            counts["estimates"] += 1
            counts["shown"] += est.shown
            counts["at_risk"] += est.shown and est.at_risk
            outcome = risk_alert_update(estimate=est)
            if outcome == "raised":
                counts["alerts"] += 1
            elif outcome == "resolved":
                counts["resolved"] += 1
    log.info("behaviour recomputed for course %s at day %.1f: %s", course_id, day, counts)
    return counts


def risk_alert_update(*, estimate: RiskEstimate) -> str:
    """Raise an alert when a shown estimate is at risk and no alert is open for this
    student and course; resolve the open alert when a shown estimate is below the
    threshold. Hidden estimates change nothing. Returns raised/resolved/unchanged."""
    if not estimate.shown:
        return "unchanged"
    open_alerts = RiskAlert.objects.filter(
        student_id=estimate.student_id, course_id=estimate.course_id, resolved_at__isnull=True
    )
    if estimate.at_risk:
        if open_alerts.exists():
            return "unchanged"
        try:
            with transaction.atomic():
                RiskAlert.objects.create(
                    student_id=estimate.student_id,
                    course_id=estimate.course_id,
                    estimate=estimate,
                    crossed_at=estimate.as_of,
                    probability=estimate.probability,
                    reasons=estimate.reasons,
                    pattern=estimate.pattern,
                    model_version=estimate.model_version,
                )
        except IntegrityError:  # a concurrent recompute raised it first
            return "unchanged"
        return "raised"
    n = open_alerts.update(status=RiskAlert.Status.RESOLVED, resolved_at=estimate.as_of)
    return "resolved" if n else "unchanged"


def risk_alert_acknowledge(*, alert: RiskAlert, user) -> RiskAlert:
    if alert.status == RiskAlert.Status.RESOLVED:
        raise ApplicationError("This alert is already resolved.", code="alert_resolved", status_code=409)
    if alert.status != RiskAlert.Status.ACKNOWLEDGED:
        alert.status = RiskAlert.Status.ACKNOWLEDGED
        alert.acknowledged_by = user
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return alert


def risk_training_arrays(
    rows: list[selectors.LabelledRow], feature_names=RISK_FEATURES
) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[r.features.get(n, np.nan) for n in feature_names] for r in rows], dtype=float)
    y = np.array([r.at_risk for r in rows], dtype=int)
    return X.reshape(-1, len(feature_names)), y


def risk_estimator_fit(X: np.ndarray, y: np.ndarray, feature_names=RISK_FEATURES) -> RiskEstimator:
    """The product's estimator on a feature matrix: count features are log-scaled."""
    return fit_risk_estimator(X, y, feature_names, log_features=COUNT_LIKE)


def risk_model_fit(
    *, rows: list[selectors.LabelledRow], cutoff_day: int, seed: int = 0
) -> tuple[RiskEstimator, GuardrailResult, dict]:
    """Fit on students still enrolled at the cut-off (the ones a teacher can help) and
    run the acceptance guardrail on the same training data (never on a test set)."""
    train = [r for r in rows if r.enrolled_at_cutoff]
    X, y = risk_training_arrays(train)
    model = risk_estimator_fit(X, y)
    guard = guardrail_evaluate(
        X,
        y,
        RISK_FEATURES,
        log_features=COUNT_LIKE,
        runs=int(settings.RISK_EVAL_RUNS),
        min_score=float(settings.RISK_MIN_EVAL_SCORE),
        max_std=float(settings.RISK_MAX_EVAL_STD),
        seed=seed,
    )
    summary = {
        "students": len(train),
        "at_risk_share": round(float(y.mean()), 4) if len(y) else None,
        "courses": sorted({r.course_id for r in train}),
        "cutoff_day": cutoff_day,
        "population": "enrolled at the cut-off",
        "label": LABEL_RULE,
    }
    return model, guard, summary


def risk_model_train(
    *, cutoff_day: int, now: datetime | None = None, course_ids: list[int] | None = None
) -> RiskModel | None:
    """Train and store an estimator for ``cutoff_day`` on finished courses; None if there is
    no usable training data. The guardrail decides whether it is accepted.

    The estimator is written as an artifact folder (``artifact_dir("risk", version)``,
    version ``risk-logreg-d<cutoff>-<digest>``) and its parameters also go into the
    ``RiskModel`` row, which is what estimates are computed from (no artifact disk needed
    by the web process or the admin). Training again on the same data gives the same
    version: the row is refreshed, not duplicated."""
    now = now or timezone.now()
    course_ids = course_ids if course_ids is not None else selectors.finished_course_ids(before=now)
    rows = selectors.risk_dataset(course_ids=course_ids, cutoff_day=cutoff_day)
    enrolled = [r for r in rows if r.enrolled_at_cutoff]
    if len({r.at_risk for r in enrolled}) < 2:
        log.info(
            "no model for day %s: %d labelled students in %d finished courses",
            cutoff_day,
            len(enrolled),
            len(course_ids),
        )
        return None
    model, guard, summary = risk_model_fit(rows=rows, cutoff_day=cutoff_day)
    prefix = f"risk-logreg-d{cutoff_day}"
    version = model.version(prefix)
    metrics = {"eval_auc_mean": json_safe(guard.mean), "eval_auc_std": json_safe(guard.std)}
    model.save(
        artifact_dir("risk", version),
        version_prefix=prefix,
        training_summary=summary,
        metrics=metrics,
        guardrail=guard.to_dict(),
        accepted=guard.accepted,
        cutoff_day=cutoff_day,
    )
    row, created = RiskModel.objects.update_or_create(
        version=version,
        defaults={
            "cutoff_day": cutoff_day,
            "feature_names": list(model.feature_names),
            "params": model.to_dict(),
            "guardrail": json_safe(guard.to_dict()),
            "metrics": metrics,
            "training_summary": summary,
            "accepted": guard.accepted,
        },
    )
    if not created:  # the same estimator again: it is as fresh as this training
        RiskModel.objects.filter(pk=row.pk).update(created_at=now)
    log.info("risk model %s trained: %s", version, guard.reason)
    return row


def risk_models_refresh(*, now: datetime | None = None) -> list[str]:
    """Train models for the configured cut-offs whose newest model is stale or missing."""
    now = now or timezone.now()
    stale_before = now - timedelta(days=float(settings.RISK_RETRAIN_DAYS))
    course_ids = selectors.finished_course_ids(before=now)
    if not course_ids:
        return []
    trained = []
    for cutoff in settings.RISK_CUTOFF_DAYS:
        if RiskModel.objects.filter(cutoff_day=cutoff, created_at__gte=stale_before).exists():
            continue
        row = risk_model_train(cutoff_day=int(cutoff), now=now, course_ids=course_ids)
        if row is not None:
            trained.append(row.version)
    return trained


def behaviour_recompute_active(*, now: datetime | None = None, train: bool = True) -> dict:
    """What the periodic task does: refresh stale models, then recompute every active course."""
    now = now or timezone.now()
    trained = risk_models_refresh(now=now) if train else []
    results = {}
    for course_id in selectors.active_course_ids(now=now):
        results[course_id] = behaviour_recompute_course(course_id=course_id, as_of=now)
    return {"trained": trained, "courses": results}
