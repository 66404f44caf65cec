"""Reads for behaviour analysis and at-risk estimates: timelines from the database,
labelled training sets, the model for a course day, and permission-scoped views.

Privacy rules (on top of core's): course staff (instructors, TAs) see the estimates and
alerts of their courses; superusers see everything; a student sees only their own
estimate, and only when ``EDUPLATFORM_STUDENTS_SEE_OWN_RISK`` is on. Nobody else learns
whether an estimate exists (404, not 403).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

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
    course_get,
    is_course_staff,
    scaled_score,
    settings,
    staff_course_ids,
    student_for_user,
)
from recommendations.models import BehaviourSnapshot, RiskAlert, RiskEstimate, RiskModel
from recommendations.risk.features import Deadline, Event, Timeline, compute_features
from recommendations.xapi import OUTCOME_VERBS, event_score, resource_category, verb_name

# ------------------------------------------------------------------- timelines


def course_start(course: Course) -> datetime:
    """Day 0 of a course: its start date (midnight UTC), else the day it was created."""
    if course.starts_on:
        return datetime.combine(course.starts_on, time.min, tzinfo=UTC)
    return course.created_at.replace(hour=0, minute=0, second=0, microsecond=0)


def _day(ts: datetime | None, start: datetime) -> float | None:
    return None if ts is None else (ts - start).total_seconds() / 86400.0


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
                    score=scaled_score(row["imported_score"], a["min_score"], a["max_score"]) if row else None,
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
                score=event_score(result),
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


def latest_as_of(*, course_id: int) -> datetime | None:
    return BehaviourSnapshot.objects.filter(course_id=course_id).aggregate(m=Max("as_of"))["m"]


def course_behaviour(*, user, course_id: int, pattern: str | None = None, at_risk: bool | None = None) -> list[dict]:
    """Latest snapshot and estimate per student of a course, for its staff."""
    course_get(user=user, course_id=course_id, staff=True)
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
            f"{settings.RISK_CONFIDENCE_THRESHOLD:.2f} threshold."
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
        if not settings.STUDENTS_SEE_OWN_RISK:
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


@dataclass(frozen=True)
class CourseDashboard:
    """What a course's behaviour dashboard shows (the admin page and the instructor workspace)."""

    course_id: int
    rows: list[dict]  # course_behaviour rows after the filters, riskiest first
    histogram: list[dict]  # engagement in 10 bins: {lo, hi, count}, over all students
    trend: list[dict]  # per recompute: {as_of, engagement, at_risk, students}, oldest first
    patterns: dict[str, int]  # pattern -> students, over all students
    hidden: int  # estimates not shown (low confidence or a model that failed the guardrail)
    open_alerts: int
    confidence_threshold: float
    alert_threshold: float


def course_dashboard(
    *, user, course_id: int, pattern: str | None = None, at_risk: bool | None = None
) -> CourseDashboard:
    """The behaviour dashboard of a course for its staff (NotFound for anyone else)."""
    rows = course_behaviour(user=user, course_id=course_id, pattern=pattern, at_risk=at_risk)
    every = rows if pattern is None and at_risk is None else course_behaviour(user=user, course_id=course_id)
    patterns: dict[str, int] = {}
    for r in every:
        patterns[r["pattern"]] = patterns.get(r["pattern"], 0) + 1
    return CourseDashboard(
        course_id=course_id,
        rows=rows,
        histogram=engagement_histogram([r["engagement"] for r in every]),
        trend=course_trend(course_id=course_id),
        patterns=patterns,
        hidden=sum(1 for r in every if r["risk"] and not r["risk"]["shown"]),
        open_alerts=RiskAlert.objects.filter(course_id=course_id, resolved_at__isnull=True).count(),
        confidence_threshold=float(settings.RISK_CONFIDENCE_THRESHOLD),
        alert_threshold=float(settings.RISK_ALERT_THRESHOLD),
    )
