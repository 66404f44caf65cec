"""Learning paths that lead somewhere (issue 15): on a course built like the demo, a student
always has a next step until they master every skill; steps with a result are evidence;
a skill's prior is the course's to set; every step explains itself in one sentence."""

from __future__ import annotations

import pytest

from recommendations import api
from recommendations.models import LearningPathStep, Mastery, SkillAttempt

PATH = "/api/v1/me/learning-path/"
MASTERY = "/api/v1/me/mastery/"


def step_url(pk: int) -> str:
    return f"/api/v1/learning-path-steps/{pk}/"


@pytest.fixture
def demo_like(course_setup, fast_passwords):
    """The demo's learner model: Arrays -> Stacks -> Queues, the stack assignment tagged
    with Stacks, and the same five resources (one reading for Arrays, three for Stacks, a
    podcast for Queues)."""
    course = course_setup["course"]
    arrays = api.skill_create(course=course, name="Arrays and lists")
    stacks = api.skill_create(course=course, name="Stacks (LIFO)")
    queues = api.skill_create(course=course, name="Queues (FIFO)")
    api.skill_prerequisite_add(skill=stacks, prerequisite=arrays)
    api.skill_prerequisite_add(skill=queues, prerequisite=stacks)
    api.assignment_skill_tag(assignment=course_setup["assignment"], skill=stacks)
    for title, kind, skill, difficulty in (
        ("Video: stacks in 5 minutes", "video", stacks, 0.3),
        ("Reading: push and pop, step by step", "text", stacks, 0.4),
        ("Exercise: balance the brackets with a stack", "exercise", stacks, 0.7),
        ("Podcast: queues around us", "audio", queues, 0.3),
        ("Reading: arrays refresher", "text", arrays, 0.2),
    ):
        api.resource_create(course=course, title=title, kind=kind, difficulty=difficulty, skills=[skill])
    return {**course_setup, "skills": {"arrays": arrays, "stacks": stacks, "queues": queues}}


@pytest.mark.django_db
def test_a_student_always_has_a_next_step_until_every_skill_is_mastered(
    demo_like, api_for, eager_celery, django_capture_on_commit_callbacks
):
    d = demo_like
    client = api_for(d["alice"])
    course = d["course"].pk
    skills = {s.pk for s in d["skills"].values()}
    seen_skills = []
    for _ in range(30):  # 3 skills x (3-4 completions each) with room to spare
        path = client.get(PATH, {"course": course}).json()
        states = {r["skill_id"]: r["state"] for r in client.get(MASTERY, {"course": course}).json()["results"]}
        if all(states[s] == "mastered" for s in skills):
            break
        assert path["steps"], f"dead end with mastery {states}: {path['summary']}"
        step = path["steps"][0]
        seen_skills.append(step["skill"]["name"])
        with django_capture_on_commit_callbacks(execute=True):
            resp = client.post(step_url(step["id"]), {"status": "done", "score": 1.0}, format="json")
        assert resp.status_code == 200, resp.json()
    else:
        pytest.fail(f"not mastered after 30 steps: {states}")
    final = client.get(PATH, {"course": course}).json()
    assert final["steps"] == [] and "mastered every skill" in final["summary"]
    # prerequisites first: Arrays before Stacks before Queues
    order = [seen_skills.index(n) for n in ("Arrays and lists", "Stacks (LIFO)", "Queues (FIFO)")]
    assert order == sorted(order)
    assert SkillAttempt.objects.filter(student__user=d["alice"], source__startswith="step:").count() == len(seen_skills)


@pytest.mark.django_db
def test_a_step_sentence_names_the_skill_and_the_reason(demo_like):
    d = demo_like
    alice = d["alice"].eduplatform_student
    path = api.learning_path_recompute(student=alice, course=d["course"])
    [step] = path.steps.all()  # Arrays is the only skill that can be started
    assert step.skill.name == "Arrays and lists"
    assert step.reason == "Read this on Arrays and lists, because you need it before you can start Stacks (LIFO)."
    assert path.summary == (
        "Working on: Arrays and lists. Unlocked later: Stacks (LIFO) (after Arrays and lists); "
        "Queues (FIFO) (after Stacks (LIFO))."
    )


@pytest.mark.django_db
def test_sentences_for_new_skills_never_give_a_number(demo_like, eager_celery, django_capture_on_commit_callbacks):
    d = demo_like
    alice = d["alice"].eduplatform_student
    for key in ("arrays", "stacks"):  # the course says: they know arrays and stacks already
        api.skill_prior_set(skill=d["skills"][key], prior=0.97)
    path = api.learning_path_recompute(student=alice, course=d["course"])
    [step] = path.steps.all()
    assert step.reason == (
        "Listen to this recording on Queues (FIFO): it is new for you, and you are ready for it now that you "
        "know Stacks (LIFO)."
    )
    mastery = {r.skill: r.state for r in api.student_mastery(student=alice, course=d["course"])}
    assert set(mastery.values()) == {"unknown"}  # a prior is not evidence


