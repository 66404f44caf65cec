"""Reads, with the privacy rules in one place.

Access comes from *current* enrolments only (an enrolment whose ``unregistered_at``
is set gives nothing): students see their own data in the courses they are
still in; instructors and TAs their courses' data; superusers everything. Every page, admin view and API view of every
app goes through these functions (``staff_course_ids`` / ``is_course_staff`` /
``course_get``), so the rule is written once.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from eduplatform.core.errors import NotFound
from eduplatform.core.models import Assignment, Course, Enrollment, LearningEvent, Student, Submission

STAFF_ROLES = (Enrollment.Role.INSTRUCTOR, Enrollment.Role.TA)


def student_for_user(user) -> Student | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Student.objects.filter(user=user).first()


def current_enrollments(user) -> QuerySet[Enrollment]:
    """The user's enrolments that give access now (not ended)."""
    if not getattr(user, "is_authenticated", False):
        return Enrollment.objects.none()
    return Enrollment.objects.filter(user=user, unregistered_at__isnull=True)


def staff_course_ids(user) -> QuerySet:
    """Ids of the courses the user teaches now (instructor or TA), as a subquery."""
    return current_enrollments(user).filter(role__in=STAFF_ROLES).values("course_id")


def student_course_ids(user) -> QuerySet:
    """Ids of the courses the user is a current student of, as a subquery."""
    return current_enrollments(user).filter(role=Enrollment.Role.STUDENT).values("course_id")


def is_course_student(user, course_id: int) -> bool:
    return current_enrollments(user).filter(course_id=course_id, role=Enrollment.Role.STUDENT).exists()


def course_student_get(*, user, course_id: int) -> tuple[Student, Course]:
    """The user's Student row and a course they are a *current* student of; 404 otherwise
    (a withdrawn student, a member with another role, an unknown id: the same answer)."""
    me = student_for_user(user)
    course = Course.objects.filter(pk=course_id, pk__in=student_course_ids(user)).first() if me else None
    if course is None:
        raise NotFound(f"Course {course_id} not found.")
    return me, course


def is_course_staff(user, course_id: int) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or current_enrollments(user).filter(course_id=course_id, role__in=STAFF_ROLES).exists()


def courses_visible_to(user) -> QuerySet[Course]:
    if getattr(user, "is_superuser", False):
        return Course.objects.all()
    return Course.objects.filter(pk__in=current_enrollments(user).values("course_id"))


def course_get(*, user, course_id: int, staff: bool = False) -> Course:
    """A course the user is currently enrolled in (``staff=True``: teaches); 404 otherwise, so ids do not leak."""
    qs = (
        Course.objects.filter(pk__in=staff_course_ids(user))
        if staff and not user.is_superuser
        else courses_visible_to(user)
    )
    course = qs.filter(pk=course_id).first()
    if course is None:
        raise NotFound(f"Course {course_id} not found.")
    return course


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
    return qs.filter(
        Q(student__user=user, assignment__course_id__in=student_course_ids(user))
        | Q(assignment__course_id__in=staff_course_ids(user))
    )


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
    return LearningEvent.objects.filter(
        Q(student__user=user, course__isnull=True)
        | Q(student__user=user, course_id__in=student_course_ids(user))
        | Q(course_id__in=staff_course_ids(user))
    )


def display_name(user) -> str:
    """How people are named on pages: the host user model's full name, else its username (never "Student #N")."""
    if user is None:
        return ""
    full = getattr(user, "get_full_name", lambda: "")() or ""
    return full.strip() or str(user.get_username())


def staff_courses(user) -> QuerySet[Course]:
    """The courses the user teaches now (instructor or TA); all courses for a superuser."""
    if getattr(user, "is_superuser", False):
        return Course.objects.all()
    return Course.objects.filter(pk__in=staff_course_ids(user))


def course_students(*, course_id: int, include_withdrawn: bool = False) -> QuerySet[Student]:
    """The course's current students (``include_withdrawn``: and those who left), with their users (for names)."""
    enrolled = Enrollment.objects.filter(course_id=course_id, role=Enrollment.Role.STUDENT)
    if not include_withdrawn:
        enrolled = enrolled.filter(unregistered_at__isnull=True)
    return (
        Student.objects.filter(user__in=enrolled.values("user_id"))
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )
