"""Grade passback (AGS): released grades reach the platform's gradebook, once, with retries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from eduplatform.core import services as core_services
from eduplatform.core.models import Assignment, Student
from eduplatform.lti.models import LtiScoreSync
from tests.lti.platform import LEARNER, Scenario
from tests.lti.test_launch import place_assignment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def graded(tool, platform, browser, eager_celery):
    """An assignment placed by deep linking, a student who launched it and submitted, an AI grade to review."""
    from grading.models import Grade

    place_assignment(platform, browser)
    [link] = platform.placed_links
    page = type(browser)().get(
        platform.start_url(
            Scenario(
                user_id="student-7",
                roles=LEARNER,
                resource_link_id=link["resource_link_id"],
                custom=link["custom"],
                lineitem_url=link["lineitem_url"],
            )
        )
    )
    assert page.status_code == 200, page.text
    assignment = Assignment.objects.get()
    student = Student.objects.get(user__lti_users__sub="student-7")
    submission = core_services.submission_create(assignment=assignment, student=student, text="Light to sugar.")
    grade = Grade.objects.create(
        submission=submission,
        model_version="test-v1",
        mode="zero-shot",
        score=Decimal("6.50"),
        confidence=0.4,
        review_state=Grade.Review.PENDING,
        feedback="Name the pigment that captures light.",
    )
    teacher = get_user_model().objects.get(lti_users__sub="teacher-1")
    return {"grade": grade, "teacher": teacher, "link": link, "assignment": assignment, "student": student}


def review(graded, **kwargs):
    """The teacher's decision, released in the same step unless the test says otherwise."""
    from grading.services import grade_review

    kwargs.setdefault("release", True)
    return grade_review(grade=graded["grade"], reviewer=graded["teacher"], **kwargs)


def auto_release_policy(assignment):
    """Confident, unflagged AI grades may be released without a review (the assignment's choice)."""
    from grading.models import GradingPolicy

    GradingPolicy.objects.create(assignment=assignment, release="auto", auto_release_confidence=0.3)


def make_releasable(graded):
    from grading.models import Grade

    auto_release_policy(graded["assignment"])
    Grade.objects.filter(pk=graded["grade"].pk).update(review_state=Grade.Review.NOT_NEEDED, review_reason="")
    graded["grade"].refresh_from_db()


def test_released_grade_is_received_by_the_platform(graded, platform):
    review(graded, action="adjust", score=8)

    [score] = platform.scores
    assert score["line_item"] == graded["link"]["lineitem_url"]
    assert score["userId"] == "student-7"
    assert (score["scoreGiven"], score["scoreMaximum"]) == (8.0, 10.0)
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert score["comment"] == "Name the pigment that captures light."
    sync = LtiScoreSync.objects.get()
    assert sync.status == LtiScoreSync.Status.SENT and sync.score_given == Decimal("8.00")


def test_sending_again_is_a_no_op_and_a_new_review_replaces_the_score(graded, platform):
    from eduplatform.lti.tasks import lti_send_grade

    review(graded, action="adjust", score=8)
    assert lti_send_grade.delay(grade_id=graded["grade"].pk).get() == 0  # already in the gradebook
    assert len(platform.scores) == 1

    review(graded, action="override", score=9.5)
    assert [s["scoreGiven"] for s in platform.scores] == [8.0, 9.5]
    assert platform.scores[1]["timestamp"] > platform.scores[0]["timestamp"]  # the LMS keeps the newer one


def test_teacher_comment_reaches_the_gradebook_and_a_withdrawn_grade_leaves_it(graded, platform):
    from grading.services import grade_withdraw

    review(graded, action="adjust", score=8, comment="Well argued; check the units.")
    [score] = platform.scores
    assert score["comment"] == "Well argued; check the units.\n\nName the pigment that captures light."

    grade_withdraw(grade=graded["grade"], user=graded["teacher"], reason="entered on the wrong student")
    cleared = platform.scores[-1]
    assert len(platform.scores) == 2 and "scoreGiven" not in cleared
    assert (cleared["activityProgress"], cleared["gradingProgress"]) == ("Initialized", "NotReady")
    assert cleared["userId"] == "student-7" and cleared["timestamp"] > score["timestamp"]
    sync = LtiScoreSync.objects.get()
    assert sync.cleared and sync.status == LtiScoreSync.Status.SENT

    # released again: the score goes back in
    from grading.services import grade_release

    graded["grade"].refresh_from_db()
    grade_release(grade=graded["grade"], user=graded["teacher"])
    assert platform.scores[-1]["scoreGiven"] == 8.0 and len(platform.scores) == 3
    assert not LtiScoreSync.objects.get().cleared


