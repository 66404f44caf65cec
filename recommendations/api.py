"""Public Python surface of the recommendations app; other apps import only this module.

Functions taking ``user`` apply the same permission rules as the REST API (NotFound /
ApplicationError for anyone who may not see the data). Everything here is web-safe:
no torch, no encoders (the deep knowledge-tracing model and the resource encoders run
on workers).
"""

from __future__ import annotations

from recommendations.mastery.selectors import (
    CourseMastery,
    SkillMastery,
    course_mastery_matrix,
    my_mastery,
    student_course_get,
    student_mastery,
)
from recommendations.mastery.services import (
    assignment_skill_tag,
    mastery_update_from_attempt,
    skill_create,
    skill_prerequisite_add,
    skill_prior_set,
)
from recommendations.paths.selectors import path_step_get_for_owner
from recommendations.paths.services import learning_path_current_or_compute, learning_path_recompute, path_step_mark
from recommendations.resources.selectors import resources_similar
from recommendations.resources.services import resource_create
from recommendations.risk import selectors as _risk_selectors
from recommendations.risk import services as _risk_services
from recommendations.xapi import SKILLS_EXT

__all__ = [
    "SKILLS_EXT",
    "risk_models_refresh",
    "CourseMastery",
    "SkillMastery",
    "assignment_skill_tag",
    "behaviour_recompute_course",
    "course_behaviour",
    "course_dashboard",
    "course_mastery_matrix",
    "latest_risk_for",
    "learning_path_for",
    "learning_path_recompute",
    "mastery_update_from_attempt",
    "my_learning_path",
    "my_mastery",
    "my_path_step_mark",
    "open_risk_alerts",
    "resource_create",
    "resources_similar",
    "risk_alert_acknowledge",
    "risk_model_summary",
    "skill_create",
    "skill_prerequisite_add",
    "skill_prior_set",
    "student_mastery",
]


# ------------------------------------------------------------------ behaviour and risk


def behaviour_recompute_course(*, course_id: int) -> dict:
    """Recompute engagement, patterns, risk and alerts for one course now; returns counts."""
    return _risk_services.behaviour_recompute_course(course_id=course_id)


def course_behaviour(*, user, course_id: int, pattern: str | None = None, at_risk: bool | None = None) -> list[dict]:
    """Latest engagement, pattern and (shown or hidden) estimate per student of a course,
    riskiest first, for its staff (NotFound for anyone else)."""
    return _risk_selectors.course_behaviour(user=user, course_id=course_id, pattern=pattern, at_risk=at_risk)


def course_dashboard(
    *, user, course_id: int, pattern: str | None = None, at_risk: bool | None = None
) -> _risk_selectors.CourseDashboard:
    """A course's behaviour dashboard for its staff: filtered rows, engagement histogram and
    trend, pattern counts, hidden estimates, open alerts, thresholds (NotFound otherwise)."""
    return _risk_selectors.course_dashboard(user=user, course_id=course_id, pattern=pattern, at_risk=at_risk)


def latest_risk_for(*, user, course_id: int, student_id: int) -> dict:
    """The latest estimate for a student as ``user`` may see it (raises NotFound or a 403
    ApplicationError under the same rules as the REST API)."""
    return _risk_selectors.student_risk(user=user, course_id=course_id, student_id=student_id)


def open_risk_alerts(*, user):
    """Unresolved alerts in the courses ``user`` teaches (a queryset, newest crossing first)."""
    return _risk_selectors.alerts_visible_to(user).filter(resolved_at__isnull=True)


def risk_models_refresh() -> list[str]:
    """Train the at-risk models (one per configured cut-off day) on finished courses, where stale or missing;
    returns the versions trained. What the periodic task does first."""
    return _risk_services.risk_models_refresh()


def risk_alert_acknowledge(*, user, alert_id: int):
    """A teacher says they have seen an alert (and acted): it stays until the student is below the threshold
    again. NotFound outside the courses ``user`` teaches."""
    alert = _risk_selectors.alert_get(user=user, alert_id=alert_id)
    return _risk_services.risk_alert_acknowledge(alert=alert, user=user)


def risk_model_summary(*, course_day: float) -> dict | None:
    """The at-risk model that serves a course at ``course_day``: version, cut-off day, whether it passed the
    acceptance check (Moodle's guardrail) and its evaluation, for pages that explain the estimates."""
    model = _risk_selectors.risk_model_for_day(course_day)
    if model is None:
        return None
    return {
        "version": model.version,
        "cutoff_day": model.cutoff_day,
        "accepted": model.accepted,
        "guardrail": model.guardrail or {},
        "students": (model.training_summary or {}).get("students"),
    }


# ------------------------------------------------------------------ learning paths


def learning_path_for(*, student, course):
    """The student's current learning path in the course (computed now if there is none)."""
    return learning_path_current_or_compute(student=student, course=course)


def my_learning_path(*, user, course_id: int):
    """The requesting student's current path in a course (computed on first request); NotFound
    unless ``user`` is a student of the course."""
    student, course = student_course_get(user=user, course_id=course_id)
    return learning_path_current_or_compute(student=student, course=course)


def my_path_step_mark(*, user, step_id: int, status: str, result: float | None = None):
    """Mark one of the requesting student's own steps ``done`` or ``skipped`` (NotFound for
    anyone else's step, ApplicationError for another status or a result on a skip); the
    path is recomputed. ``result`` (0-1) of a practice item or quiz is evidence that moves
    mastery; without it the step only marks progress. Returns the step."""
    step = path_step_get_for_owner(user=user, step_id=step_id)
    return path_step_mark(step=step, status=status, result=result)
