"""The workspace over HTTP (Django's test client): authoring as rows, form errors, access by enrolment."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from eduplatform.core import services as core
from grading.models import Grade, GradingPolicy, Rubric

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(course_setup):
    User = get_user_model()
    ta = User.objects.create_user("tara", password="pw", first_name="Tara", last_name="Assistant")
    core.enrollment_create(user=ta, course=course_setup["course"], role="ta")
    former = User.objects.create_user("former", password="pw")
    core.enrollment_create(
        user=former, course=course_setup["course"], role="instructor", unregistered_at="2026-01-01T00:00:00Z"
    )
    return {**course_setup, "ta": ta, "former": former}


def _client(client, user):
    client.force_login(user)
    return client


def _grade(people, user, text="an answer", score="3.00", **fields):
    sub = core.submission_create(
        assignment=people["assignment"], student=core.student_get_or_create(user=user), text=text
    )
    return Grade.objects.create(
        submission=sub,
        model_version="t",
        mode="zero-shot",
        score=Decimal(score),
        confidence=0.3,
        review_state="pending",
        review_reason="low confidence",
        **fields,
    )


def _formset(prefix, rows, extra=None):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "30",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def test_teacher_authors_an_assignment_as_rows_with_its_policy(people, client):
    c = _client(client, people["teacher"])
    data = {
        "title": "Water cycle",
        "instructions": "Explain the water cycle.",
        "accepts_text": "on",
        "accepts_image": "on",
        "min_score": "0",
        "max_score": "6",
        "max_attempts": "2",
        "release": "auto",
        "auto_release_confidence": "0.9",
        "review_sample_rate": "0.2",
        **_formset("ref", [{"text": "Water evaporates, condenses and falls as rain."}]),
        **_formset("kp", [{"text": "evaporation"}, {"text": "condensation"}, {"text": ""}]),
        **_formset(
            "crit",
            [
                {
                    "name": "Sequence",
                    "points": "4",
                    "description": "Steps in order",
                    "level_1_label": "Right order",
                    "level_1_points": "4",
                    "level_2_label": "Mostly",
                    "level_2_points": "2",
                },
                {"name": "Words", "points": "2", "level_1_label": "Uses terms", "level_1_points": "2"},
            ],
        ),
    }
    resp = c.post(f"/workspace/courses/{people['course'].pk}/assignments/new/", data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    a = people["course"].assignments.get(title="Water cycle")
    assert a.modalities == ["text", "image"] and a.max_score == 6 and a.max_attempts == 2
    assert a.reference_answers == ["Water evaporates, condenses and falls as rain."]
    assert a.key_points == ["evaporation", "condensation"]
    criteria = list(Rubric.objects.get(assignment=a).criteria.all())
    assert [(x.name, x.points) for x in criteria] == [("Sequence", 4), ("Words", 2)]
    assert criteria[0].levels == [
        {"label": "Right order", "points": 4.0, "descriptor": ""},
        {"label": "Mostly", "points": 2.0, "descriptor": ""},
    ]
    policy = GradingPolicy.objects.get(assignment=a)
    assert (policy.release, policy.auto_release_confidence, policy.review_sample_rate) == ("auto", 0.9, 0.2)
    # the edit page shows the same rows back, not JSON
    page = c.get(f"/workspace/assignments/{a.pk}/edit/").content.decode()
    assert 'value="Right order"' in page and "evaporation</textarea>" in page and "[{" not in page


def test_authoring_errors_are_form_errors_not_500(people, client):
    c = _client(client, people["teacher"])
    data = {
        "title": "Bad",
        "min_score": "5",
        "max_score": "5",
        "max_attempts": "1",
        "release": "manual",
        "auto_release_confidence": "0.8",
        "review_sample_rate": "0.1",
        **_formset("ref", []),
        **_formset("kp", []),
        **_formset("crit", [{"name": "Too generous", "points": "2", "level_1_label": "Max", "level_1_points": "3"}]),
    }
    resp = c.post(f"/workspace/courses/{people['course'].pk}/assignments/new/", data)
    assert resp.status_code == 400
    body = resp.content.decode()
    assert "at least one way to answer" in body and "above the lowest score" in body


def test_out_of_range_score_on_the_review_page_is_a_form_error(people, client):
    grade = _grade(people, people["alice"])
    c = _client(client, people["teacher"])
    resp = c.post(f"/workspace/grades/{grade.pk}/", {"action": "save", "score": "11", "then": "stay"})
    assert resp.status_code == 400 and "from 0 to 10" in resp.content.decode()
    grade.refresh_from_db()
    assert grade.final_score is None and grade.review_state == "pending"


def test_accepting_a_flagged_unscored_answer_is_refused_on_the_page(people, client):
    grade = _grade(people, people["alice"])
    Grade.objects.filter(pk=grade.pk).update(score=None, flags=["gibberish"])
    resp = _client(client, people["teacher"]).post(f"/workspace/grades/{grade.pk}/", {"action": "accept"})
    assert resp.status_code == 400 and "enter a score instead" in resp.content.decode()


def test_access_comes_from_current_enrolments(people, client):
    grade = _grade(people, people["alice"])
    urls = [
        f"/workspace/courses/{people['course'].pk}/",
        f"/workspace/assignments/{people['assignment'].pk}/",
        f"/workspace/grades/{grade.pk}/",
        f"/workspace/courses/{people['course'].pk}/gradebook/",
    ]
    for user, status in (
        (people["ta"], 200),
        (people["other_teacher"], 404),
        (people["former"], 404),
        (people["alice"], 403),
    ):
        c = client.__class__()
        c.force_login(user)
        assert [c.get(u).status_code for u in urls] == [status] * len(urls), user.username
    assert client.__class__().get(urls[0]).status_code == 302  # anonymous: to the login page


def test_queue_names_filters_and_csv_is_safe(people, client):
    people["alice"].first_name, people["alice"].last_name = "=cmd|' /C calc'!A0", "Smith"
    people["alice"].save()
    _grade(people, people["alice"])
    _grade(people, people["bob"], text="other")
    c = _client(client, people["teacher"])
    page = c.get(f"/workspace/assignments/{people['assignment'].pk}/?q=bob").content.decode()
    assert "bob" in page and "Smith" not in page
    csv_text = c.get(f"/workspace/courses/{people['course'].pk}/gradebook/?format=csv").content.decode()
    assert "'=cmd" in csv_text  # a name that a spreadsheet would run as a formula is neutralised


def test_grade_again_keeps_the_teachers_decisions(people, client, django_capture_on_commit_callbacks):
    from grading import services as grading
    from grading.models import GradeDecision

    grade = _grade(people, people["alice"])
    grading.grade_review(grade=grade, reviewer=people["teacher"], action="adjust", score="6", comment="Nice")
    core_sub = grade.submission
    core_sub.status = "graded"
    core_sub.save(update_fields=["status"])
    queue = _client(client, people["teacher"]).get(f"/workspace/assignments/{people['assignment'].pk}/")
    assert "Grade all answers again" in queue.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        resp = client.post(f"/workspace/assignments/{people['assignment'].pk}/regrade/", follow=True)
    assert resp.status_code == 200 and "queued to be graded again" in resp.content.decode()
    core_sub.refresh_from_db()
    grade.refresh_from_db()
    assert core_sub.status == "pending"  # back in the workers' queue
    assert grade.final_score == Decimal("6.00") and grade.review_comment == "Nice"  # the decision stays
    assert GradeDecision.objects.filter(grade=grade).count() == 1
    # a student cannot trigger it
    student = client.__class__()
    student.force_login(people["alice"])
    assert student.post(f"/workspace/assignments/{people['assignment'].pk}/regrade/").status_code == 403


def test_gradebook_without_the_lti_tool_has_no_lms_column_and_no_error(people, client, monkeypatch):
    from django.apps import apps

    _grade(people, people["alice"])
    real = apps.is_installed
    monkeypatch.setattr(apps, "is_installed", lambda name: False if name == "eduplatform.lti" else real(name))
    resp = _client(client, people["teacher"]).get(f"/workspace/courses/{people['course'].pk}/gradebook/")
    assert resp.status_code == 200
    csv_resp = client.get(f"/workspace/courses/{people['course'].pk}/gradebook/?format=csv")
    assert csv_resp.status_code == 200
