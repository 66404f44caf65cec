"""Writes for behaviour analysis: snapshots, risk estimates, alerts, model training.

The database rows are the product's memory: a recompute upserts on
(student, course, as_of[, model version]) so running it twice changes nothing, and
alerts are keyed so that a crossing into at-risk raises exactly one alert.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from eduplatform.core.api import ApplicationError, Assignment, Course, Enrollment, LearningEvent, Student
from multimodal import knowledge_tracing as kt
from recommendations import behaviour, paths, selectors
from recommendations.models import (
    AssignmentSkill,
    BehaviourSnapshot,
    KTModelRecord,
    LearningPath,
    LearningPathStep,
    LearningResource,
    Mastery,
    ResourceKind,
    ResourcePin,
    RiskAlert,
    RiskEstimate,
    RiskModel,
    Skill,
    SkillAttempt,
    SkillPrerequisite,
)
from recommendations.selectors import (
    kt_params_for,
    kt_serving_record,
    learning_setting,
    risk_setting,
)

log = logging.getLogger(__name__)


def _hour(ts: datetime) -> datetime:
    """Recomputes within the same hour share one as_of, so re-running is an upsert."""
    return ts.replace(minute=0, second=0, microsecond=0)


def _clean(value):
    """JSON-safe numbers (NaN -> None)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def behaviour_recompute_course(*, course_id: int, as_of: datetime | None = None) -> dict:
    """Features, engagement, pattern and (if a model exists) risk for every student of
    a course as of ``as_of`` (default: now, rounded down to the hour); raise or resolve
    alerts. Returns counts."""
    course = Course.objects.get(pk=course_id)
    as_of = _hour(as_of or timezone.now())
    day = (as_of - selectors.course_start(course)).total_seconds() / 86400.0
    timelines = selectors.course_timelines(course_ids=[course_id], as_of_days={course_id: day})
    window = risk_setting("BEHAVIOUR_WINDOW_DAYS")
    model_row = selectors.risk_model_for_day(day)
    model = behaviour.RiskModel.from_dict(model_row.params) if model_row else None
    threshold = float(risk_setting("RISK_ALERT_THRESHOLD"))
    min_conf = float(risk_setting("RISK_CONFIDENCE_THRESHOLD"))
    counts = {"students": 0, "estimates": 0, "shown": 0, "at_risk": 0, "alerts": 0, "resolved": 0}
    features = {key: behaviour.compute_features(tl, day) for key, tl in sorted(timelines.items())}
    activities = (
        {key: behaviour.compute_features(tl, day, window) for key, tl in sorted(timelines.items())}
        if window
        else features
    )
    cohort = behaviour.Cohort.of(activities.values())
    with transaction.atomic():
        for (student_id, cid), f in features.items():
            activity = activities[(student_id, cid)]
            engagement = behaviour.engagement_score(activity)
            pattern, drivers = behaviour.classify_pattern(activity, cohort)
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
                    "features": {k: _clean(v) for k, v in activity.items()},
                },
            )
            counts["students"] += 1
            if model is None or f["withdrawn"]:
                continue  # withdrawn students are shown as disengaged; a risk score adds nothing
            p = float(model.predict_proba(model.matrix([f]))[0])
            conf = behaviour.confidence_of(p)
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
                    "reasons": model.reasons(f),
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
    rows: list[selectors.LabelledRow], feature_names=behaviour.RISK_FEATURES
) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[r.features.get(n, np.nan) for n in feature_names] for r in rows], dtype=float)
    y = np.array([r.at_risk for r in rows], dtype=int)
    return X.reshape(-1, len(feature_names)), y


def risk_model_fit(
    *, rows: list[selectors.LabelledRow], cutoff_day: int, seed: int = 0
) -> tuple[behaviour.RiskModel, behaviour.GuardrailResult, dict]:
    """Fit on students still enrolled at the cut-off (the ones a teacher can help) and
    run the acceptance guardrail on the same training data (never on a test set)."""
    train = [r for r in rows if r.enrolled_at_cutoff]
    X, y = risk_training_arrays(train)
    model = behaviour.fit_risk_model(X, y, behaviour.RISK_FEATURES)
    guard = behaviour.guardrail_evaluate(
        X,
        y,
        behaviour.RISK_FEATURES,
        runs=int(risk_setting("RISK_EVAL_RUNS")),
        min_score=float(risk_setting("RISK_MIN_EVAL_SCORE")),
        max_std=float(risk_setting("RISK_MAX_EVAL_STD")),
        seed=seed,
    )
    summary = {
        "students": len(train),
        "at_risk_share": round(float(y.mean()), 4) if len(y) else None,
        "courses": sorted({r.course_id for r in train}),
        "cutoff_day": cutoff_day,
        "population": "enrolled at the cut-off",
        "label": selectors.LABEL_RULE,
    }
    return model, guard, summary


