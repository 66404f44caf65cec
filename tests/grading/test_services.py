"""Grading through the real models (MiniLM, RapidOCR, Whisper tiny.en) on the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from eduplatform.core import services as core
from eduplatform.core.models import Submission
from grading import services
from grading.models import AnswerGroup, Grade, GraderModel, GradingPolicy

pytestmark = [pytest.mark.slow]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEMO_AUDIO = Path(__file__).resolve().parents[2] / "eduplatform" / "demo" / "demo_data" / "spoken_answer.flac"

GOOD = "A stack is last in first out: you push onto the top and pop the most recent element from the top."
WRONG = "A stack is first in first out, like people waiting in a line at the shop."


@pytest.fixture
def submit(course_setup, eager_celery, django_capture_on_commit_callbacks):
    def _submit(user, text="", files=(), assignment=None):
        with django_capture_on_commit_callbacks(execute=True):
            return core.submission_create(
                assignment=assignment or course_setup["assignment"],
                student=user.eduplatform_student,
                text=text,
                files=list(files),
            )

    return _submit


def _grade(sub: Submission) -> Grade:
    return Grade.objects.get(submission=sub, is_current=True)


@pytest.mark.django_db
def test_zero_shot_grades_good_above_wrong_with_evidence(course_setup, submit):
    good, wrong = submit(course_setup["alice"], GOOD), submit(course_setup["bob"], WRONG)
    g_good, g_wrong = _grade(good), _grade(wrong)
    assert g_good.mode == "zero-shot" and g_good.model_version
    assert g_good.score > g_wrong.score
    assert g_good.criteria and any(c["evidence"] for c in g_good.criteria)
    assert g_good.feedback and g_good.explanation
    # zero-shot is uncalibrated: it waits for a teacher instead of being released
    good.refresh_from_db()
    assert good.status == "needs_review" and g_good.released_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text,flag",
    [("asdkj qwpoe zxmnv lkjhg", "gibberish"), ("I like pizza with extra cheese and olives on Fridays.", "off_topic")],
)
def test_gibberish_and_off_topic_are_flagged_not_scored_as_normal(course_setup, submit, text, flag):
    sub = submit(course_setup["alice"], text)
    grade = _grade(sub)
    assert flag in grade.flags
    assert grade.review_state == "pending" and "flag" in grade.review_reason or "not scored" in grade.review_reason


@pytest.mark.django_db
def test_copied_reference_is_flagged(course_setup, submit):
    sub = submit(course_setup["alice"], course_setup["assignment"].reference_answers[0])
    assert "copied_reference" in _grade(sub).flags


@pytest.mark.django_db
def test_release_policy_controls_what_students_see(course_setup, submit, api_for):
    sub = submit(course_setup["alice"], GOOD)
    alice = api_for(course_setup["alice"])
    assert alice.get(f"/api/v1/submissions/{sub.pk}/").json()["result"] is None  # held for review
    teacher_view = api_for(course_setup["teacher"]).get(f"/api/v1/submissions/{sub.pk}/").json()["result"]
    assert teacher_view["explanation"] and teacher_view["review_state"] == "pending"
    # the teacher adjusts through the API: saved, not released
    teacher = api_for(course_setup["teacher"])
    resp = teacher.post(
        f"/api/v1/grades/{teacher_view['grade_id']}/review/",
        {"action": "adjust", "score": "9.5", "comment": "good"},
        format="json",
    )
    assert resp.status_code == 200, resp.content
    assert alice.get(f"/api/v1/submissions/{sub.pk}/").json()["result"] is None
    # ...then releases it explicitly
    assert teacher.post(f"/api/v1/grades/{teacher_view['grade_id']}/release/").status_code == 200
    result = alice.get(f"/api/v1/submissions/{sub.pk}/").json()["result"]
    assert float(result["score"]) == 9.5 and result["reviewed"] is True
    assert "explanation" not in result  # instructor-only


@pytest.mark.django_db
def test_auto_release_policy(course_setup, submit, api_for):
    GradingPolicy.objects.create(assignment=course_setup["assignment"], release="auto", auto_release_confidence=0.0)
    sub = submit(course_setup["alice"], GOOD)
    grade = _grade(sub)
    # zero-shot confidence is below the review threshold, so even auto-release holds it
    assert (grade.released_at is None) == (grade.review_state == "pending")


@pytest.mark.django_db
def test_review_permissions(course_setup, submit, api_for):
    sub = submit(course_setup["alice"], GOOD)
    grade = _grade(sub)
    url = f"/api/v1/grades/{grade.pk}/review/"
    body = {"action": "override", "score": "3"}
    assert api_for(course_setup["other_teacher"]).post(url, body, format="json").status_code == 404
    assert api_for(course_setup["alice"]).post(url, body, format="json").status_code == 404
    assert api_for(course_setup["teacher"]).post(url, {"action": "override"}, format="json").status_code == 400
    assert (
        api_for(course_setup["teacher"]).post(url, {"action": "override", "score": "99"}, format="json").status_code
        == 400
    )
    assert api_for(course_setup["other_teacher"]).get("/api/v1/review-queue/").json()["count"] == 0
    assert api_for(course_setup["teacher"]).get("/api/v1/review-queue/").json()["count"] == 1


@pytest.mark.django_db
def test_regrade_is_idempotent_and_keeps_human_decisions(
    course_setup, submit, api_for, eager_celery, django_capture_on_commit_callbacks
):
    sub = submit(course_setup["alice"], GOOD)
    grade = _grade(sub)
    services.grade_review(grade=grade, reviewer=course_setup["teacher"], action="override", score=7)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            resp = api_for(course_setup["teacher"]).post(
                f"/api/v1/assignments/{course_setup['assignment'].pk}/regrade/", {}, format="json"
            )
        assert resp.status_code == 202
    assert Grade.objects.filter(submission=sub).count() == 1
    grade.refresh_from_db()
    assert grade.final_score == 7 and grade.review_state == "overridden" and grade.released_at is None
    assert (
        api_for(course_setup["alice"])
        .post(f"/api/v1/assignments/{course_setup['assignment'].pk}/regrade/", {}, format="json")
        .status_code
        == 404
    )


@pytest.mark.django_db
def test_overrides_train_a_learned_grader(course_setup, submit, eager_celery, django_capture_on_commit_callbacks):
    """Instructor grades become training data; after enough, the assignment switches to learned mode."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    answers = [
        (GOOD, 10),
        (WRONG, 2),
        ("Last in, first out: push adds on top, pop takes the top.", 9),
        ("It is a list where you remove the oldest item first.", 2),
        ("LIFO structure with push and pop operations at one end.", 9),
        ("A stack is a tree of nodes.", 1),
        ("Items are added and removed at the top only (LIFO).", 9),
        ("A queue of things.", 2),
        ("Push puts an item on the top; pop returns the last pushed item.", 10),
        ("I don't know what a stack is.", 0),
        ("The last element added is the first removed.", 8),
        ("A kind of array sorted by size.", 1),
    ]
    subs = []
    for i, (text, score) in enumerate(answers):
        user = User.objects.create(username=f"s{i}")
        core.enrollment_create(user=user, course=course_setup["course"])
        subs.append((submit(user, text), score))
    with django_capture_on_commit_callbacks(execute=True):
        for sub, score in subs:
            services.grade_review(grade=_grade(sub), reviewer=course_setup["teacher"], action="override", score=score)
    model = GraderModel.objects.get(assignment=course_setup["assignment"], is_active=True)
    assert model.n_examples_this_assignment >= 10 and model.version
    new = submit(course_setup["alice"], "Push onto the top and pop from the top, so the last in is first out.")
    grade = _grade(new)
    assert grade.mode == "learned" and grade.model_version == model.version
    assert grade.score > 5


