"""Reads for behaviour analysis: timelines from the database, labelled training sets,
and permission-scoped views of risk estimates and alerts.

Privacy rules (on top of ``eduplatform.core.selectors``): course staff (instructors, TAs)
see the estimates and alerts of their courses; superusers see everything; a student
sees only their own estimate, and only when ``EDUPLATFORM_STUDENTS_SEE_OWN_RISK`` is
on. Nobody else learns whether an estimate exists (404, not 403).
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import Max, Q, QuerySet

from eduplatform.core.api import (
    ApplicationError,
    Assignment,
    Course,
    Enrollment,
    LearningEvent,
    NotFound,
    Student,
    Submission,
    is_course_staff,
    staff_course_ids,
    student_for_user,
)
from eduplatform.core.api import settings as edu_settings
from multimodal import knowledge_tracing as kt
from recommendations import paths
from recommendations.behaviour import (
    Deadline,
    Event,
    Timeline,
    resource_category,
    verb_name,
)
from recommendations.models import (
    AssignmentSkill,
    BehaviourSnapshot,
    KTModelRecord,
    LearningPath,
    LearningPathStep,
    LearningResource,
    Mastery,
    ResourcePin,
    RiskAlert,
    RiskEstimate,
    RiskModel,
    Skill,
    SkillPrerequisite,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------- settings


def risk_setting(name: str) -> Any:
    """EDUPLATFORM_<name>: the host's setting, else the default documented in eduplatform/conf.py."""
    return getattr(edu_settings, name)


# ------------------------------------------------------------------ xAPI vocabulary

VERB_REGISTERED = "http://adlnet.gov/expapi/verbs/registered"
VERB_UNREGISTERED = "https://w3id.org/eduplatform/xapi/verbs/unregistered"
VERB_PASSED = "http://adlnet.gov/expapi/verbs/passed"
VERB_FAILED = "http://adlnet.gov/expapi/verbs/failed"
VERB_WITHDREW = "https://w3id.org/eduplatform/xapi/verbs/withdrew"
ACTIVITY_COURSE = "http://adlnet.gov/expapi/activities/course"
ACTIVITY_ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
OUTCOME_VERBS = {VERB_PASSED: "passed", VERB_FAILED: "failed", VERB_WITHDREW: "withdrawn"}
LABEL_RULE = "at risk = failed or withdrew (unregistered); not at risk = passed"


# ------------------------------------------------------------------- timelines


def course_start(course: Course) -> datetime:
    """Day 0 of a course: its start date (midnight UTC), else the day it was created."""
    if course.starts_on:
        return datetime.combine(course.starts_on, time.min, tzinfo=UTC)
    return course.created_at.replace(hour=0, minute=0, second=0, microsecond=0)


def course_end(course: Course) -> datetime | None:
    return datetime.combine(course.ends_on, time.min, tzinfo=UTC) if course.ends_on else None


def _day(ts: datetime | None, start: datetime) -> float | None:
    return None if ts is None else (ts - start).total_seconds() / 86400.0


def _scaled(value, lo, hi) -> float | None:
    if value is None:
        return None
    lo, hi = float(lo), float(hi)
    return min(1.0, max(0.0, (float(value) - lo) / (hi - lo))) if hi > lo else None


def _event_score(result: dict) -> float | None:
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    if isinstance(score.get("scaled"), (int, float)):
        return min(1.0, max(0.0, float(score["scaled"])))
    if isinstance(score.get("raw"), (int, float)) and isinstance(score.get("max"), (int, float)):
        return _scaled(score["raw"], score.get("min", 0) or 0, score["max"])
    return None


@dataclass
class Enrolment:
    student_id: int
    course_id: int
    registered_day: float | None
    unregistered_day: float | None