def risk_model_train(
    *, cutoff_day: int, now: datetime | None = None, course_ids: list[int] | None = None
) -> RiskModel | None:
    """Train and store a model for ``cutoff_day`` on finished courses; None if there is
    no usable training data. The guardrail decides whether it is accepted."""
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
    version = f"risk-logreg-d{cutoff_day}-{now:%Y%m%dT%H%M%S}"
    row, _ = RiskModel.objects.update_or_create(
        version=version,
        defaults={
            "cutoff_day": cutoff_day,
            "feature_names": list(model.feature_names),
            "params": model.to_dict(),
            "guardrail": {k: _clean(v) for k, v in guard.to_dict().items()},
            "metrics": {"eval_auc_mean": _clean(guard.mean), "eval_auc_std": _clean(guard.std)},
            "training_summary": summary,
            "accepted": guard.accepted,
        },
    )
    log.info("risk model %s trained: %s", version, guard.reason)
    return row


def risk_models_refresh(*, now: datetime | None = None) -> list[str]:
    """Train models for the configured cut-offs whose newest model is stale or missing."""
    now = now or timezone.now()
    stale_before = now - timedelta(days=float(risk_setting("RISK_RETRAIN_DAYS")))
    course_ids = selectors.finished_course_ids(before=now)
    if not course_ids:
        return []
    trained = []
    for cutoff in risk_setting("RISK_CUTOFF_DAYS"):
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


# =============================================================================
# Learner model and learning paths (issue 6): skill graph edits, mastery from graded
# attempts (online BKT with forgetting, or the deep model when it serves), learning
# path recompute and step feedback, resource transcripts/embeddings, and offline
# training of the knowledge-tracing models. Reads live in selectors.py, ranking in
# paths.py; Celery shells in tasks.py.
# =============================================================================

VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VERB_SKIPPED = "http://id.tincanapi.com/verb/skipped"
_PATH_NAMESPACE = uuid.UUID("6f1c1c9e-7a53-4a44-9a35-3f6f0c1d2b10")  # statement ids of step feedback


def skill_prerequisite_check(*, skill: Skill, prerequisite: Skill) -> None:
    """Refuse a self-loop, a prerequisite from another course, or an edge closing a cycle."""
    if skill.pk == prerequisite.pk:
        raise ApplicationError("A skill cannot be its own prerequisite.", field="prerequisite")
    if skill.course_id != prerequisite.course_id:
        raise ApplicationError("A prerequisite must be a skill of the same course.", field="prerequisite")
    edges = list(
        SkillPrerequisite.objects.filter(skill__course_id=skill.course_id)
        .exclude(skill=skill, prerequisite=prerequisite)
        .values_list("skill_id", "prerequisite_id")
    )
    cycle = paths.find_cycle([*edges, (skill.pk, prerequisite.pk)])
    if cycle:
        names = dict(Skill.objects.filter(pk__in=cycle).values_list("pk", "name"))
        raise ApplicationError(
            "That prerequisite would make a cycle: " + " needs ".join(names[c] for c in cycle) + ".",
            code="prerequisite_cycle",
            field="prerequisite",
        )


def skill_prerequisite_add(*, skill: Skill, prerequisite: Skill) -> SkillPrerequisite:
    with transaction.atomic():
        list(
            Skill.objects.select_for_update().filter(course_id=skill.course_id).values_list("pk")
        )  # one edit at a time
        skill_prerequisite_check(skill=skill, prerequisite=prerequisite)
        link, _ = SkillPrerequisite.objects.get_or_create(skill=skill, prerequisite=prerequisite)
    return link


