"""Admin pages instructors use: review queue, grading progress, answer groups, learned models."""

from __future__ import annotations

import pytest

from grading.models import Grade


@pytest.mark.django_db
def test_review_queue_and_progress_pages(client, course_setup, django_user_model):
    from eduplatform.core.models import Submission

    sub = Submission.objects.create(
        assignment=course_setup["assignment"],
        student=course_setup["alice"].eduplatform_student,
        text="LIFO",
        status="needs_review",
    )
    Grade.objects.create(
        submission=sub,
        model_version="v1",
        mode="zero-shot",
        score=3,
        confidence=0.2,
        review_state="pending",
        review_reason="confidence 0.20 below 0.60",
    )
    admin = django_user_model.objects.create_superuser("root", "r@example.edu", "pw")
    client.force_login(admin)
    page = client.get("/admin/eduplatform_grading/grade/?review_state__exact=pending")
    assert page.status_code == 200 and b"confidence" in page.content
    progress = client.get("/admin/eduplatform_core/assignment/")
    assert b"1/1 graded (1 to review), 0 queued" in progress.content
    for url in (
        "/admin/eduplatform_grading/answergroup/",
        "/admin/eduplatform_grading/gradermodel/",
        f"/admin/eduplatform_grading/grade/{sub.grades.get().pk}/change/",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_staff_instructor_sees_only_own_course_grades(client, course_setup):
    from eduplatform.core.models import Submission

    for key in ("assignment", "other_assignment"):
        student = course_setup["alice"].eduplatform_student
        sub = Submission.objects.create(assignment=course_setup[key], student=student, text="x")
        Grade.objects.create(submission=sub, model_version="v1", mode="zero-shot", score=1, confidence=0.1)
    teacher = course_setup["teacher"]
    teacher.is_staff = True
    teacher.save()
    from django.contrib.auth.models import Permission

    teacher.user_permissions.add(Permission.objects.get(codename="view_grade"))
    client.force_login(teacher)
    page = client.get("/admin/eduplatform_grading/grade/")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
