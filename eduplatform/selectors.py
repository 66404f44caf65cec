"""Reads, with the privacy rules in one place.

Students see only their own data; instructors and TAs only their courses' data;
superusers everything. Every API view goes through these functions.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from eduplatform.errors import NotFound
from eduplatform.models import Assignment, Course, Enrollment, LearningEvent, Student, Submission

STAFF_ROLES = (Enrollment.Role.INSTRUCTOR, Enrollment.Role.TA)


def student_for_user(user) -> Student | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Student.objects.filter(user=user).first()


def staff_course_ids(user) -> QuerySet:
    return Enrollment.objects.filter(user=user, role__in=STAFF_ROLES).values("course_id")


def is_course_staff(user, course_id: int) -> bool:
    return user.is_superuser or Enrollment.objects.filter(user=user, course_id=course_id, role__in=STAFF_ROLES).exists()


def courses_visible_to(user) -> QuerySet[Course]:
    if user.is_superuser:
        return Course.objects.all()
    return Course.objects.filter(enrollments__user=user, enrollments__unregistered_at__isnull=True).distinct()


def assignments_visible_to(user) -> QuerySet[Assignment]:
    if user.is_superuser:
        return Assignment.objects.select_related("course")
    return Assignment.objects.filter(course__in=courses_visible_to(user)).select_related("course")


def submissions_visible_to(user) -> QuerySet[Submission]:
    qs = Submission.objects.select_related("assignment", "assignment__course", "student").prefetch_related(
        "files", "grades"
    )
    if user.is_superuser:
        return qs
    return qs.filter(Q(student__user=user) | Q(assignment__course_id__in=staff_course_ids(user)))


def submission_get(*, user, submission_id: int) -> Submission:
    """One submission the user may see; 404 (not 403) otherwise, so ids do not leak."""
    sub = submissions_visible_to(user).filter(pk=submission_id).first()
    if sub is None:
        raise NotFound(f"Submission {submission_id} not found.")
    return sub


def assignment_get(*, user, assignment_id: int) -> Assignment:
    a = assignments_visible_to(user).filter(pk=assignment_id).first()
    if a is None:
        raise NotFound(f"Assignment {assignment_id} not found.")
    return a


def events_visible_to(user) -> QuerySet[LearningEvent]:
    if user.is_superuser:
        return LearningEvent.objects.all()
    return LearningEvent.objects.filter(Q(student__user=user) | Q(course_id__in=staff_course_ids(user)))
