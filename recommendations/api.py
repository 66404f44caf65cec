"""Public Python surface of the recommendations app; other apps import only this module.

Functions taking ``user`` apply the same permission rules as the REST API (NotFound /
ApplicationError for anyone who may not see the data). Everything here is web-safe:
no torch, no encoders (the deep knowledge-tracing model and the resource encoders run
on workers).
"""

from __future__ import annotations

from recommendations.mastery.selectors import course_mastery_matrix, my_mastery, student_course_get
from recommendations.mastery.services import (
    assignment_skill_tag,
    mastery_update_from_attempt,
    skill_create,
    skill_prerequisite_add,
)
from recommendations.paths.selectors import path_step_get_for_owner
from recommendations.paths.services import learning_path_current_or_compute, learning_path_recompute, path_step_mark
from recommendations.resources.selectors import resources_similar
from recommendations.resources.services import resource_create
from recommendations.risk import selectors as _risk_selectors
from recommendations.risk import services as _risk_services

__all__ = [
    "assignment_skill_tag",
    "behaviour_recompute_course",
    "course_behaviour",
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
    "skill_create",
    "skill_prerequisite_add",
]


# ------------------------------------------------------------------ behaviour and risk


def behaviour_recompute_course(*, course_id: int) -> dict:
    """Recompute engagement, patterns, risk and alerts for one course now; returns counts."""
    return _risk_services.behaviour_recompute_course(course_id=course_id)


def course_behaviour(*, user, course_id: int, pattern: str | None = None, at_risk: bool | None = None) -> list[dict]:
    """Latest engagement, pattern and (shown or hidden) estimate per student of a course,
    riskiest first, for its staff (NotFound for anyone else)."""
    return _risk_selectors.course_behaviour(user=user, course_id=course_id, pattern=pattern, at_risk=at_risk)


def latest_risk_for(*, user, course_id: int, student_id: int) -> dict:
    """The latest estimate for a student as ``user`` may see it (raises NotFound or a 403
    ApplicationError under the same rules as the REST API)."""
    return _risk_selectors.student_risk(user=user, course_id=course_id, student_id=student_id)


def open_risk_alerts(*, user):
    """Unresolved alerts in the courses ``user`` teaches (a queryset, newest crossing first)."""
    return _risk_selectors.alerts_visible_to(user).filter(resolved_at__isnull=True)


# ------------------------------------------------------------------ learning paths


def learning_path_for(*, student, course):
    """The student's current learning path in the course (computed now if there is none)."""
    return learning_path_current_or_compute(student=student, course=course)


def my_learning_path(*, user, course_id: int):
    """The requesting student's current path in a course (computed on first request); NotFound
    unless ``user`` is a student of the course."""
    student, course = student_course_get(user=user, course_id=course_id)
    return learning_path_current_or_compute(student=student, course=course)


def my_path_step_mark(*, user, step_id: int, status: str):
    """Mark one of the requesting student's own steps ``done`` or ``skipped`` (NotFound for
    anyone else's step, ApplicationError for another status); the path is recomputed."""
    step = path_step_get_for_owner(user=user, step_id=step_id)
    return path_step_mark(step=step, status=status)