def course_timelines(
    *, course_ids: Iterable[int], as_of_days: dict[int, float] | None = None
) -> dict[tuple[int, int], Timeline]:
    """One Timeline per (student id, course id) for the students enrolled in these courses.

    ``as_of_days`` (course id -> course day) limits what is loaded to what was known
    then, and sets the enrolment-context facts (other courses) at that day.
    """
    courses = {c.pk: c for c in Course.objects.filter(pk__in=list(course_ids))}
    starts = {cid: course_start(c) for cid, c in courses.items()}
    as_of_days = as_of_days or {}
    until = {cid: starts[cid] + _days(as_of_days[cid]) for cid in courses if cid in as_of_days}
    latest = max(until.values()) if len(until) == len(courses) and until else None

    enrol_rows = Enrollment.objects.filter(
        course_id__in=courses, role=Enrollment.Role.STUDENT, user__eduplatform_student__isnull=False
    ).values_list("user__eduplatform_student__id", "course_id", "registered_at", "unregistered_at")
    timelines: dict[tuple[int, int], Timeline] = {}
    for sid, cid, reg, unreg in enrol_rows:
        timelines[(sid, cid)] = Timeline(
            registered_day=_day(reg, starts[cid]), unregistered_day=_day(unreg, starts[cid])
        )
    if not timelines:
        return timelines
    _add_context(timelines, courses, starts, as_of_days)

    assignments = {
        a["id"]: a
        for a in Assignment.objects.filter(course_id__in=courses).values(
            "id", "course_id", "due_at", "min_score", "max_score"
        )
    }
    first_sub: dict[tuple[int, int], dict] = {}
    subs = Submission.objects.filter(assignment_id__in=assignments)
    if latest is not None:
        subs = subs.filter(submitted_at__lt=latest)
    for row in (
        subs.values("id", "assignment_id", "student_id", "submitted_at", "imported_score")
        .order_by("submitted_at", "id")
        .iterator(chunk_size=5000)
    ):
        key = (row["assignment_id"], row["student_id"])
        first = first_sub.setdefault(key, dict(row))
        if row["imported_score"] is not None:  # the latest scored attempt counts
            first["imported_score"], first["id"] = row["imported_score"], row["id"]
    per_student_subs: dict[tuple[int, int], dict[int, dict]] = defaultdict(dict)
    for (aid, sid), row in first_sub.items():
        per_student_subs[(sid, assignments[aid]["course_id"])][aid] = row
    for (sid, cid), tl in timelines.items():
        start = starts[cid]
        got = per_student_subs.get((sid, cid), {})
        for aid, a in assignments.items():
            if a["course_id"] != cid:
                continue
            row = got.get(aid)
            tl.deadlines.append(
                Deadline(
                    due_day=_day(a["due_at"], start),
                    submitted_day=_day(row["submitted_at"], start) if row else None,
                    score=_scaled(row["imported_score"], a["min_score"], a["max_score"]) if row else None,
                    key=f"submission:{row['id']}" if row else f"assignment:{aid}",
                )
            )

    events = LearningEvent.objects.filter(course_id__in=courses, student_id__isnull=False)
    if latest is not None:
        events = events.filter(timestamp__lt=latest)
    for sid, cid, verb, otype, ts, result in events.values_list(
        "student_id", "course_id", "verb", "object_type", "timestamp", "result"
    ).iterator(chunk_size=5000):
        tl = timelines.get((sid, cid))
        if tl is None:
            continue
        ext = result.get("extensions") if isinstance(result, dict) else None
        ext = ext if isinstance(ext, dict) else {}
        mods = ext.get("modalities") or ()
        key = f"submission:{ext['submission_id']}" if ext.get("submission_id") is not None else ""
        tl.events.append(
            Event(
                day=_day(ts, starts[cid]),
                verb=verb_name(verb),
                resource=resource_category(otype),
                modalities=tuple(m for m in mods if isinstance(m, str)),
                score=_event_score(result),
                key=key,
            )
        )
    return timelines


def _days(d: float) -> timedelta:
    return timedelta(days=d)


