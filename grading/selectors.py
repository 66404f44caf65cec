"""Grading reads, scoped to the courses a user teaches now (core's one staff rule)."""

from __future__ import annotations

from django.db.models import QuerySet

from eduplatform.core.api import NotFound, is_course_staff, staff_course_ids
from grading.models import Grade

HUMAN_REVIEW_STATES = ("accepted", "adjusted", "overridden")


def grades_for_staff(user) -> QuerySet[Grade]:
    qs = Grade.objects.select_related("submission", "submission__assignment").filter(is_current=True)
    if user.is_superuser:
        return qs
    return qs.filter(submission__assignment__course_id__in=staff_course_ids(user))


def review_queue(user) -> QuerySet[Grade]:
    return grades_for_staff(user).filter(review_state=Grade.Review.PENDING).order_by("confidence", "created_at")


def grade_get_for_staff(*, user, grade_id: int) -> Grade:
    grade = grades_for_staff(user).filter(pk=grade_id).first()
    if grade is None:
        raise NotFound(f"Grade {grade_id} not found.")
    return grade


def grade_get_for_student(*, user, grade_id: int) -> Grade:
    """The student's own current, released grade; 404 otherwise."""
    grade = (
        Grade.objects.select_related("submission__assignment", "submission__student")
        .filter(pk=grade_id, is_current=True, released_at__isnull=False, submission__student__user=user)
        .first()
    )
    if grade is None:
        raise NotFound(f"Grade {grade_id} not found.")
    return grade


def current_grade_for(submission_id: int) -> Grade | None:
    return Grade.objects.filter(submission_id=submission_id, is_current=True).first()


def grade_view_for(*, submission, user, staff: bool | None = None) -> dict | None:
    """The grade as ``user`` may see it: students only once released; staff always.

    Uses ``submission.grades`` when the caller prefetched it (list views), so a page
    of submissions costs no query per row.
    """
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
        "reviewed": grade.review_state in HUMAN_REVIEW_STATES,
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


def grade_attempt_for(*, grade_id: int) -> dict | None:
    """A grade as a graded attempt for the learner model, or None when it does not count:
    only the current grade of a submission, with a score, once released to the student or
    confirmed by an instructor. ``fraction`` is the score scaled to 0-1."""
    grade = (
        Grade.objects.select_related("submission", "submission__assignment")
        .filter(pk=grade_id, is_current=True)
        .first()
    )
    if grade is None or grade.effective_score is None:
        return None
    if grade.released_at is None and grade.review_state not in HUMAN_REVIEW_STATES:
        return None
    sub = grade.submission
    a = sub.assignment
    return {
        "grade_id": grade.pk,
        "submission_id": sub.pk,
        "student_id": sub.student_id,
        "assignment_id": a.pk,
        "fraction": a.score_fraction(grade.effective_score),
        "submitted_at": sub.submitted_at,
    }


def submission_id_for_grade(grade_id: int) -> int | None:
    return Grade.objects.filter(pk=grade_id).values_list("submission_id", flat=True).first()


def released_submission_ids(*, since) -> QuerySet:
    """Submissions whose current grade was released at or after ``since`` (a subquery of ids)."""
    return Grade.objects.filter(is_current=True, released_at__gte=since).values("submission_id")