def assignment_skill_tag(*, assignment, skill: Skill, weight: float = 1.0) -> AssignmentSkill:
    if assignment.course_id != skill.course_id:
        raise ApplicationError("The skill belongs to another course than the assignment.", field="skill")
    if not 0 < weight <= 1:
        raise ApplicationError("weight must be in (0, 1].", field="weight")
    tag, _ = AssignmentSkill.objects.update_or_create(assignment=assignment, skill=skill, defaults={"weight": weight})
    return tag


def resource_pin_set(
    *, resource: LearningResource, action: str, student=None, user=None, position: int = 0, note: str = ""
) -> ResourcePin:
    """Pin or exclude a resource for its course (``student=None``) or one student; upsert.
    The affected learning paths are recomputed after commit."""
    if action not in ResourcePin.Action.values:
        raise ApplicationError("action must be pin or exclude.", field="action")
    if student is not None and not Enrollment.objects.filter(user=student.user, course_id=resource.course_id).exists():
        raise ApplicationError("That student is not enrolled in the resource's course.", field="student")
    with transaction.atomic():
        pin, _ = ResourcePin.objects.update_or_create(
            resource=resource,
            student=student,
            defaults={
                "course_id": resource.course_id,
                "action": action,
                "position": position,
                "note": note,
                "created_by": user,
            },
        )
        _recompute_after_commit(course_id=resource.course_id, student_id=student.pk if student else None)
    return pin


def resource_pin_remove(*, pin: ResourcePin) -> None:
    course_id, student_id = pin.course_id, pin.student_id
    with transaction.atomic():
        pin.delete()
        _recompute_after_commit(course_id=course_id, student_id=student_id)


def _recompute_after_commit(*, course_id: int, student_id: int | None = None) -> None:
    from recommendations.tasks import recompute_path, recompute_paths_course

    if student_id is None:
        transaction.on_commit(lambda: recompute_paths_course.delay(course_id=course_id))
    else:
        transaction.on_commit(lambda: recompute_path.delay(student_id=student_id, course_id=course_id))


# ------------------------------------------------------------------ mastery


def bkt_soft_update(p_mastery: float, correct: float, params: kt.BKTParams) -> float:
    """``kt.bkt_update`` for a score fraction: the evidence is "correct" with probability
    ``correct`` (Jeffrey's rule), so 1 and 0 give exactly the binary update."""
    c = min(max(float(correct), 0.0), 1.0)
    if c in (0.0, 1.0):
        return kt.bkt_update(p_mastery, int(c), params)
    return c * kt.bkt_update(p_mastery, 1, params) + (1.0 - c) * kt.bkt_update(p_mastery, 0, params)


def bkt_replay(attempts: Iterable[tuple[float, float]], params: kt.BKTParams) -> float:
    """P(mastered) after (correct, weight) attempts in time order. A weight under 1 moves
    the estimate that share of the way a full attempt would."""
    p = params.prior
    for correct, weight in attempts:
        full = bkt_soft_update(p, correct, params)
        p = full if weight >= 1 else p + weight * (full - p)
    return p


def mastery_record_attempts(
    *, student, skill_weights: dict[int, float], correct: float, source: str, occurred_at: datetime
) -> list[Mastery]:
    """Store one graded attempt as evidence for each skill (upsert on the source, so a
    re-released or adjusted grade replaces its earlier evidence) and update mastery."""
    if not skill_weights:
        return []
    correct = min(max(float(correct), 0.0), 1.0)
    with transaction.atomic():
        for sid, weight in sorted(skill_weights.items()):
            SkillAttempt.objects.update_or_create(
                student=student,
                skill_id=sid,
                source=source[:80],
                defaults={"correct": correct, "weight": float(weight), "occurred_at": occurred_at},
            )
        return mastery_recompute(student=student, skill_ids=list(skill_weights))


def mastery_update_from_attempt(
    *, student, assignment, correct: float | bool, source: str = "", occurred_at: datetime | None = None
) -> list[Mastery]:
    """A graded attempt at ``assignment`` (``correct``: True/False or a score fraction 0-1)
    updates the mastery of every skill tagged on it. ``source`` identifies the attempt
    (default: a new one each call); calling again with the same source replaces it."""
    weights = dict(AssignmentSkill.objects.filter(assignment=assignment).values_list("skill_id", "weight"))
    return mastery_record_attempts(
        student=student,
        skill_weights=weights,
        correct=float(correct),
        source=source or f"attempt:{uuid.uuid4().hex}",
        occurred_at=occurred_at or timezone.now(),
    )