def _add_context(
    timelines: dict[tuple[int, int], Timeline],
    courses: dict[int, Course],
    starts: dict[int, datetime],
    as_of_days: dict[int, float],
) -> None:
    """Other enrolments of the same students: earlier courses, courses running alongside."""
    student_ids = {sid for sid, _ in timelines}
    others: dict[int, list[tuple[int, datetime, datetime | None, datetime | None]]] = defaultdict(list)
    rows = Enrollment.objects.filter(role=Enrollment.Role.STUDENT, user__eduplatform_student__isnull=False)
    if len(student_ids) <= 5000:  # big imports: scan all enrolments rather than send a huge IN list
        rows = rows.filter(user__eduplatform_student__id__in=student_ids)
    for sid, cid, starts_on, ends_on, unreg, created in rows.values_list(
        "user__eduplatform_student__id",
        "course_id",
        "course__starts_on",
        "course__ends_on",
        "unregistered_at",
        "course__created_at",
    ).iterator(chunk_size=5000):
        if sid not in student_ids:
            continue
        s = datetime.combine(starts_on, time.min, tzinfo=UTC) if starts_on else created
        e = datetime.combine(ends_on, time.min, tzinfo=UTC) if ends_on else None
        others[sid].append((cid, s, e, unreg))
    for (sid, cid), tl in timelines.items():
        start = starts[cid]
        now = start + _days(as_of_days.get(cid, 0.0)) if cid in as_of_days else None
        prior = concurrent = 0
        for ocid, s, e, unreg in others.get(sid, ()):
            if ocid == cid:
                continue
            if s < start:
                prior += 1
            elif now is not None and s <= now and (e is None or e >= now) and (unreg is None or unreg >= now):
                concurrent += 1
        tl.context = {"prior_enrolments": float(prior), "concurrent_enrolments": float(concurrent)}


def course_outcomes(*, course_ids: Iterable[int]) -> dict[tuple[int, int], str]:
    """(student id, course id) -> "passed" / "failed" / "withdrawn" from course-level
    outcome statements, falling back to "withdrawn" for unregistered enrolments."""
    out: dict[tuple[int, int], str] = {}
    for sid, cid, verb in (
        LearningEvent.objects.filter(course_id__in=list(course_ids), verb__in=OUTCOME_VERBS, student_id__isnull=False)
        .order_by("timestamp", "id")
        .values_list("student_id", "course_id", "verb")
    ):
        out[(sid, cid)] = OUTCOME_VERBS[verb]
    for sid, cid in Enrollment.objects.filter(
        course_id__in=list(course_ids),
        role=Enrollment.Role.STUDENT,
        unregistered_at__isnull=False,
        user__eduplatform_student__isnull=False,
    ).values_list("user__eduplatform_student__id", "course_id"):
        out.setdefault((sid, cid), "withdrawn")
    return out


def finished_course_ids(*, before: datetime) -> list[int]:
    """Courses that ended before ``before`` and have outcome statements (training data)."""
    ended = Course.objects.filter(ends_on__lt=before.date())
    return list(ended.filter(events__verb__in=OUTCOME_VERBS).distinct().values_list("pk", flat=True))


@dataclass
class LabelledRow:
    student_id: int
    course_id: int
    features: dict[str, float]
    outcome: str
    at_risk: int  # failed or withdrawn
    withdrew: int
    enrolled_at_cutoff: bool  # registered and not unregistered by the cut-off


def risk_dataset(*, course_ids: Iterable[int], cutoff_day: float) -> list[LabelledRow]:
    """Features as of ``cutoff_day`` (data known by the end of that day) with final outcomes."""
    from recommendations.behaviour import compute_features

    course_ids = list(course_ids)
    as_of = float(cutoff_day) + 1.0
    timelines = course_timelines(course_ids=course_ids, as_of_days=dict.fromkeys(course_ids, as_of))
    outcomes = course_outcomes(course_ids=course_ids)
    rows = []
    for key, tl in sorted(timelines.items()):
        outcome = outcomes.get(key)
        if outcome is None:
            continue
        f = compute_features(tl, as_of)
        rows.append(
            LabelledRow(
                key[0],
                key[1],
                f,
                outcome,
                int(outcome in ("failed", "withdrawn")),
                int(outcome == "withdrawn"),
                not f["withdrawn"],
            )
        )
    return rows


# ------------------------------------------------------------------ model choice


def risk_model_for_day(course_day: float) -> RiskModel | None:
    """The model for a course at ``course_day``: the largest trained cut-off <= the day,
    the newest accepted one at that cut-off, else the newest (rejected) one."""
    cutoffs = RiskModel.objects.filter(cutoff_day__lte=max(0.0, course_day)).values_list("cutoff_day", flat=True)
    if not cutoffs:
        return None
    qs = RiskModel.objects.filter(cutoff_day=max(cutoffs)).order_by("-created_at", "-id")
    return qs.filter(accepted=True).first() or qs.first()


