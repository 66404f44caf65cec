"""`make demo`'s job, as a test: the demo term builds on the embedded default, grades with the real
models, and what it prints is what a teacher, a student and school IT will find."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_builds_a_term_a_teacher_can_walk_through(client):
    from django.contrib.auth import get_user_model

    from eduplatform.core.models import Course
    from grading.models import Grade

    out = io.StringIO()
    call_command("demo", stdout=out)
    report = out.getvalue()
    course = Course.objects.get(code="DEMO-101")
    # every modality reached the model and a person's review
    assert Grade.objects.filter(submission__assignment__course=course, released_at__isnull=False).exists()
    assert "waiting for review" in report and "(audio, image, text)" in report
    # behaviour: at least three patterns and at least one student shown as at risk, with reasons
    patterns_line = next(line for line in report.splitlines() if "patterns:" in line)
    assert len(patterns_line.split(",")) >= 3, patterns_line
    assert "% at risk (" in report and "ACCEPTED" in report
    # learning paths with reasons
    assert "because you need it before" in report
    # the teacher is not a superuser and gets into the workspace; the student sees their own pages
    teacher = get_user_model().objects.get(username="teacher")
    assert not teacher.is_superuser and not teacher.is_staff
    assert client.login(username="teacher", password="teacher")
    assert client.get(f"/workspace/courses/{course.pk}/").status_code == 200
    client.logout()
    assert client.login(username="student", password="student")
    assert client.get("/workspace/me/").status_code == 200
    # a second run reports on the same term instead of building another
    again = io.StringIO()
    call_command("demo", stdout=again)
    assert "The demo course exists" in again.getvalue() and Course.objects.filter(code="DEMO-101").count() == 1
