"""Public Python surface of the grading app; other apps import only this module."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["grading_enqueue", "current_grade_for", "assignment_regrade"]


def grading_enqueue(*, submission_ids: Sequence[int]) -> None:
    """Wake a worker for these submissions (call after commit; the rows are the truth)."""
    from grading.tasks import grade_pending

    grade_pending.delay(submission_ids=list(submission_ids))


def current_grade_for(submission_id: int):
    from grading.models import Grade

    return Grade.objects.filter(submission_id=submission_id, is_current=True).first()


def grade_view_for(*, submission, user) -> dict | None:
    """The grade as ``user`` may see it: students only once released; staff always."""
    from eduplatform.selectors import is_course_staff

    grade = current_grade_for(submission.pk)
    if grade is None:
        return None
    staff = is_course_staff(user, submission.assignment.course_id)
    if not staff and not grade.released:
        return None
    view = {
        "score": grade.effective_score, "confidence": grade.confidence, "mode": grade.mode,
        "model_version": grade.model_version, "criteria": grade.criteria, "feedback": grade.feedback,
        "flags": grade.flags, "released_at": grade.released_at,
        "reviewed": grade.review_state in ("accepted", "adjusted", "overridden"),
    }
    if staff:
        view.update({"grade_id": grade.pk, "ai_score": grade.score, "explanation": grade.explanation,
                     "review_state": grade.review_state, "review_reason": grade.review_reason})
    return view


__all__ += ["grade_view_for"]


def assignment_regrade(*, assignment_id: int, only_failed: bool = False) -> int:
    from grading.services import assignment_regrade as _regrade

    return _regrade(assignment_id=assignment_id, only_failed=only_failed)