# -------------------------------------------------------------- scoped reads


def active_course_ids(*, now: datetime) -> list[int]:
    today = now.date()
    return list(
        Course.objects.filter(is_active=True)
        .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=today))
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .values_list("pk", flat=True)
    )


def staff_course_get(*, user, course_id: int) -> Course:
    """A course the user teaches (or any, for superusers); 404 otherwise."""
    course = Course.objects.filter(pk=course_id).first()
    if course is None or not is_course_staff(user, course_id):
        raise NotFound(f"Course {course_id} not found.")
    return course


def latest_as_of(*, course_id: int) -> datetime | None:
    return BehaviourSnapshot.objects.filter(course_id=course_id).aggregate(m=Max("as_of"))["m"]


def course_behaviour(*, user, course_id: int, pattern: str | None = None, at_risk: bool | None = None) -> list[dict]:
    """Latest snapshot and estimate per student of a course, for its staff."""
    staff_course_get(user=user, course_id=course_id)
    as_of = latest_as_of(course_id=course_id)
    if as_of is None:
        return []
    snaps = BehaviourSnapshot.objects.filter(course_id=course_id, as_of=as_of)
    if pattern:
        snaps = snaps.filter(pattern=pattern)
    estimates = {
        e.student_id: e
        for e in RiskEstimate.objects.filter(course_id=course_id, as_of=as_of).order_by("student_id", "-created_at")
    }
    rows = []
    for s in snaps.order_by("student_id"):
        est = estimates.get(s.student_id)
        if at_risk is not None and (est is None or not est.shown or est.at_risk != at_risk):
            continue
        rows.append(
            {
                "student": s.student_id,
                "as_of": s.as_of,
                "course_day": s.course_day,
                "engagement": s.engagement,
                "pattern": s.pattern,
                "pattern_drivers": s.pattern_drivers,
                "risk": estimate_view(est),
            }
        )
    rows.sort(key=lambda r: -(r["risk"]["probability"] or -1) if r["risk"] else 1)
    return rows


def estimate_view(est: RiskEstimate | None) -> dict | None:
    """How an estimate may be presented: hidden ones carry no probability, only why."""
    if est is None:
        return None
    view = {
        "as_of": est.as_of,
        "model_version": est.model_version,
        "shown": est.shown,
        "hidden_reason": est.hidden_reason,
        "pattern": est.pattern,
    }
    if est.shown:
        view.update(
            {
                "probability": round(est.probability, 3),
                "confidence": round(est.confidence, 3),
                "at_risk": est.at_risk,
                "reasons": est.reasons,
                "message": "",
            }
        )
    else:
        view.update(
            {"probability": None, "confidence": None, "at_risk": None, "reasons": [], "message": hidden_message(est)}
        )
    return view


def hidden_message(est: RiskEstimate) -> str:
    if est.hidden_reason == RiskEstimate.Hidden.LOW_CONFIDENCE:
        return (
            f"Prediction hidden: its confidence ({est.confidence:.2f}) is under the "
            f"{risk_setting('RISK_CONFIDENCE_THRESHOLD'):.2f} threshold."
        )
    if est.hidden_reason == RiskEstimate.Hidden.MODEL_NOT_ACCEPTED:
        return "Prediction hidden: the current model did not pass the acceptance check (see its guardrail)."
    return ""


def student_risk(*, user, course_id: int, student_id: int) -> dict:
    """One student's latest estimate and history. Staff of the course: always. The
    student: only when EDUPLATFORM_STUDENTS_SEE_OWN_RISK is on (403 says so).
    Anyone else: 404."""
    me = student_for_user(user)
    staff = is_course_staff(user, course_id)
    if not staff:
        if me is None or me.pk != student_id or not Enrollment.objects.filter(user=user, course_id=course_id).exists():
            raise NotFound("Not found.")
        if not edu_settings.STUDENTS_SEE_OWN_RISK:
            raise ApplicationError(
                "Risk estimates are visible to instructors only in this installation.",
                code="risk_hidden_from_students",
                status_code=403,
            )
    if not Student.objects.filter(pk=student_id, user__eduplatform_enrollments__course_id=course_id).exists():
        raise NotFound("Not found.")
    estimates = list(RiskEstimate.objects.filter(course_id=course_id, student_id=student_id).order_by("-as_of")[:50])
    snaps = list(BehaviourSnapshot.objects.filter(course_id=course_id, student_id=student_id).order_by("-as_of")[:50])
    latest = snaps[0] if snaps else None
    body = {
        "student": student_id,
        "course": course_id,
        "estimate": estimate_view(estimates[0] if estimates else None),
        "engagement": latest.engagement if latest else None,
        "pattern": latest.pattern if latest else None,
        "pattern_drivers": latest.pattern_drivers if latest else [],
        "history": [{"as_of": s.as_of, "engagement": s.engagement, "pattern": s.pattern} for s in snaps],
    }
    if staff:
        body["features"] = latest.features if latest else {}
    return body