@pytest.mark.django_db
def test_only_steps_with_a_result_move_mastery(demo_like, eager_celery, django_capture_on_commit_callbacks):
    d = demo_like
    alice = d["alice"].eduplatform_student
    arrays = d["skills"]["arrays"]
    path = api.learning_path_recompute(student=alice, course=d["course"])
    step = path.steps.get()
    with django_capture_on_commit_callbacks(execute=True):
        api.my_path_step_mark(user=d["alice"], step_id=step.pk, status="done")  # read it, no quiz
    assert not Mastery.objects.filter(student=alice).exists()  # progress only
    [row] = [r for r in api.student_mastery(student=alice, course=d["course"]) if r.skill_id == arrays.pk]
    assert (row.state, row.p_mastery, row.evidence_count) == ("unknown", None, 0)
    # nothing new is left for Arrays: its reading comes back as review, and this time with a quiz result
    review = api.learning_path_for(student=alice, course=d["course"]).steps.get()
    assert review.resource_id == step.resource_id and "again" in review.reason and "nothing new" in review.reason
    with django_capture_on_commit_callbacks(execute=True):
        api.my_path_step_mark(user=d["alice"], step_id=review.pk, status="done", result=0.75)
    m = Mastery.objects.get(student=alice, skill=arrays)
    assert m.n_attempts == 1 and 0.3 < m.p_mastery < 0.95
    [row] = [r for r in api.student_mastery(student=alice, course=d["course"]) if r.skill_id == arrays.pk]
    assert (row.state, row.evidence_count) == ("learning", 1)
    # the same step again with another result replaces its evidence, it does not add to it
    with django_capture_on_commit_callbacks(execute=True):
        api.my_path_step_mark(user=d["alice"], step_id=review.pk, status="done", result=1.0)
    assert SkillAttempt.objects.filter(student=alice, skill=arrays).count() == 1


@pytest.mark.django_db
def test_practice_is_offered_again_until_its_skill_is_mastered(
    demo_like, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.EDUPLATFORM_PATH_MAX_PER_SKILL = 3
    d = demo_like
    alice = d["alice"].eduplatform_student
    api.skill_prior_set(skill=d["skills"]["arrays"], prior=0.97)
    path = api.learning_path_recompute(student=alice, course=d["course"])
    exercise = path.steps.get(resource__kind="exercise")
    with django_capture_on_commit_callbacks(execute=True):
        api.my_path_step_mark(user=d["alice"], step_id=exercise.pk, status="done", result=0.0)
    again = api.learning_path_for(student=alice, course=d["course"]).steps.get(resource_id=exercise.resource_id)
    assert again.pk != exercise.pk and "Do this exercise on Stacks (LIFO) again" in again.reason
    readings = LearningPathStep.objects.filter(path__student=alice, resource__kind="text", status="done")
    assert not readings.exists()  # nothing else was marked


@pytest.mark.django_db
def test_the_course_sets_a_skills_prior(demo_like, api_for, eager_celery, django_capture_on_commit_callbacks):
    from eduplatform.core.api import ApplicationError

    d = demo_like
    stacks = d["skills"]["stacks"]
    alice = d["alice"].eduplatform_student
    with django_capture_on_commit_callbacks(execute=True):
        api.mastery_update_from_attempt(student=alice, assignment=d["assignment"], correct=True, source="quiz:1")
    before = Mastery.objects.get(student=alice, skill=stacks).p_mastery
    with django_capture_on_commit_callbacks(execute=True):
        api.skill_prior_set(skill=stacks, prior=0.6)
    after = Mastery.objects.get(student=alice, skill=stacks).p_mastery
    assert after > before  # the same evidence replayed from a higher starting point
    with pytest.raises(ApplicationError):
        api.skill_prior_set(skill=stacks, prior=1.5)
    with pytest.raises(ApplicationError):
        api.skill_create(course=d["course"], name="Heaps", prior=-0.1)


@pytest.mark.django_db
def test_marking_a_step_over_the_api(demo_like, api_for, eager_celery, django_capture_on_commit_callbacks):
    d = demo_like
    client = api_for(d["alice"])
    path = client.get(PATH, {"course": d["course"].pk}).json()
    step = path["steps"][0]
    assert step["takes_result"] is False  # a reading; exercises take a result
    url = step_url(step["id"])
    assert api_for(d["bob"]).post(url, {"status": "done", "score": 1}, format="json").status_code == 404
    assert client.post(url, {"status": "finished"}, format="json").status_code == 400
    assert client.post(url, {"status": "skipped", "score": 1}, format="json").status_code == 400
    assert client.post(url, {"status": "done", "score": 1.5}, format="json").status_code == 400
    assert client.post(url, {"status": "done", "score": 1, "correct": True}, format="json").status_code == 400
    assert LearningPathStep.objects.get(pk=step["id"]).status == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(url, {"status": "done", "correct": True}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "done"
    rows = {r["skill"]: r for r in client.get(MASTERY, {"course": d["course"].pk}).json()["results"]}
    assert rows["Arrays and lists"]["state"] == "learning" and rows["Arrays and lists"]["evidence_count"] == 1
    assert rows["Stacks (LIFO)"]["state"] == "unknown" and rows["Stacks (LIFO)"]["p_mastery"] is None