def mastery_update_from_grade(*, grade_id: int) -> list[Mastery]:
    """A released or instructor-confirmed grade is a graded attempt at its assignment."""
    from grading.api import grade_attempt_for

    attempt = grade_attempt_for(grade_id=grade_id)
    if attempt is None:
        return []
    student = Student.objects.get(pk=attempt["student_id"])
    assignment = Assignment.objects.get(pk=attempt["assignment_id"])
    return mastery_update_from_attempt(
        student=student,
        assignment=assignment,
        correct=attempt["fraction"],
        source=f"submission:{attempt['submission_id']}",
        occurred_at=attempt["submitted_at"],
    )


def _event_correctness(result: dict) -> float | None:
    if not isinstance(result, dict):
        return None
    if isinstance(result.get("success"), bool):
        return 1.0 if result["success"] else 0.0
    return selectors._event_score(result)


def mastery_update_from_event(*, event_id: int) -> list[Mastery]:
    """An xAPI "answered"/"scored" statement with ``result.success`` (or a score) about an
    assignment (``assignment:<id>``), an exercise resource (``resource:<id>``) or listing
    skill ids in the context extension ``SKILLS_EXT`` updates those skills' mastery."""
    event = LearningEvent.objects.filter(pk=event_id).select_related("student").first()
    if event is None or event.student is None or event.course_id is None:
        return []
    if selectors.verb_name(event.verb) not in selectors.MASTERY_VERBS:
        return []
    correct = _event_correctness(event.result)
    if correct is None:
        return []
    weights: dict[int, float] = {}
    aid = selectors._object_pk(event.object_id, "assignment")
    rid = selectors._object_pk(event.object_id, "resource")
    if aid is not None:
        weights.update(
            AssignmentSkill.objects.filter(assignment_id=aid, assignment__course_id=event.course_id).values_list(
                "skill_id", "weight"
            )
        )
    if rid is not None:
        weights.update(
            {
                sid: 1.0
                for sid in LearningResource.skills.through.objects.filter(
                    learningresource_id=rid, learningresource__course_id=event.course_id
                ).values_list("skill_id", flat=True)
            }
        )
    ext = (event.context or {}).get("extensions") if isinstance(event.context, dict) else None
    listed = ext.get(selectors.SKILLS_EXT) if isinstance(ext, dict) else None
    if isinstance(listed, list):
        ids = [int(x) for x in listed if isinstance(x, int) or (isinstance(x, str) and x.isdigit())]
        weights.update(
            {
                sid: 1.0
                for sid in Skill.objects.filter(pk__in=ids, course_id=event.course_id).values_list("pk", flat=True)
            }
        )
    ext_result = (event.result or {}).get("extensions") or {}
    sub_id = ext_result.get("submission_id") if isinstance(ext_result, dict) else None
    source = f"submission:{sub_id}" if isinstance(sub_id, int) else f"event:{event.statement_id}"
    return mastery_record_attempts(
        student=event.student, skill_weights=weights, correct=correct, source=source, occurred_at=event.timestamp
    )


_DEEP_CACHE: dict[str, Any] = {}


def _deep_model(record: KTModelRecord):
    model = _DEEP_CACHE.get(record.version)
    if model is None:
        model = kt.DeepKTModel.load(record.path)
        _DEEP_CACHE.clear()
        _DEEP_CACHE[record.version] = model
    return model


def _deep_mastery(
    record: KTModelRecord, student, skill_ids: list[int], params: dict[int, kt.BKTParams]
) -> dict[int, float]:
    """P(mastered) per skill from the deep model: its P(correct) on a next attempt at the
    skill, after the student's whole history, mapped through the skill's guess/slip
    (P(correct) = p(1-slip) + (1-p)guess). Skills the model never saw are left out."""
    import numpy as np

    model = _deep_model(record)
    history = list(
        SkillAttempt.objects.filter(student=student).order_by("occurred_at", "pk").values_list("skill_id", "correct")
    )
    hs = np.array([s for s, _ in history], dtype=np.int64)
    hc = np.array([1 if c >= 0.5 else 0 for _, c in history], dtype=np.int8)
    known = [sid for sid in skill_ids if 0 < sid < model.n_ids]
    if not known:
        return {}
    seqs = [kt.Sequence(np.r_[hs, sid], np.r_[hc, 0]) for sid in known]
    preds = model.predict_sequences(seqs)
    out = {}
    for sid, pred in zip(known, preds, strict=True):
        pc, g, s = float(pred[-1]), params[sid].guess, params[sid].slip
        out[sid] = min(1.0, max(0.0, (pc - g) / max(1e-6, 1.0 - s - g)))
    return out