def alerts_visible_to(user) -> QuerySet[RiskAlert]:
    qs = RiskAlert.objects.select_related("course")
    if user.is_superuser:
        return qs
    return qs.filter(course_id__in=staff_course_ids(user))


def alert_get(*, user, alert_id: int) -> RiskAlert:
    alert = alerts_visible_to(user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"Alert {alert_id} not found.")
    return alert


def student_timeline(*, course_id: int, student_id: int, limit: int = 200) -> list[LearningEvent]:
    return list(LearningEvent.objects.filter(course_id=course_id, student_id=student_id).order_by("-timestamp")[:limit])


# --------------------------------------------------------------- dashboard data


def engagement_histogram(values: list[float], bins: int = 10) -> list[dict]:
    edges = [i * 100 / bins for i in range(bins + 1)]
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v // (100 / bins)))] += 1
    return [{"lo": edges[i], "hi": edges[i + 1], "count": counts[i]} for i in range(bins)]


def course_trend(*, course_id: int, points: int = 30) -> list[dict]:
    """Mean engagement and number shown at risk per recompute, oldest first."""
    stamps = list(
        BehaviourSnapshot.objects.filter(course_id=course_id)
        .values_list("as_of", flat=True)
        .distinct()
        .order_by("-as_of")[:points]
    )
    out = []
    for as_of in sorted(stamps):
        eng = list(
            BehaviourSnapshot.objects.filter(course_id=course_id, as_of=as_of).values_list("engagement", flat=True)
        )
        risky = RiskEstimate.objects.filter(course_id=course_id, as_of=as_of, shown=True, at_risk=True).count()
        out.append(
            {"as_of": as_of, "engagement": sum(eng) / len(eng) if eng else 0.0, "at_risk": risky, "students": len(eng)}
        )
    return out


def is_finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


# =============================================================================
# Learner model and learning paths (issue 6): settings, mastery, path inputs and
# the permission-scoped reads behind the mastery/learning-path API.
# Students read only their own mastery and paths; course staff read the class
# matrix of their courses; everyone else gets 404.
# =============================================================================

# Verbs whose events with a result update mastery (answer to an item / a score).
MASTERY_VERBS = frozenset({"answered", "scored"})
# Verbs that say a student used a resource (modality preference); "completed" also marks it done.
USE_VERBS = frozenset({"completed", "experienced", "viewed", "played", "watched", "read", "launched"})
VIEW_WEIGHT = 0.25  # a view of a course page/video counts as a quarter of a completed path step
SKILLS_EXT = "https://w3id.org/eduplatform/xapi/skill-ids"  # context extension: skill ids of an answer


def learning_setting(name: str) -> Any:
    """EDUPLATFORM_<name>: the host's setting, else the default documented in eduplatform/conf.py."""
    return getattr(edu_settings, name)


def resource_object_id(resource_id: int) -> str:
    """xAPI object id of a learning resource (what the mobile app sends)."""
    return f"resource:{resource_id}"


def _object_pk(object_id: str, prefix: str) -> int | None:
    if not object_id.startswith(prefix + ":"):
        return None
    tail = object_id[len(prefix) + 1 :]
    return int(tail) if tail.isdigit() else None


def iso_duration_minutes(value) -> float:
    """Minutes in an xAPI ``result.duration`` (ISO 8601, e.g. PT4M30S); 0 when absent or bad."""
    m = re.fullmatch(
        r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?",
        str(value or "").strip(),
    )
    if not m or not any(m.groups()):
        return 0.0
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 1440 + h * 60 + mi + s / 60


