"""Roster sync (NRPS): the platform's course roster becomes enrolments, over real HTTP."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from lti_tool.models import LtiContext

from eduplatform.core.models import Enrollment
from tests.lti.platform import INSTRUCTOR, LEARNER, TA, Scenario

pytestmark = pytest.mark.django_db(transaction=True)


def member(user_id, roles, status="Active", **extra):
    return {"user_id": user_id, "roles": roles, "status": status, **extra}


def enrolments(course):
    return {
        e.user.lti_users.get().sub: (e.role, e.unregistered_at is None)
        for e in Enrollment.objects.filter(course=course).select_related("user")
    }


@pytest.fixture
def context(tool, platform, browser):
    """The LMS course, known to the tool after the instructor's first launch."""
    browser.get(platform.start_url(Scenario(user_id="teacher-1", roles=INSTRUCTOR, deep_link=True)))
    return LtiContext.objects.get(id_on_platform="course-101")


def test_roster_sync_enrols_the_lms_roster(context, platform):
    platform.members["course-101"] = [
        member("teacher-1", INSTRUCTOR, name="Tina Teacher"),
        member("ta-1", TA),
        member("student-1", LEARNER, given_name="Ann", family_name="Lee", email="ann@school.example"),
        member("student-2", LEARNER),
        member("student-3", LEARNER, status="Inactive"),
    ]

    call_command("lti_sync_roster", "--context", str(context.pk))

    course = context.eduplatform_course_link.course
    assert enrolments(course) == {
        "teacher-1": ("instructor", True),
        "ta-1": ("ta", True),
        "student-1": ("student", True),
        "student-2": ("student", True),
    }
    ann = get_user_model().objects.get(lti_users__sub="student-1")
    assert (ann.first_name, ann.last_name, ann.email) == ("Ann", "Lee", "ann@school.example")
    assert ann.eduplatform_student.external_id == "student-1"
    assert platform.token_requests >= 1  # the tool authenticated with its signed client assertion


def test_members_who_leave_the_lms_course_are_unenrolled_not_deleted(context, platform, eager_celery):
    from eduplatform.lti.tasks import lti_sync_roster

    platform.members["course-101"] = [
        member("teacher-1", INSTRUCTOR),
        member("student-1", LEARNER),
        member("student-2", LEARNER),
    ]
    lti_sync_roster.delay(context_id=context.pk)
    platform.members["course-101"] = [
        member("teacher-1", INSTRUCTOR),
        member("student-1", LEARNER),
        member("student-2", LEARNER, status="Deleted"),
    ]
    platform.members["course-101"].pop(1)  # student-1 dropped from the roster entirely

    counts = lti_sync_roster.delay(context_id=context.pk).get()

    course = context.eduplatform_course_link.course
    assert enrolments(course) == {
        "teacher-1": ("instructor", True),
        "student-1": ("student", False),
        "student-2": ("student", False),
    }
    assert counts["ended"] == 2
    # Re-added later: the same user and enrolment come back.
    platform.members["course-101"].append(member("student-1", LEARNER))
    lti_sync_roster.delay(context_id=context.pk)
    assert enrolments(course)["student-1"] == ("student", True)


def test_roster_sync_for_unknown_course_fails_clearly(tool):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="launch the tool from it first"):
        call_command("lti_sync_roster", "--all")