def mastery_recompute(*, student, skill_ids: list[int]) -> list[Mastery]:
    """Recompute P(mastered) of these skills from the stored attempts with the serving
    model and write it with its version; enqueue path recomputes where it changed."""
    params = kt_params_for(skill_ids)
    record = kt_serving_record()
    bkt_version = (
        f"bkt-online:{record.version}" if record and record.kind == KTModelRecord.Kind.BKT else "bkt-online:default"
    )
    attempts: dict[int, list] = defaultdict(list)
    last_at: dict[int, datetime] = {}
    for sid, correct, weight, at in (
        SkillAttempt.objects.filter(student=student, skill_id__in=skill_ids)
        .order_by("occurred_at", "pk")
        .values_list("skill_id", "correct", "weight", "occurred_at")
    ):
        attempts[sid].append((correct, weight))
        last_at[sid] = at
    deep: dict[int, float] = {}
    if record is not None and record.kind == KTModelRecord.Kind.DEEP:
        try:
            deep = _deep_mastery(record, student, sorted(skill_ids), params)
        except Exception as exc:  # noqa: BLE001 - missing torch/artifact: BKT keeps mastery up to date
            log.warning("deep KT model %s unusable (%s); using BKT", record.version, exc)
    existing = {m.skill_id: m for m in Mastery.objects.filter(student=student, skill_id__in=skill_ids)}
    changed_courses: set[int] = set()
    out = []
    courses = dict(Skill.objects.filter(pk__in=skill_ids).values_list("pk", "course_id"))
    for sid in sorted(skill_ids):
        if sid not in courses:
            continue
        if sid in deep:
            p, version = deep[sid], record.version
        else:
            p, version = bkt_replay(attempts.get(sid, ()), params[sid]), bkt_version
        p = min(1.0, max(0.0, float(p)))
        old = existing.get(sid)
        m, _ = Mastery.objects.update_or_create(
            student=student,
            skill_id=sid,
            defaults={
                "p_mastery": p,
                "n_attempts": len(attempts.get(sid, ())),
                "model_version": version,
                "last_attempt_at": last_at.get(sid),
            },
        )
        if old is None or abs(old.p_mastery - p) > 1e-9:
            changed_courses.add(courses[sid])
        out.append(m)
    for course_id in sorted(changed_courses):
        _recompute_after_commit(course_id=course_id, student_id=student.pk)
    return out


def mastery_refresh_all() -> int:
    """Recompute every student's mastery with the serving model (after a model switch)."""
    n = 0
    pairs = SkillAttempt.objects.values_list("student_id", "skill_id").distinct().order_by("student_id", "skill_id")
    by_student: dict[int, list[int]] = defaultdict(list)
    for st, sk in pairs:
        by_student[st].append(sk)
    for student in Student.objects.filter(pk__in=list(by_student)).order_by("pk"):
        with transaction.atomic():
            n += len(mastery_recompute(student=student, skill_ids=by_student[student.pk]))
    return n


# ------------------------------------------------------------------ learning paths


def _path_version() -> str:
    record = kt_serving_record()
    return f"{paths.RECOMMENDER_VERSION}/{record.version if record else 'bkt-online:default'}"