def kt_serving_record() -> KTModelRecord | None:
    return KTModelRecord.objects.filter(serving=True).first()


_BKT_CACHE: dict[str, kt.BKTModel] = {}


def kt_bkt_model() -> kt.BKTModel | None:
    """The trained BKT model whose per-skill parameters drive online updates: the serving
    one, else the newest one (trained next to a serving deep model); None = defaults."""
    record = kt_serving_record()
    if record is None or record.kind != KTModelRecord.Kind.BKT:
        record = KTModelRecord.objects.filter(kind=KTModelRecord.Kind.BKT).first()
    if record is None:
        return None
    model = _BKT_CACHE.get(record.version)
    if model is None:
        try:
            model = kt.BKTModel.load(record.path)
        except (OSError, ValueError) as exc:
            log.warning(
                "BKT model %s unreadable at %s (%s); using default parameters", record.version, record.path, exc
            )
            return None
        _BKT_CACHE.clear()
        _BKT_CACHE[record.version] = model
    return model


def kt_params_for(skill_ids: Iterable[int]) -> dict[int, kt.BKTParams]:
    """BKT parameters per skill id: fitted ones where a trained model knows the skill,
    else the configured defaults."""
    default = kt.BKTParams.from_mapping(learning_setting("KT_DEFAULT_PARAMS"))
    model = kt_bkt_model()
    out = {}
    for sid in skill_ids:
        fitted = model is not None and 0 < sid < model.params.shape[0] and not math.isnan(model.params[sid, 0])
        out[sid] = model.params_for(sid) if fitted else default
    return out


def student_course_get(*, user, course_id: int) -> tuple[Student, Course]:
    """The user's Student row and a course they are enrolled in as a student; 404 otherwise."""
    me = student_for_user(user)
    course = Course.objects.filter(pk=course_id).first()
    if (
        me is None
        or course is None
        or not Enrollment.objects.filter(user=user, course=course, role=Enrollment.Role.STUDENT).exists()
    ):
        raise NotFound(f"Course {course_id} not found.")
    return me, course


def course_skills(*, course_id: int) -> list[tuple[Skill, tuple[int, ...]]]:
    """Skills of a course with their prerequisites (ordered by id)."""
    prereqs: dict[int, list[int]] = defaultdict(list)
    for sid, pid in SkillPrerequisite.objects.filter(skill__course_id=course_id).values_list(
        "skill_id", "prerequisite_id"
    ):
        prereqs[sid].append(pid)
    return [(s, tuple(sorted(prereqs.get(s.pk, ())))) for s in Skill.objects.filter(course_id=course_id).order_by("pk")]


def mastery_rows(*, student_id: int, skill_ids: Iterable[int]) -> dict[int, Mastery]:
    return {m.skill_id: m for m in Mastery.objects.filter(student_id=student_id, skill_id__in=list(skill_ids))}


def my_mastery(*, user, course_id: int) -> dict:
    """The requesting student's mastery per skill of a course (prior where no evidence yet)."""
    student, course = student_course_get(user=user, course_id=course_id)
    skills = course_skills(course_id=course.pk)
    params = kt_params_for([s.pk for s, _ in skills])
    rows = mastery_rows(student_id=student.pk, skill_ids=[s.pk for s, _ in skills])
    threshold = float(learning_setting("MASTERY_THRESHOLD"))
    out = []
    for s, prereqs in skills:
        m = rows.get(s.pk)
        p = m.p_mastery if m else params[s.pk].prior
        out.append(
            {
                "skill": s.pk,
                "name": s.name,
                "p_mastery": round(p, 4),
                "mastered": p >= threshold,
                "n_attempts": m.n_attempts if m else 0,
                "estimated_from_attempts": m is not None,
                "prerequisites": list(prereqs),
                "model_version": m.model_version if m else "prior",
                "updated_at": m.updated_at if m else None,
            }
        )
    return {"course": course.pk, "threshold": threshold, "results": out}


def current_path(*, student_id: int, course_id: int) -> LearningPath | None:
    return (
        LearningPath.objects.filter(student_id=student_id, course_id=course_id, is_current=True)
        .prefetch_related("steps", "steps__resource", "steps__skill")
        .first()
    )


