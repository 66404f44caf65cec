"""Public Python surface of the recommendations app; other apps import only this module."""

from __future__ import annotations

__all__ = ["behaviour_recompute_course", "latest_risk_for", "open_risk_alerts"]


def behaviour_recompute_course(*, course_id: int) -> dict:
    """Recompute engagement, patterns, risk and alerts for one course now."""
    from recommendations import services

    return services.behaviour_recompute_course(course_id=course_id)


def latest_risk_for(*, user, course_id: int, student_id: int) -> dict:
    """The latest estimate for a student as ``user`` may see it (raises NotFound or a 403
    ApplicationError under the same rules as the REST API)."""
    from recommendations.selectors import student_risk

    return student_risk(user=user, course_id=course_id, student_id=student_id)


def open_risk_alerts(*, user):
    """Unresolved alerts in the courses ``user`` teaches."""
    from recommendations.selectors import alerts_visible_to

    return alerts_visible_to(user).filter(resolved_at__isnull=True)


# --- learner model and learning paths --------------------------------------------

__all__ += ["learning_path_for", "mastery_update_from_attempt", "resources_similar"]


def mastery_update_from_attempt(*, student, assignment, correct: float | bool, source: str = ""):
    """Record a graded attempt (True/False or a score fraction) at every skill tagged on
    ``assignment`` and update mastery (online BKT with forgetting, or the serving deep
    model). The same ``source`` again replaces that attempt instead of adding one."""
    from recommendations import services

    return services.mastery_update_from_attempt(student=student, assignment=assignment, correct=correct, source=source)


def learning_path_for(*, student, course):
    """The student's current learning path in the course (computed now if there is none)."""
    from recommendations import services

    return services.learning_path_current_or_compute(student=student, course=course)


def resources_similar(*, resource, k: int = 5) -> list:
    """Resources of the same course closest in meaning to ``resource`` (cosine of text
    embeddings), as (resource, similarity), best first."""
    from recommendations.selectors import resources_similar as _similar

    return _similar(resource=resource, k=k)