def learning_path_recompute(*, student, course, now: datetime | None = None, force: bool = False) -> LearningPath:
    """Compute the student's next-best resources and store them as the current path.

    When the result is the path the student already has (same steps and reasons), the
    current path is kept as is; ``force`` writes a new one anyway.
    """
    now = now or timezone.now()
    inputs = selectors.path_inputs(student=student, course=course, now=now)
    plan = paths.recommend(**inputs)
    version = _path_version()
    with transaction.atomic():
        current = (
            LearningPath.objects.select_for_update().filter(student=student, course=course, is_current=True).first()
        )
        if current is not None and not force and current.model_version == version:
            same = [(s.resource_id, s.skill_id, s.reason) for s in current.steps.order_by("position")]
            if same == plan.signature() and current.summary == plan.summary:
                return current
        if current is not None:
            LearningPath.objects.filter(pk=current.pk).update(is_current=False)
        path = LearningPath.objects.create(
            student=student,
            course=course,
            computed_at=now,
            model_version=version,
            is_current=True,
            summary=plan.summary,
            mastery_snapshot={str(k): round(v, 4) for k, v in inputs["mastery"].items()},
            modality_preference=plan.preference,
        )
        LearningPathStep.objects.bulk_create(
            [
                LearningPathStep(
                    path=path,
                    position=s.position,
                    resource_id=s.resource_id,
                    skill_id=s.skill_id,
                    reason=s.reason,
                    expected_gain=s.expected_gain,
                    score=s.score,
                    factors=s.factors,
                    pinned=s.pinned,
                )
                for s in plan.steps
            ]
        )
    log.info("learning path %s for student %s in course %s: %d steps", path.pk, student.pk, course.pk, len(plan.steps))
    return path


def learning_path_current_or_compute(*, student, course) -> LearningPath:
    """The current path; computed now when the student has none yet."""
    path = selectors.current_path(student_id=student.pk, course_id=course.pk)
    if path is None:
        try:
            learning_path_recompute(student=student, course=course)
        except IntegrityError:  # a concurrent request created it first
            pass
        path = selectors.current_path(student_id=student.pk, course_id=course.pk)
    return path


def learning_paths_recompute_course(*, course_id: int) -> int:
    """Recompute the paths of every student of a course (after resources or pins change)."""
    course = Course.objects.get(pk=course_id)
    n = 0
    for student in Student.objects.filter(
        user__eduplatform_enrollments__course=course, user__eduplatform_enrollments__role=Enrollment.Role.STUDENT
    ).order_by("pk"):
        learning_path_recompute(student=student, course=course)
        n += 1
    return n


def path_step_mark(*, step: LearningPathStep, status: str) -> LearningPathStep:
    """The student did or skipped a step. Done resources are not offered again and raise
    the preference for their modality; skipped ones are ranked lower and lower it. The
    feedback is also stored as an xAPI statement (idempotent), and the path recomputed."""
    from eduplatform.core.api import event_record

    status = {"skip": LearningPathStep.Status.SKIPPED}.get(status, status)
    if status not in (LearningPathStep.Status.DONE, LearningPathStep.Status.SKIPPED):
        raise ApplicationError("status must be done or skipped.", field="status")
    if step.status == status:
        return step
    now = timezone.now()
    with transaction.atomic():
        LearningPathStep.objects.filter(pk=step.pk).update(status=status, status_changed_at=now)
        step.status, step.status_changed_at = status, now
        path = step.path
        resource = step.resource
        event_record(
            student=path.student,
            course=path.course,
            verb=VERB_COMPLETED if status == LearningPathStep.Status.DONE else VERB_SKIPPED,
            object_id=selectors.resource_object_id(resource.pk),
            object_type=f"https://w3id.org/eduplatform/xapi/activities/{resource.kind}",
            result={"extensions": {"learning_path_step": step.pk}},
            statement_id=uuid.uuid5(_PATH_NAMESPACE, f"step:{step.pk}:{status}"),
            timestamp=now,
        )
        _recompute_after_commit(course_id=path.course_id, student_id=path.student_id)
    return step


# ------------------------------------------------------------------ resources


def _resource_text(resource: LearningResource) -> str:
    return "\n".join(t for t in (resource.title, resource.description, resource.transcript) if t and t.strip())


def resource_extract_text(*, resource: LearningResource) -> str:
    """Transcript of an uploaded audio/video (speech recogniser) or OCR text of an image
    (slides). Returns the text; records why when the file cannot be read."""
    if not resource.file or resource.transcript.strip():
        return resource.transcript
    try:
        path = resource.file.path
        if resource.kind in (ResourceKind.AUDIO, ResourceKind.VIDEO):
            from multimodal.registry import get_asr

            text = get_asr().transcribe(path).text
        elif resource.kind == ResourceKind.IMAGE:
            from multimodal.registry import get_ocr

            text = get_ocr()(path).text
        else:
            return resource.transcript
    except (OSError, ValueError) as exc:
        LearningResource.objects.filter(pk=resource.pk).update(content_error=str(exc)[:2000])
        log.warning("resource %s: could not read its file (%s)", resource.pk, exc)
        return resource.transcript
    LearningResource.objects.filter(pk=resource.pk).update(transcript=text, content_error="")
    resource.transcript = text
    return text


