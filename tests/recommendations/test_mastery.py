"""Mastery from graded attempts: online BKT with forgetting, grades and xAPI answers as
evidence, path recompute on change, and offline KT training that serves the better model."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from eduplatform.core.models import Submission
from grading.models import Grade
from recommendations.mastery import services, training
from recommendations.models import KTModelRecord, Mastery, SkillAttempt
from recommendations.paths.services import learning_path_recompute

# The default BKT parameters (EDUPLATFORM_KT_DEFAULT_PARAMS).
PRIOR, LEARN, FORGET, GUESS, SLIP = 0.3, 0.1, 0.02, 0.2, 0.1


def by_hand(p: float, correct: bool) -> float:
    """Bayes' rule on the response, then the learn/forget transition."""
    if correct:
        post = p * (1 - SLIP) / (p * (1 - SLIP) + (1 - p) * GUESS)
    else:
        post = p * SLIP / (p * SLIP + (1 - p) * (1 - GUESS))
    return post * (1 - FORGET) + (1 - post) * LEARN


def graded(lc, student_user, score, *, released=True, attempt=1, commit=None):
    sub = Submission.objects.create(
        assignment=lc["assignment"],
        student=student_user.eduplatform_student,
        text="answer",
        attempt=attempt,
        status="graded",
    )
    grade = Grade.objects.create(
        submission=sub, model_version="v1", mode="zero-shot", score=Decimal(score), confidence=0.9
    )
    if released:
        from grading.models import GradingPolicy
        from grading.services import grades_release

        # a confident AI grade released by the assignment's auto-release policy (no human review)
        GradingPolicy.objects.get_or_create(
            assignment=lc["assignment"], defaults={"release": "auto", "auto_release_confidence": 0.5}
        )
        with commit(execute=True):
            assert grades_release(grades=[grade]).released == [grade.pk]
    return sub, grade


@pytest.mark.django_db
def test_released_grade_updates_mastery_like_the_hand_computed_posterior(
    learning_course, eager_celery, django_capture_on_commit_callbacks
):
    lc = learning_course
    alice = lc["alice"].eduplatform_student
    graded(lc, lc["alice"], "10", commit=django_capture_on_commit_callbacks)  # full marks: correct
    m = Mastery.objects.get(student=alice, skill=lc["recursion"])
    expected = by_hand(PRIOR, True)  # 0.3*0.9/(0.27+0.14) = 0.6585 -> 0.6585*0.98 + 0.3415*0.1
    assert m.p_mastery == pytest.approx(expected, abs=1e-9)
    assert m.p_mastery == pytest.approx(0.679512, abs=1e-6)
    assert m.n_attempts == 1 and m.model_version == "bkt-online:default"
    graded(lc, lc["alice"], "0", attempt=2, commit=django_capture_on_commit_callbacks)  # zero: wrong
    m.refresh_from_db()
    assert m.p_mastery == pytest.approx(by_hand(expected, False), abs=1e-9)
    assert m.n_attempts == 2
    # only the tagged skill moves; Bob is untouched
    assert not Mastery.objects.filter(student=alice, skill=lc["functions"]).exists()
    assert not Mastery.objects.filter(student=lc["bob"].eduplatform_student).exists()


@pytest.mark.django_db
def test_score_fraction_is_soft_evidence(learning_course):
    lc = learning_course
    alice = lc["alice"].eduplatform_student
    [m] = services.mastery_update_from_attempt(student=alice, assignment=lc["assignment"], correct=0.75)
    assert m.p_mastery == pytest.approx(0.75 * by_hand(PRIOR, True) + 0.25 * by_hand(PRIOR, False), abs=1e-9)
    [m] = services.mastery_update_from_attempt(student=alice, assignment=lc["assignment"], correct=True, source="same")
    [again] = services.mastery_update_from_attempt(
        student=alice, assignment=lc["assignment"], correct=True, source="same"
    )
    assert again.n_attempts == 2 and again.p_mastery == pytest.approx(m.p_mastery)  # same source: replaced