def path_step_get_for_owner(*, user, step_id: int) -> LearningPathStep:
    """A step of one of the user's own paths; 404 for anyone else's (ids do not leak)."""
    step = (
        (
            LearningPathStep.objects.select_related("path", "resource", "skill")
            .filter(pk=step_id, path__student__user=user)
            .first()
        )
        if user.is_authenticated
        else None
    )
    if step is None:
        raise NotFound(f"Learning path step {step_id} not found.")
    return step


def course_mastery_matrix(*, user, course_id: int) -> dict:
    """Class x skill mastery for course staff: one row per enrolled student, one value per
    skill (None where the student has no graded attempt at it yet)."""
    course = staff_course_get(user=user, course_id=course_id)
    skills = [s for s, _ in course_skills(course_id=course.pk)]
    students = list(
        Student.objects.filter(
            user__eduplatform_enrollments__course=course, user__eduplatform_enrollments__role=Enrollment.Role.STUDENT
        )
        .select_related("user")
        .order_by("pk")
        .distinct()
    )
    cells = {(m.student_id, m.skill_id): m for m in Mastery.objects.filter(skill__course=course, student__in=students)}
    threshold = float(learning_setting("MASTERY_THRESHOLD"))
    rows = []
    for st in students:
        values = []
        for sk in skills:
            m = cells.get((st.pk, sk.pk))
            values.append(
                None
                if m is None
                else {
                    "p_mastery": round(m.p_mastery, 4),
                    "n_attempts": m.n_attempts,
                    "mastered": m.p_mastery >= threshold,
                }
            )
        rows.append({"student": st.pk, "username": st.user.get_username(), "mastery": values})
    summary = []
    for j, sk in enumerate(skills):
        ps = [r["mastery"][j]["p_mastery"] for r in rows if r["mastery"][j] is not None]
        summary.append(
            {
                "skill": sk.pk,
                "name": sk.name,
                "mean": round(sum(ps) / len(ps), 4) if ps else None,
                "students_with_evidence": len(ps),
                "mastered": sum(1 for r in rows if r["mastery"][j] and r["mastery"][j]["mastered"]),
            }
        )
    return {"course": course.pk, "threshold": threshold, "skills": summary, "students": rows}


