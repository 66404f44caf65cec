"""Access comes from *current* enrolments only (issue 13): the ex-instructor and the withdrawn student.

The permission matrix (tests/test_permission_matrix.py) checks every URL for both roles;
these tests spell out the two incidents the security probe found.
"""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from eduplatform.core.models import Enrollment, LearningEvent, Student
from eduplatform.core.services import submission_create
from eduplatform.core.xapi import COURSE_EXT


def _end(user, course) -> None:
    Enrollment.objects.filter(user=user, course=course).update(unregistered_at=timezone.now())


@pytest.mark.django_db
def test_ex_instructor_can_neither_override_and_release_nor_post_events(api_for, course_setup):
    from grading.models import Grade

    alice = Student.objects.get(user=course_setup["alice"])
    sub = submission_create(assignment=course_setup["assignment"], student=alice, text="LIFO")
    grade = Grade.objects.create(submission=sub, model_version="m", mode="zero-shot", score=3, review_state="pending")
    _end(course_setup["teacher"], course_setup["course"])
    client = api_for(course_setup["teacher"])

    resp = client.post(
        f"/api/v1/grades/{grade.pk}/review/", {"action": "override", "score": 10, "release": True}, format="json"
    )
    assert resp.status_code == 404
    grade.refresh_from_db()
    assert grade.released_at is None and grade.final_score is None and grade.review_state == "pending"

    statement = {
        "id": str(uuid.uuid4()),
        "actor": {"account": {"homePage": "eduplatform", "name": str(alice.pk)}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"},
        "object": {"id": "https://e.x/quiz"},
        "context": {"extensions": {COURSE_EXT: course_setup["course"].pk}},
    }
    before = LearningEvent.objects.count()
    assert client.post("/api/v1/events/", statement, format="json").status_code == 400
    assert LearningEvent.objects.count() == before
    for url in (
        f"/api/v1/courses/{course_setup['course'].pk}/",
        f"/api/v1/submissions/{sub.pk}/",
        f"/api/v1/courses/{course_setup['course'].pk}/mastery/",
        f"/api/v1/courses/{course_setup['course'].pk}/behaviour/",
        f"/api/v1/assignments/{course_setup['assignment'].pk}/answer-groups/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/review-queue/").json()["count"] == 0
    assert client.get("/api/v1/submissions/").json()["count"] == 0


@pytest.mark.django_db
def test_withdrawn_student_loses_access_to_the_course_and_their_work_in_it(api_for, course_setup):
    alice = Student.objects.get(user=course_setup["alice"])
    sub = submission_create(assignment=course_setup["assignment"], student=alice, text="LIFO")
    _end(course_setup["alice"], course_setup["course"])
    client = api_for(course_setup["alice"])

    assert client.get(f"/api/v1/courses/{course_setup['course'].pk}/").status_code == 404
    assert client.get(f"/api/v1/assignments/{course_setup['assignment'].pk}/").status_code == 404
    assert client.get(f"/api/v1/submissions/{sub.pk}/").status_code == 404
    assert client.get("/api/v1/submissions/").json()["count"] == 0
    post = client.post(
        "/api/v1/submissions/", {"assignment": course_setup["assignment"].pk, "text": "again"}, format="json"
    )
    assert post.status_code == 404
    event = {
        "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
        "object": {"id": "https://e.x/page"},
        "context": {"extensions": {COURSE_EXT: course_setup["course"].pk}},
    }
    assert client.post("/api/v1/events/", event, format="json").status_code == 400
    # Re-enrolled (e.g. by the next LTI launch): access comes back with the enrolment.
    Enrollment.objects.filter(user=course_setup["alice"]).update(unregistered_at=None)
    assert client.get(f"/api/v1/submissions/{sub.pk}/").status_code == 200
