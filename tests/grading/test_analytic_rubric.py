"""An analytic rubric end to end: each criterion scored on its own points, learned from the
teacher's per-criterion decisions, the total following the rubric, the review screen and the
student's page saying it per criterion. Real MiniLM, real grader; SQLite, no worker needed.
"""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model

from eduplatform.core import services as core
from eduplatform.core.models import Enrollment
from grading import pipeline, services
from grading.authoring import rubric_set
from grading.models import Grade, Rubric

pytestmark = pytest.mark.django_db

FACTS = [
    "A stack is last in first out.",
    "Push adds an item on the top of the stack.",
    "Pop removes the item from the top.",
]
CLUMSY = ["a stack is last in first out", "push add item on top of stack", "pop remove the item from top"]


def _answer(content: int, language: int, i: int) -> str:
    """``content`` facts (0-3), written cleanly (language 2), plainly (1) or badly (0)."""
    facts = (FACTS if language else CLUMSY)[:content] or ["I do not know much about this topic."]
    text = " ".join(facts)
    if language == 0:
        text = text.replace("the", "teh").replace("item", "itme") + " i think its ok"
    elif language == 2:
        text += " For example, a browser keeps the pages you visited on a stack."
    return text + ("" if i % 2 else " That is all.")


@pytest.fixture
def analytic(db):
    from tests.factories import AssignmentFactory, CourseFactory

    user_model = get_user_model()
    course = CourseFactory()
    teacher = user_model.objects.create(username="teacher_a")
    core.enrollment_create(user=teacher, course=course, role=Enrollment.Role.INSTRUCTOR)
    assignment = AssignmentFactory(
        course=course,
        title="Stacks",
        instructions="Explain how a stack works.",
        reference_answers=[" ".join(FACTS)],
        key_points=[],
        min_score=0,
        max_score=5,
    )
    rubric_set(
        assignment=assignment,
        analytic=True,
        criteria=[
            {"name": "Content", "description": "States LIFO, push and pop.", "points": 3},
            {"name": "Language", "description": "Clear, correct sentences.", "points": 2},
        ],
    )
    return {"course": course, "teacher": teacher, "assignment": assignment}


def _graded(analytic, content: int, language: int, i: int) -> Grade:
    user = get_user_model().objects.create(username=f"s{i}")
    core.enrollment_create(user=user, course=analytic["course"])
    sub = core.submission_create(
        assignment=analytic["assignment"],
        student=core.student_get_or_create(user=user),
        text=_answer(content, language, i),
    )
    grade = Grade.objects.create(submission=sub, model_version="zero-shot", mode="zero-shot", score=0, confidence=0.1)
    services.grade_review(
        grade=grade,
        reviewer=analytic["teacher"],
        action="override",
        score=content + language,
        criteria=[{"name": "Content", "points": content}, {"name": "Language", "points": language}],
    )
    return grade


def test_analytic_criteria_are_scored_learned_and_summed(analytic):
    assignment = analytic["assignment"]
    assert Rubric.objects.get(assignment=assignment).analytic
    # the rubric's criteria are scored, not checked like key points
    assert pipeline.criteria_texts(assignment) == []
    traits = pipeline.rubric_traits(assignment)
    assert [(t.name, t.min_score, t.max_score) for t in traits] == [("Content", 0.0, 3.0), ("Language", 0.0, 2.0)]

    combos = list(itertools.product(range(4), range(3)))  # 12 kinds of answer, each twice
    for i, (c, lang) in enumerate(combos * 2):
        _graded(analytic, c, lang, i)
    items, scores, own, trait_points = pipeline.graded_examples(assignment_id=assignment.pk)
    assert own == 24 and all(t is not None for t in trait_points)
    model = pipeline.grader_train(assignment_id=assignment.pk, regrade=False)
    assert model is not None and model.metrics.get("traits_cv")  # each criterion's own cross-validated model

    user = get_user_model().objects.create(username="newcomer")
    core.enrollment_create(user=user, course=analytic["course"])
    good = core.submission_create(
        assignment=assignment, student=core.student_get_or_create(user=user), text=_answer(3, 2, 99)
    )
    [result] = pipeline.grade_batch(assignment, [good])
    scored = {c["name"]: c for c in result.criteria if c.get("kind") == "trait"}
    assert set(scored) == {"Content", "Language"}
    for name, top in (("Content", 3.0), ("Language", 2.0)):
        c = scored[name]
        assert c["points"] is not None and 0 <= c["points"] <= top and c["max_points"] == top
        assert 0 <= c["confidence"] <= 1
    # the total follows the rubric: the sum of the criteria (within the rounding of each to its grid)
    assert result.score == pytest.approx(scored["Content"]["points"] + scored["Language"]["points"], abs=0.51)
    assert scored["Content"]["points"] >= 2  # a complete, clean answer is not scored low on content
    assert "Total from the rubric's 2 traits" in result.explanation


def test_review_screen_suggests_points_and_accepting_keeps_them(analytic, client):
    from eduplatform.workspace import presenters

    grade = _graded(analytic, 2, 1, 0)
    grade.criteria = [
        {"name": "Content", "kind": "trait", "level": "adequate", "points": 2.0, "max_points": 3.0, "evidence": ""},
        {"name": "Language", "kind": "trait", "level": "work_on", "points": 1.0, "max_points": 2.0, "evidence": ""},
    ]
    grade.review_state = "pending"
    grade.save()
    words = [e.level_words for e in presenters.criteria_evidence(grade.criteria)]
    assert words == ["2 of 3 points (adequate)", "1 of 2 points (to work on)"]
    client.force_login(analytic["teacher"])
    page = client.get(f"/workspace/grades/{grade.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "AI suggests 2 of 3 points (adequate)" in html
    assert 'name="criterion_points_2"' in html  # no levels: the teacher types points
    # the teacher types Language = 2 and accepts the rest of the AI's suggestion
    resp = client.post(
        f"/workspace/grades/{grade.pk}/",
        {"action": "accept", "criterion_points_2": "2", "criterion_points_1": "", "comment": ""},
    )
    assert resp.status_code in (200, 302)
    grade.refresh_from_db()
    points = {c["name"]: c["points"] for c in grade.final_criteria}
    assert points == {"Content": 2.0, "Language": 2.0}
    # out-of-range typed points are ignored, never stored
    resp = client.post(f"/workspace/grades/{grade.pk}/", {"action": "save", "score": "3", "criterion_points_2": "9"})
    grade.refresh_from_db()
    assert all(c["points"] <= 2 for c in grade.final_criteria if c["name"] == "Language")
    assert resp.status_code == 400 and "takes from 0 to 2 points" in resp.content.decode()


def test_per_criterion_points_are_checked_by_the_service(analytic):
    """The rule lives in grading.services, so the API and the admin obey it like the page."""
    from eduplatform.core.errors import ApplicationError

    grade = _graded(analytic, 1, 1, 0)
    for bad in (
        [{"name": "Content", "points": 4}],  # above the criterion's 3
        [{"name": "Content", "points": -1}],
        [{"name": "Content", "points": "NaN"}],
        [{"name": "Style", "points": 1}],  # not a criterion of this rubric
        [{"name": "Content", "points": 1}, {"name": "Content", "points": 2}],
    ):
        with pytest.raises(ApplicationError):
            services.grade_review(grade=grade, reviewer=analytic["teacher"], action="adjust", score=2, criteria=bad)
    grade.refresh_from_db()
    assert {c["name"]: c["points"] for c in grade.final_criteria} == {"Content": 1, "Language": 1}
