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


def grade_view_for(*, submission, user, staff: bool | None = None) -> dict | None:
    """The grade as ``user`` may see it: students only once released; staff always.

    Uses ``submission.grades`` when the caller prefetched it (list views), so a page
    of submissions costs no query per row.
    """
    from eduplatform.selectors import is_course_staff

    grade = next((g for g in submission.grades.all() if g.is_current), None)
    if grade is None:
        return None
    if staff is None:
        staff = is_course_staff(user, submission.assignment.course_id)
    if not staff and not grade.released:
        return None
    view = {
        "score": grade.effective_score,
        "confidence": grade.confidence,
        "mode": grade.mode,
        "model_version": grade.model_version,
        "criteria": grade.criteria,
        "feedback": grade.feedback,
        "flags": grade.flags,
        "released_at": grade.released_at,
        "reviewed": grade.review_state in ("accepted", "adjusted", "overridden"),
    }
    if staff:
        view.update(
            {
                "grade_id": grade.pk,
                "ai_score": grade.score,
                "explanation": grade.explanation,
                "review_state": grade.review_state,
                "review_reason": grade.review_reason,
            }
        )
    return view


__all__ += ["grade_view_for"]


def assignment_regrade(*, assignment_id: int, only_failed: bool = False) -> int:
    from grading.services import assignment_regrade as _regrade

    return _regrade(assignment_id=assignment_id, only_failed=only_failed)


def grade_attempt_for(*, grade_id: int) -> dict | None:
    """A grade as a graded attempt for the learner model, or None when it does not count:
    only the current grade of a submission, with a score, once released to the student or
    confirmed by an instructor. ``fraction`` is the score scaled to 0-1."""
    from grading.models import Grade
    from grading.services import HUMAN_STATES

    grade = (
        Grade.objects.select_related("submission", "submission__assignment")
        .filter(pk=grade_id, is_current=True)
        .first()
    )
    if grade is None or grade.effective_score is None:
        return None
    if grade.released_at is None and grade.review_state not in HUMAN_STATES:
        return None
    sub = grade.submission
    a = sub.assignment
    lo, hi = float(a.min_score), float(a.max_score)
    fraction = min(1.0, max(0.0, (float(grade.effective_score) - lo) / (hi - lo))) if hi > lo else 0.0
    return {
        "grade_id": grade.pk,
        "submission_id": sub.pk,
        "student_id": sub.student_id,
        "assignment_id": a.pk,
        "fraction": fraction,
        "submitted_at": sub.submitted_at,
    }


__all__ += ["grade_attempt_for"]