@pytest.mark.django_db
def test_answer_groups_grade_once_for_all(
    course_setup, submit, api_for, eager_celery, django_capture_on_commit_callbacks
):
    from django.contrib.auth import get_user_model

    texts = ["Last in, first out.", "last in first out", "It is last in, first out.", "A stack is a type of fruit."]
    for i, text in enumerate(texts):
        user = get_user_model().objects.create(username=f"g{i}")
        core.enrollment_create(user=user, course=course_setup["course"])
        submit(user, text)
    teacher = api_for(course_setup["teacher"])
    url = f"/api/v1/assignments/{course_setup['assignment'].pk}/answer-groups/"
    assert teacher.post(url).status_code == 202
    groups = teacher.get(url).json()
    biggest = groups[0]
    assert biggest["size"] == 3 and len(groups) == 2
    assert api_for(course_setup["other_teacher"]).get(url).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        resp = teacher.post(f"/api/v1/answer-groups/{biggest['id']}/grade/", {"score": "8"}, format="json")
    assert sorted(resp.json()["graded"]) == sorted(biggest["members"]) and resp.json()["kept"] == []
    scores = {float(g.final_score) for g in Grade.objects.filter(submission_id__in=biggest["members"], is_current=True)}
    assert scores == {8.0}
    assert AnswerGroup.objects.get(pk=biggest["id"]).graded_score == 8


@pytest.mark.django_db
def test_image_of_written_work_is_ocrd_and_graded(course_setup, submit):
    png = (FIXTURES / "ocr_printed.png").read_bytes()
    sub = submit(course_setup["alice"], files=[SimpleUploadedFile("work.png", png)])
    sub.refresh_from_db()
    assert sub.status in ("graded", "needs_review") and sub.extracted_text.strip()
    assert _grade(sub).features["images"][0]["ocr_lines"] >= 1 and "path" not in _grade(sub).features["images"][0]


@pytest.mark.django_db
def test_spoken_answer_is_transcribed_with_fluency_feedback(course_setup, submit):
    sub = submit(course_setup["alice"], files=[SimpleUploadedFile("a.flac", DEMO_AUDIO.read_bytes())])
    sub.refresh_from_db()
    assert "photosynthesis" in sub.extracted_text.lower()
    grade = _grade(sub)
    assert 60 < grade.features["audio"][0]["wpm"] < 250
    assert "words per minute" in grade.feedback


@pytest.mark.django_db
def test_rubric_criteria_are_checked_with_evidence(course_setup, submit):
    from grading.models import Rubric, RubricCriterion

    rubric = Rubric.objects.create(assignment=course_setup["assignment"], title="Stacks")
    RubricCriterion.objects.create(rubric=rubric, name="Order", description="says the last element in is the first out")
    RubricCriterion.objects.create(
        rubric=rubric, name="Example", description="gives a real-world example such as plates"
    )
    sub = submit(course_setup["alice"], "In a stack the last element in is the first out. Think of plates piled up.")
    criteria = {c["name"]: c for c in _grade(sub).criteria}
    assert set(criteria) >= {
        "Order: says the last element in is the first out",
        "Example: gives a real-world example such as plates",
    }
    order = criteria["Order: says the last element in is the first out"]
    assert order["level"] in ("met", "partial") and "first out" in order["evidence"]