@pytest.mark.django_db
def test_an_adjusted_grade_replaces_its_evidence(learning_course, eager_celery, django_capture_on_commit_callbacks):
    from grading.services import grade_review

    lc = learning_course
    alice = lc["alice"].eduplatform_student
    _, grade = graded(lc, lc["alice"], "10", commit=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        grade_review(grade=grade, reviewer=lc["teacher"], action="adjust", score=0)
    m = Mastery.objects.get(student=alice, skill=lc["recursion"])
    assert m.n_attempts == 1 and m.p_mastery == pytest.approx(by_hand(PRIOR, False), abs=1e-9)
    assert SkillAttempt.objects.get(student=alice).source == f"submission:{grade.submission_id}"


@pytest.mark.django_db
def test_unreleased_unreviewed_ai_grades_do_not_count(learning_course, eager_celery):
    lc = learning_course
    _, grade = graded(lc, lc["alice"], "10", released=False)
    assert services.mastery_update_from_grade(grade_id=grade.pk) == []
    assert not Mastery.objects.exists()


@pytest.mark.django_db
def test_answered_statements_update_mastery(learning_course, api_for, eager_celery, django_capture_on_commit_callbacks):
    from eduplatform.core.xapi import COURSE_EXT
    from recommendations.xapi import SKILLS_EXT

    lc = learning_course
    alice = lc["alice"].eduplatform_student
    base = {
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "context": {"extensions": {COURSE_EXT: lc["course"].pk}},
    }
    statements = [
        {
            **base,
            "id": str(uuid.uuid4()),
            "object": {"id": f"assignment:{lc['assignment'].pk}"},
            "result": {"success": True},
        },
        {
            **base,
            "id": str(uuid.uuid4()),
            "object": {"id": "https://example.edu/quiz/7"},
            "result": {"success": False},
            "context": {"extensions": {COURSE_EXT: lc["course"].pk, SKILLS_EXT: [lc["functions"].pk]}},
        },
        {**base, "id": str(uuid.uuid4()), "object": {"id": f"assignment:{lc['assignment'].pk}"}},  # no result
    ]
    with django_capture_on_commit_callbacks(execute=True):
        resp = api_for(lc["alice"]).post("/api/v1/events/", statements, format="json")
    assert resp.status_code == 200 and resp.json()["stored"] == 3
    assert Mastery.objects.get(student=alice, skill=lc["recursion"]).p_mastery == pytest.approx(by_hand(PRIOR, True))
    assert Mastery.objects.get(student=alice, skill=lc["functions"]).p_mastery == pytest.approx(by_hand(PRIOR, False))
    assert SkillAttempt.objects.filter(student=alice).count() == 2


@pytest.mark.django_db
def test_a_mastery_change_recomputes_the_learning_path(
    learning_course, eager_celery, django_capture_on_commit_callbacks
):
    from recommendations.paths.selectors import current_path
    from tests.recommendations.conftest import set_mastery

    lc = learning_course
    alice = lc["alice"].eduplatform_student
    set_mastery(alice, lc["functions"], 0.97)
    path = learning_path_recompute(student=alice, course=lc["course"])
    assert {s.skill_id for s in path.steps.all()} == {lc["recursion"].pk}
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(4):  # 0.30 -> 0.68 -> 0.90 -> 0.96 -> ...: mastered after three correct answers
            services.mastery_update_from_attempt(
                student=alice, assignment=lc["assignment"], correct=True, source=f"quiz:{i}"
            )
    assert Mastery.objects.get(student=alice, skill=lc["recursion"]).p_mastery >= 0.95
    new = current_path(student_id=alice.pk, course_id=lc["course"].pk)
    assert new.pk != path.pk
    assert {s.skill_id for s in new.steps.all()} == {lc["trees"].pk}


def _synthetic_history(lc, n_students=30, n_attempts=12, seed=0):
    """Students whose chance of a correct answer grows with practice, on two skills."""
    from django.contrib.auth import get_user_model

    from eduplatform.core.models import Student

    rng = np.random.default_rng(seed)
    users = get_user_model().objects.bulk_create([get_user_model()(username=f"kt{i}") for i in range(n_students)])
    students = Student.objects.bulk_create([Student(user=u) for u in users])
    start = timezone.now() - timedelta(days=30)
    rows = []
    for st in students:
        skill_a = rng.random() < 0.5
        for t in range(n_attempts):
            skill = lc["recursion"] if (t % 2 == 0) == skill_a else lc["functions"]
            p = 0.2 + 0.6 * t / n_attempts
            rows.append(
                SkillAttempt(
                    student=st,
                    skill=skill,
                    source=f"s{t}",
                    correct=float(rng.random() < p),
                    occurred_at=start + timedelta(hours=t),
                )
            )
    SkillAttempt.objects.bulk_create(rows)
    return students


@pytest.mark.slow
@pytest.mark.django_db
def test_kt_training_serves_the_better_model_on_held_out_students(
    learning_course, tmp_path, settings, eager_celery, django_capture_on_commit_callbacks
):
    lc = learning_course
    settings.EDUPLATFORM_KT_MIN_STUDENTS = 20
    students = _synthetic_history(lc)
    serving = training.kt_train_and_select(max_epochs=2, time_budget_s=30, folder=tmp_path)
    rows = list(KTModelRecord.objects.order_by("kind"))
    assert [r.kind for r in rows] == ["bkt", "deep"]
    assert KTModelRecord.objects.filter(serving=True).get() == serving
    best = max(rows, key=lambda r: (r.metrics["heldout_auc"], r.kind == "bkt"))
    assert serving.pk == best.pk
    for r in rows:
        assert {"heldout_auc", "heldout_acc", "heldout_students", "train_s"} <= set(r.metrics)
    # every student's mastery was recomputed with the serving model
    m = Mastery.objects.filter(student=students[0]).first()
    assert m is not None
    assert m.model_version in (serving.version, f"bkt-online:{serving.version}")
    # an admin can switch to the other model; mastery follows it
    deep = KTModelRecord.objects.get(kind="deep")
    with django_capture_on_commit_callbacks(execute=True):
        services.kt_model_serve(record=deep)
    versions = set(Mastery.objects.filter(student__in=students).values_list("model_version", flat=True))
    assert versions == {deep.version}
    assert all(0 <= p <= 1 for p in Mastery.objects.values_list("p_mastery", flat=True))


@pytest.mark.django_db
def test_kt_training_waits_for_enough_history(learning_course, settings):
    settings.EDUPLATFORM_KT_MIN_STUDENTS = 20
    _synthetic_history(learning_course, n_students=5)
    assert training.kt_train_and_select() is None
    assert not KTModelRecord.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db
def test_with_a_deep_model_serving_the_web_writes_bkt_and_a_worker_the_deep_estimate(
    learning_course, tmp_path, eager_celery, django_capture_on_commit_callbacks
):
    """The web process never loads torch: it writes the BKT estimate at once and wakes
    ``recommendations.refresh_mastery``, whose worker replaces it with the deep model's."""
    from multimodal.knowledge_tracing.deep import DeepKTConfig, DeepKTModel

    lc = learning_course
    _synthetic_history(lc, n_students=10, n_attempts=6)
    seqs, _ = training.kt_training_sequences()
    model = DeepKTModel(DeepKTConfig(emb_dim=8, hidden=8, max_epochs=1, refit=False), device="cpu").fit(seqs)
    path = model.save(tmp_path / "dkt")
    deep = KTModelRecord.objects.create(name="dkt", kind="deep", version=model.version, path=str(path), serving=True)
    alice = lc["alice"].eduplatform_student
    with django_capture_on_commit_callbacks(execute=True):
        [m] = services.mastery_update_from_attempt(student=alice, assignment=lc["assignment"], correct=True)
        assert m.model_version == "bkt-online:default"  # at once, from the web side
    m.refresh_from_db()
    assert m.model_version == deep.version and 0 <= m.p_mastery <= 1  # then from the worker