def test_unreleased_grade_is_not_sent(graded, platform):
    review(graded, action="accept", release=False)
    assert platform.scores == []
    assert not LtiScoreSync.objects.exists()


def test_bulk_released_grade_is_sent_without_a_review(graded, platform):
    from grading.services import grades_release

    make_releasable(graded)
    grade = graded["grade"]
    report = grades_release(grades=[grade])  # e.g. bulk release of confident AI grades: no human review signal
    assert report.released == [grade.pk]
    assert [s["scoreGiven"] for s in platform.scores] == [6.5]


def test_transient_platform_errors_are_retried(graded, platform, eager_celery):
    # Like a worker: a Retry re-runs the task (eager mode with propagation would raise it instead).
    propagates = eager_celery.conf.task_eager_propagates
    eager_celery.conf.task_eager_propagates = False
    platform.score_failures = [503, 502]
    try:
        review(graded, action="accept")
    finally:
        eager_celery.conf.task_eager_propagates = propagates

    assert [s["scoreGiven"] for s in platform.scores] == [6.5]
    sync = LtiScoreSync.objects.get()
    assert (sync.status, sync.attempts, sync.last_error) == (LtiScoreSync.Status.SENT, 3, "")


def test_permanent_refusal_is_recorded_not_retried(graded, platform):
    platform.score_failures = [400]
    review(graded, action="accept")  # the instructor's review itself succeeds

    assert platform.scores == []
    sync = LtiScoreSync.objects.get()
    assert sync.status == LtiScoreSync.Status.FAILED and sync.attempts == 1
    assert "400" in sync.last_error


def test_without_a_line_item_in_the_launch_the_tool_creates_its_column(tool, platform, browser, eager_celery):
    """A link placed by hand (custom parameter, no line item): the tool finds or creates its AGS column."""
    from grading.models import Grade
    from grading.services import grade_review

    place_assignment(platform, browser)
    assignment = Assignment.objects.get()
    platform.line_items.clear()  # the LMS made no column for this placement
    page = type(browser)().get(
        platform.start_url(
            Scenario(
                user_id="student-7",
                roles=LEARNER,
                resource_link_id="rl-by-hand",
                custom={"eduplatform_assignment_id": str(assignment.pk)},
            )
        )
    )
    assert page.status_code == 200, page.text
    assert not assignment.lti_line_items.exists()
    student = Student.objects.get(user__lti_users__sub="student-7")
    submission = core_services.submission_create(assignment=assignment, student=student, text="x")
    grade = Grade.objects.create(
        submission=submission, model_version="v", mode="zero-shot", score=Decimal(7), confidence=0.9
    )

    grade_review(
        grade=grade, reviewer=get_user_model().objects.get(lti_users__sub="teacher-1"), action="accept", release=True
    )

    [item] = platform.line_items["course-101"].values()
    assert item["resourceId"] == f"eduplatform-assignment-{assignment.pk}" and item["scoreMaximum"] == 10.0
    assert [(s["line_item"], s["scoreGiven"]) for s in platform.scores] == [(item["id"], 7.0)]
    assert assignment.lti_line_items.get().line_item.url == item["id"]


def test_send_grades_command_backfills(graded, platform):
    from django.core.management import call_command

    from grading.services import grades_release

    make_releasable(graded)
    grades_release(grades=[graded["grade"]])
    call_command("lti_send_grades", "--assignment", str(graded["assignment"].pk))
    assert [s["scoreGiven"] for s in platform.scores] == [6.5]


def test_sweeper_sends_what_a_failed_wake_up_left_behind(graded, platform):
    from eduplatform.lti.tasks import lti_sweep_grades

    platform.score_failures = [503] * 100  # the send and every retry of it fail
    review(graded, action="accept")
    assert platform.scores == [] and LtiScoreSync.objects.get().status == LtiScoreSync.Status.FAILED
    platform.score_failures.clear()  # the platform is back

    assert lti_sweep_grades.delay().get() == {"checked": 1, "sent": 1, "failed": 0}
    assert [s["scoreGiven"] for s in platform.scores] == [6.5]
    assert lti_sweep_grades.delay().get()["sent"] == 0  # nothing left to send; no second score
    assert len(platform.scores) == 1