def path_inputs(*, student: Student, course: Course, now: datetime) -> dict:
    """Everything ``paths.recommend`` needs for one student, read from the database."""
    skills_rows = course_skills(course_id=course.pk)
    params = kt_params_for([s.pk for s, _ in skills_rows])
    skills = [
        paths.SkillInfo(id=s.pk, name=s.name, prerequisites=pre, learn=params[s.pk].learn) for s, pre in skills_rows
    ]
    stored = mastery_rows(student_id=student.pk, skill_ids=[s.id for s in skills])
    mastery = {s.id: (stored[s.id].p_mastery if s.id in stored else params[s.id].prior) for s in skills}

    # Upcoming, not yet submitted assignments per skill (urgency).
    submitted = set(
        Submission.objects.filter(student=student, assignment__course=course).values_list("assignment_id", flat=True)
    )
    upcoming = {a.pk: a for a in Assignment.objects.filter(course=course, due_at__gte=now).exclude(pk__in=submitted)}
    due_by_skill: dict[int, list] = defaultdict(list)
    for aid, sid in AssignmentSkill.objects.filter(assignment_id__in=upcoming).values_list("assignment_id", "skill_id"):
        due_by_skill[sid].append(upcoming[aid])

    resources = []
    kinds = {}
    durations = {}
    qs = LearningResource.objects.filter(course=course, is_active=True).prefetch_related("skills").order_by("pk")
    for r in qs:
        tagged = {s.pk: 1.0 for s in r.skills.all()}
        linked = [a for sid in tagged for a in due_by_skill.get(sid, ())]
        if r.assignment_id in upcoming:
            linked.append(upcoming[r.assignment_id])
        first = min(linked, key=lambda a: (a.due_at, a.pk)) if linked else None
        resources.append(
            paths.ResourceInfo(
                id=r.pk,
                title=r.title,
                kind=r.kind,
                skills=tagged,
                difficulty=r.difficulty,
                duration_minutes=r.duration_minutes,
                due_at=first.due_at if first else None,
                due_title=first.title if first else "",
            )
        )
        kinds[r.pk] = r.kind
        durations[r.pk] = r.duration_minutes

    # History: steps marked done/skipped, and "completed" statements about resources.
    done: set[int] = set()
    skipped: dict[int, int] = defaultdict(int)
    for rid, status in (
        LearningPathStep.objects.filter(path__student=student, path__course=course)
        .exclude(status=LearningPathStep.Status.PENDING)
        .values_list("resource_id", "status")
    ):
        if status == LearningPathStep.Status.DONE:
            done.add(rid)
        else:
            skipped[rid] += 1
    activity = {m: paths.ModalityActivity() for m in paths.MODALITIES}
    minutes_seen: dict[int, float] = defaultdict(float)
    events = LearningEvent.objects.filter(student=student, course=course).values_list(
        "verb", "object_id", "object_type", "result"
    )
    for verb, object_id, object_type, result in events.iterator(chunk_size=2000):
        name = verb_name(verb)
        if name not in USE_VERBS:
            continue
        minutes = iso_duration_minutes((result or {}).get("duration")) if isinstance(result, dict) else 0.0
        rid = _object_pk(object_id, "resource")
        if rid is not None:
            if rid in kinds:
                minutes_seen[rid] += minutes
                if name == "completed":
                    done.add(rid)
            continue
        category = resource_category(object_type)
        if category in activity:
            activity[category].completions += VIEW_WEIGHT
            activity[category].minutes += minutes
    for rid in sorted(done):
        if rid in kinds:
            activity[kinds[rid]].completions += 1
            activity[kinds[rid]].minutes += minutes_seen.get(rid) or durations[rid]
    for rid, n in sorted(skipped.items()):
        if rid in kinds and rid not in done:
            activity[kinds[rid]].skips += n
    skipped = {rid: n for rid, n in skipped.items() if rid not in done}

    # Pins: a student-level choice overrides the course-level one for the same resource.
    choice: dict[int, tuple] = {}
    for pin in (
        ResourcePin.objects.filter(course=course)
        .filter(Q(student__isnull=True) | Q(student=student))
        .order_by("position", "pk")
    ):
        if pin.resource_id in choice and pin.student_id is None:
            continue
        choice[pin.resource_id] = (pin.action, pin.position, pin.student_id is None, pin.pk)
    pinned = [
        rid
        for rid, c in sorted(choice.items(), key=lambda kv: (kv[1][1], kv[1][2], kv[1][3]))
        if c[0] == ResourcePin.Action.PIN
    ]
    excluded = {rid for rid, c in choice.items() if c[0] == ResourcePin.Action.EXCLUDE}
    return {
        "skills": skills,
        "mastery": mastery,
        "resources": resources,
        "preference": paths.modality_preference(activity),
        "done": done,
        "skipped": skipped,
        "pinned": pinned,
        "excluded": excluded,
        "now": now,
        "threshold": float(learning_setting("MASTERY_THRESHOLD")),
        "max_steps": int(learning_setting("PATH_MAX_STEPS")),
        "max_per_skill": int(learning_setting("PATH_MAX_PER_SKILL")),
    }


def resources_similar(*, resource: LearningResource, k: int = 5) -> list[tuple[LearningResource, float]]:
    """The ``k`` resources of the same course whose embeddings are closest (cosine) to
    ``resource``'s, best first, as (resource, similarity). Only embeddings made by the
    same encoder are compared; [] when ``resource`` has no embedding yet."""
    import numpy as np

    if not resource.embedding:
        return []
    others = list(
        LearningResource.objects.filter(
            course_id=resource.course_id, is_active=True, embedding_model=resource.embedding_model
        )
        .exclude(pk=resource.pk)
        .exclude(embedding=[])
        .order_by("pk")
    )
    others = [o for o in others if o.embedding and len(o.embedding) == len(resource.embedding)]
    if not others:
        return []
    q = np.asarray(resource.embedding, dtype=np.float32)
    m = np.asarray([o.embedding for o in others], dtype=np.float32)
    sims = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q) + 1e-9)
    order = sorted(range(len(others)), key=lambda i: (-float(sims[i]), others[i].pk))[:k]
    return [(others[i], round(float(sims[i]), 4)) for i in order]