def resource_embed(*, resource_id: int, force: bool = False) -> bool:
    """Transcribe/OCR the resource's file if needed, then embed title + description +
    transcript with the text encoder. Idempotent: skipped when the text and encoder
    are unchanged. Returns whether a new embedding was written."""
    from multimodal.registry import get_text_encoder, model_versions

    resource = LearningResource.objects.filter(pk=resource_id).first()
    if resource is None:
        return False
    resource_extract_text(resource=resource)
    text = _resource_text(resource)
    sha = hashlib.sha256(text.encode()).hexdigest()
    encoder = get_text_encoder()
    version = model_versions().get("text", "text")
    if (
        not force
        and resource.embedding
        and resource.embedding_source_sha == sha
        and resource.embedding_model == version
    ):
        return False
    vector = encoder.encode([text])[0]
    LearningResource.objects.filter(pk=resource.pk).update(
        embedding=[round(float(x), 6) for x in vector], embedding_model=version, embedding_source_sha=sha
    )
    return True


def resources_embed(*, resource_ids: list[int]) -> int:
    return sum(resource_embed(resource_id=rid) for rid in resource_ids)


# ------------------------------------------------------------------ knowledge-tracing models


def kt_training_sequences() -> tuple[list[kt.Sequence], list[int]]:
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
    seqs = [kt.Sequence([s for s, _ in per[st]], [1 if c >= 0.5 else 0 for _, c in per[st]]) for st in students]
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
    from django.conf import settings as django_settings

    seqs, _ = kt_training_sequences()
    usable = [s for s in seqs if len(s) >= 2]
    min_students = int(learning_setting("KT_MIN_STUDENTS"))
    labels = {int(c) for s in usable for c in s.correct.tolist()}
    if len(usable) < min_students or labels != {0, 1}:
        log.info(
            "KT training skipped: %d students with 2+ attempts (need %d), labels %s",
            len(usable),
            min_students,
            sorted(labels),
        )
        return None
    train, test = kt.train_val_split(usable, float(learning_setting("KT_HOLDOUT_FRACTION")), seed)
    if len({int(c) for s in test for c in s.correct.tolist()}) < 2:
        log.info("KT training skipped: held-out students have one label only")
        return None
    folder = folder or Path(django_settings.VAR_DIR) / "models" / "kt"
    folder.mkdir(parents=True, exist_ok=True)
    candidates = []
    for name in ("bkt_forget", deep_model):
        model = kt.make_model(name, max_epochs=max_epochs, time_budget_s=time_budget_s, seed=seed)
        t0 = time.perf_counter()
        try:
            model.fit(train)
        except ImportError as exc:  # a worker without torch still serves BKT
            log.warning("KT model %s not trained: %s", name, exc)
            continue
        train_s = time.perf_counter() - t0
        metrics = kt.evaluate(model, test)
        model.metrics = {
            "heldout_auc": _clean(round(metrics["auc"], 4)),
            "heldout_acc": round(metrics["acc"], 4),
            "heldout_responses": metrics["n"],
            "heldout_students": len(test),
            "train_s": round(train_s, 2),
            "pred_per_s": round(metrics["pred_per_s"], 1),
        }
        suffix = ".json" if isinstance(model, kt.BKTModel) else ".pt"
        path = model.save(folder / f"{model.version}{suffix}")
        summary = {
            **kt.data_summary(train),
            "heldout_students": len(test),
            "device": str(getattr(model, "device", "cpu")),
        }
        candidates.append(
            (
                model.metrics["heldout_auc"] if model.metrics["heldout_auc"] is not None else -1.0,
                0 if isinstance(model, kt.BKTModel) else 1,
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
    mastery_refresh_all()
    return serving


def kt_model_serve(*, record: KTModelRecord) -> KTModelRecord:
    """An instructor/admin override: serve this model and recompute mastery with it."""
    with transaction.atomic():
        KTModelRecord.objects.filter(serving=True).exclude(pk=record.pk).update(serving=False)
        KTModelRecord.objects.filter(pk=record.pk).update(serving=True)
        record.serving = True
        from recommendations.tasks import refresh_mastery

        transaction.on_commit(lambda: refresh_mastery.delay())
    return record
