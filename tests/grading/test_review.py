"""The release rules and review decisions, through the services and the REST API (no models needed).

A grade reaches a student only when a person reviewed it, or when the assignment's
policy auto-releases confident, unflagged grades; saving a score never releases.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from eduplatform.core import services as core
from grading import services
from grading.models import AnswerGroup, Grade, GradeDecision, GradingPolicy

pytestmark = pytest.mark.django_db


def _grade(
    course_setup, user, *, score="4.00", confidence=0.9, flags=(), state="not_needed", text="an answer", assignment=None
):
    sub = core.submission_create(
        assignment=assignment or course_setup["assignment"], student=core.student_get_or_create(user=user), text=text
    )
    return Grade.objects.create(
        submission=sub,
        model_version="test",
        mode="zero-shot",
        score=None if score is None else Decimal(score),
        confidence=confidence,
        flags=list(flags),
        review_state=state,
        review_reason="flagged" if flags else ("low confidence" if state == "pending" else ""),
    )


def _student(course_setup, name):
    user = get_user_model().objects.create(username=name)
    core.enrollment_create(user=user, course=course_setup["course"])
    return user


@pytest.fixture
def teacher(course_setup):
    return course_setup["teacher"]


def test_saving_a_score_does_not_release(course_setup, teacher, api_for):
    grade = _grade(course_setup, course_setup["alice"], state="pending")
    services.grade_review(grade=grade, reviewer=teacher, action="adjust", score="3.5", comment="ok")
    grade.refresh_from_db()
    assert grade.final_score == Decimal("3.50") and grade.review_state == "adjusted"
    assert grade.released_at is None
    assert api_for(course_setup["alice"]).get(f"/api/v1/submissions/{grade.submission_id}/").json()["result"] is None
    [decision] = grade.decisions.all()
    assert (decision.action, decision.actor, decision.score_before, decision.score_after) == (
        "adjust",
        teacher,
        Decimal("4.00"),
        Decimal("3.50"),
    )
    assert decision.released_before is False and decision.released_after is False


def test_bulk_release_skips_unreviewed_and_flagged_and_says_why(course_setup, teacher):
    reviewed = _grade(course_setup, course_setup["alice"], state="pending")
    services.grade_review(grade=reviewed, reviewer=teacher, action="accept")
    waiting = _grade(course_setup, course_setup["bob"], state="pending", confidence=0.09)
    flagged = _grade(course_setup, _student(course_setup, "cleo"), score=None, flags=["gibberish"], state="pending")
    unreviewed = _grade(course_setup, _student(course_setup, "dev"))  # confident, but the policy is manual
    report = services.grades_release(grades=Grade.objects.select_related("submission"), user=teacher)
    assert report.released == [reviewed.pk]
    skipped = dict(report.skipped)
    assert set(skipped) == {waiting.pk, flagged.pk, unreviewed.pk}
    assert "waiting for review" in skipped[waiting.pk]
    assert "no score" in skipped[flagged.pk]
    assert "not reviewed by a person" in skipped[unreviewed.pk]
    assert report.summary().startswith("1 grade released; not released: ")
    assert Grade.objects.filter(released_at__isnull=False).count() == 1


def test_auto_release_policy_releases_only_confident_unflagged(course_setup, teacher):
    GradingPolicy.objects.create(assignment=course_setup["assignment"], release="auto", auto_release_confidence=0.8)
    confident = _grade(course_setup, course_setup["alice"], confidence=0.9)
    unsure = _grade(course_setup, course_setup["bob"], confidence=0.7)
    report = services.grades_release(grades=Grade.objects.select_related("submission"), user=teacher)
    assert report.released == [confident.pk]
    assert "below the auto-release level" in dict(report.skipped)[unsure.pk]


def test_accepting_a_flagged_answer_without_ai_score_is_refused(course_setup, teacher, api_for):
    grade = _grade(course_setup, course_setup["alice"], score=None, flags=["gibberish"], state="pending")
    with pytest.raises(services.ApplicationError, match="enter a score"):
        services.grade_review(grade=grade, reviewer=teacher, action="accept")
    resp = api_for(teacher).post(f"/api/v1/grades/{grade.pk}/review/", {"action": "accept"}, format="json")
    assert resp.status_code == 400 and resp.json()["code"] == "nothing_to_accept"
    grade.refresh_from_db()
    assert grade.review_state == "pending" and grade.final_score is None and not grade.decisions.exists()


@pytest.mark.parametrize("score", ["7", "-1", "5.01"])
def test_out_of_range_scores_are_400_with_the_range_in_words(course_setup, teacher, api_for, score):
    course_setup["assignment"].max_score = 5
    course_setup["assignment"].save()
    grade = _grade(course_setup, course_setup["alice"], state="pending")
    resp = api_for(teacher).post(
        f"/api/v1/grades/{grade.pk}/review/", {"action": "adjust", "score": score}, format="json"
    )
    assert resp.status_code == 400
    assert resp.json()["field"] == "score" and "from 0 to 5" in resp.json()["detail"]


def test_release_endpoint_refuses_with_the_reason_and_withdraw_takes_it_back(course_setup, teacher, api_for):
    grade = _grade(course_setup, course_setup["alice"], state="pending")
    client = api_for(teacher)
    resp = client.post(f"/api/v1/grades/{grade.pk}/release/")
    assert resp.status_code == 409 and "waiting for review" in resp.json()["detail"]
    client.post(f"/api/v1/grades/{grade.pk}/review/", {"action": "accept", "release": True}, format="json")
    grade.refresh_from_db()
    assert grade.released_at is not None
    resp = client.post(f"/api/v1/grades/{grade.pk}/withdraw/", {"reason": "wrong answer key"}, format="json")
    assert resp.status_code == 200
    grade.refresh_from_db()
    assert grade.released_at is None
    assert list(grade.decisions.values_list("action", flat=True)) == ["accept", "release", "withdraw"]
    assert grade.decisions.last().comment == "wrong answer key"


def test_group_grading_leaves_human_decisions_alone_and_does_not_release(course_setup, teacher, api_for):
    decided = _grade(course_setup, course_setup["alice"], state="pending", text="last in first out")
    services.grade_review(grade=decided, reviewer=teacher, action="override", score="9", comment="Spot on, Alice.")
    other = _grade(course_setup, course_setup["bob"], state="pending", text="last in, first out")
    group = AnswerGroup.objects.create(assignment=course_setup["assignment"], representative=decided.submission, size=2)
    group.members.set([decided.submission, other.submission])
    resp = api_for(teacher).post(f"/api/v1/answer-groups/{group.pk}/grade/", {"score": "6"}, format="json")
    assert resp.status_code == 200, resp.content
    assert resp.json()["kept"] == [decided.submission_id] and resp.json()["graded"] == [other.submission_id]
    decided.refresh_from_db()
    other.refresh_from_db()
    assert decided.final_score == 9 and decided.review_comment == "Spot on, Alice."
    assert other.final_score == 6 and other.released_at is None and decided.released_at is None
    assert other.decisions.get().action == GradeDecision.Action.GROUP
    resp = api_for(teacher).post(f"/api/v1/answer-groups/{group.pk}/grade/", {"score": "42"}, format="json")
    assert resp.status_code == 400 and resp.json()["field"] == "score"


def test_group_members_can_be_removed_split_and_merged(course_setup):
    subs = [_grade(course_setup, _student(course_setup, f"s{i}"), text=f"answer {i}").submission for i in range(4)]
    group = AnswerGroup.objects.create(assignment=course_setup["assignment"], representative=subs[0], size=4)
    group.members.set(subs)
    services.answer_group_remove_members(group=group, submission_ids=[subs[0].pk])
    group.refresh_from_db()
    assert group.size == 3 and group.representative_id == subs[1].pk
    new = services.answer_group_split(group=group, submission_ids=[subs[3].pk])
    assert list(new.members.all()) == [subs[3]] and group.members.count() == 2
    merged = services.answer_group_merge(group=new, into=group)
    assert merged.size == 3 and not AnswerGroup.objects.filter(pk=new.pk).exists()
    with pytest.raises(services.ApplicationError):
        services.answer_group_split(group=merged, submission_ids=[s.pk for s in subs[1:]])


def test_a_regrade_by_a_new_model_keeps_the_teachers_decision(course_setup, teacher):
    from grading.pipeline import EngineResult

    grade = _grade(course_setup, course_setup["alice"], state="pending")
    services.grade_review(grade=grade, reviewer=teacher, action="override", score="2", release=True)
    sub = grade.submission
    token, ids = services.submissions_claim(limit=5, hint_ids=[sub.pk])
    assert ids == []  # graded rows are not pending; a regrade puts them back
    services.assignment_regrade(assignment_id=sub.assignment_id)
    token, ids = services.submissions_claim(limit=5, hint_ids=[sub.pk])
    assert ids == [sub.pk]
    services.grade_write(token=token, result=EngineResult(sub.pk, "model-v2", "learned", 4.5, 0.95))
    current = Grade.objects.get(submission=sub, is_current=True)
    assert current.model_version == "model-v2" and current.score == Decimal("4.50")
    assert current.final_score == 2 and current.review_state == "overridden" and current.released_at is not None


def test_soft_lock_keeps_a_second_grader_out_until_it_expires(course_setup, teacher, api_for):
    ta = get_user_model().objects.create(username="ta")
    core.enrollment_create(user=ta, course=course_setup["course"], role="ta")
    grade = _grade(course_setup, course_setup["alice"], state="pending")
    services.grade_lock(grade=grade, user=teacher)
    with pytest.raises(services.Conflict):
        services.grade_lock(grade=grade, user=ta)
    resp = api_for(ta).post(f"/api/v1/grades/{grade.pk}/review/", {"action": "accept"}, format="json")
    assert resp.status_code == 409 and resp.json()["code"] == "locked"
    Grade.objects.filter(pk=grade.pk).update(locked_until="2000-01-01T00:00:00Z")  # expired
    services.grade_review(grade=grade, reviewer=ta, action="accept")


def test_student_asks_for_a_recheck_that_lands_in_the_queue(course_setup, teacher, api_for):
    grade = _grade(course_setup, course_setup["alice"], state="pending")
    services.grade_review(grade=grade, reviewer=teacher, action="accept", release=True)
    assert (
        api_for(course_setup["bob"])
        .post(f"/api/v1/grades/{grade.pk}/recheck/", {"reason": "x"}, format="json")
        .status_code
        == 404
    )
    resp = api_for(course_setup["alice"]).post(
        f"/api/v1/grades/{grade.pk}/recheck/", {"reason": "I did explain push and pop."}, format="json"
    )
    assert resp.status_code == 202
    queue = api_for(teacher).get("/api/v1/review-queue/").json()["results"]
    assert [g["id"] for g in queue] == [grade.pk]
    assert queue[0]["review_reason"] == "student asked for a re-check"
    again = api_for(course_setup["alice"]).post(
        f"/api/v1/grades/{grade.pk}/recheck/", {"reason": "please"}, format="json"
    )
    assert again.status_code == 409
