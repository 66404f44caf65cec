"""Grading reads, scoped to the courses a user teaches."""

from __future__ import annotations

from django.db.models import QuerySet

from eduplatform.errors import NotFound
from eduplatform.selectors import staff_course_ids
from grading.models import Grade


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
