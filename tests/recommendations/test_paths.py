"""The recommender: prerequisites, modality preference, mastery, pins, feedback, determinism."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from recommendations.mastery.rules import find_cycle
from recommendations.paths import rules as paths
from recommendations.paths.rules import ModalityActivity, ResourceInfo, SkillInfo
from tests.recommendations.conftest import set_mastery

NOW = datetime(2025, 3, 10, 9, 0)  # a Monday

SKILLS = [SkillInfo(1, "Functions"), SkillInfo(2, "Recursion", (1,)), SkillInfo(3, "Trees", (2,))]
RESOURCES = [
    ResourceInfo(10, "Functions explained", "text", {1: 1.0}, 0.5),
    ResourceInfo(20, "Recursion video", "video", {2: 1.0}, 0.5),
    ResourceInfo(21, "Recursion reading", "text", {2: 1.0}, 0.5),
    ResourceInfo(22, "Recursion drills", "exercise", {2: 1.0}, 0.9),
    ResourceInfo(30, "Trees video", "video", {3: 1.0}, 0.5),
]


def plan(**kw):
    args = {"skills": SKILLS, "mastery": {1: 0.97, 2: 0.4, 3: 0.1}, "resources": RESOURCES, "now": NOW}
    args.update(kw)
    return paths.recommend(**args)


def resource_ids(p) -> list[int]:
    return [s.resource_id for s in p.steps]


# ------------------------------------------------------------------ pure recommender


def test_prerequisites_respected():
    p = plan(mastery={1: 0.5, 2: 0.1, 3: 0.0})
    assert resource_ids(p) == [10]  # only Functions: Recursion needs it, Trees needs Recursion
    assert p.blocked == {2: [1], 3: [2]}
    assert "Recursion (after Functions)" in p.summary
    p = plan(mastery={1: 0.96, 2: 0.1, 3: 0.0})
    assert {s.skill_id for s in p.steps} == {2}  # Functions mastered: Recursion unlocked, Trees still waits
    assert p.blocked == {3: [2]}
    # the reason names the skill and what it opens
    assert p.steps[0].reason == "Watch this video on Recursion, because you need it before you can start Trees."


def test_modality_preference_changes_the_ranking():
    video_fan = paths.modality_preference({"video": ModalityActivity(completions=5, minutes=50)})
    reader = paths.modality_preference(
        {"text": ModalityActivity(completions=5, minutes=50), "video": ModalityActivity(skips=3)}
    )
    assert video_fan["video"] > 1 > video_fan["text"] and reader["text"] > 1 > reader["video"]
    a, b = plan(preference=video_fan), plan(preference=reader)
    assert resource_ids(a)[0] == 20 and "you learn well from videos" in a.steps[0].reason
    assert resource_ids(b)[0] == 21 and "you learn well from reading" in b.steps[0].reason
    neutral = paths.modality_preference({})
    assert set(neutral.values()) == {1.0}


def test_a_mastered_skill_leaves_the_path():
    before = plan(mastery={1: 0.97, 2: 0.6, 3: 0.0})
    assert {s.skill_id for s in before.steps} == {2}
    after = plan(mastery={1: 0.97, 2: 0.96, 3: 0.0})
    assert 2 not in {s.skill_id for s in after.steps}
    assert {s.skill_id for s in after.steps} == {3}  # mastering Recursion unlocks Trees
    done = plan(mastery={1: 0.99, 2: 0.99, 3: 0.99})
    assert done.steps == [] and "mastered every skill" in done.summary


def test_pins_come_first_and_excluded_never_appear():
    p = plan(pinned=[30, 10], excluded={20})
    ids = resource_ids(p)
    assert ids[:2] == [30, 10] and 20 not in ids
    assert all(s.pinned for s in p.steps[:2]) and "your teacher picked it for you" in p.steps[0].reason
    # a pin the student already did is not repeated; an excluded pin is not shown
    assert resource_ids(plan(pinned=[30], done={30}))[0] != 30
    assert 30 not in resource_ids(plan(pinned=[30], excluded={30}))


def test_skipped_resources_drop_and_done_ones_are_not_offered_again():
    base = resource_ids(plan())
    skipped = plan(skipped={base[0]: 1})
    assert resource_ids(skipped)[0] != base[0]
    step = next(s for s in skipped.steps if s.resource_id == base[0])
    assert "you skipped it once before" in step.reason
    assert base[0] not in resource_ids(plan(done={base[0]}))


def test_due_dates_raise_urgency_and_are_explained():
    due = [
        ResourceInfo(
            21, "Recursion reading", "text", {2: 1.0}, 0.5, due_at=NOW + timedelta(days=4), due_title="Recursion lab"
        ),
        ResourceInfo(20, "Recursion video", "video", {2: 1.0}, 0.5),
    ]
    p = plan(resources=due)
    assert resource_ids(p)[0] == 21
    assert p.steps[0].reason == "Read this on Recursion, because 'Recursion lab' is due on Friday."
    assert paths.urgency(NOW - timedelta(hours=1), NOW) == 0 and paths.urgency(None, NOW) == 0
    assert paths.urgency(NOW + timedelta(hours=5), NOW) == 1


def test_difficulty_near_current_mastery_ranks_higher():
    res = [ResourceInfo(1, "easy", "text", {2: 1.0}, 0.45), ResourceInfo(2, "hard", "text", {2: 1.0}, 0.95)]
    p = plan(resources=res)
    assert resource_ids(p) == [1, 2]
    assert p.steps[0].factors["fit"] > p.steps[1].factors["fit"]
    assert p.steps[0].expected_gain > p.steps[1].expected_gain


def test_the_same_inputs_give_the_same_path_in_any_order():
    first = plan(preference=paths.modality_preference({"video": ModalityActivity(completions=1)}))
    shuffled = RESOURCES[:]
    random.Random(3).shuffle(shuffled)
    again = plan(
        resources=shuffled,
        skills=list(reversed(SKILLS)),
        preference=paths.modality_preference({"video": ModalityActivity(completions=1)}),
    )
    assert first.signature() == again.signature()


def test_path_length_and_resources_per_skill_are_capped():
    many = [ResourceInfo(100 + i, f"r{i}", "text", {2: 1.0}, 0.5) for i in range(10)]
    p = plan(resources=many, max_steps=8, max_per_skill=3)
    assert len(p.steps) == 3 and [s.position for s in p.steps] == [1, 2, 3]


def test_find_cycle():
    assert find_cycle([(1, 2), (2, 3)]) is None
    assert find_cycle([(1, 2), (2, 3), (3, 1)]) == [1, 2, 3, 1]


# ------------------------------------------------------------------ through the database


@pytest.mark.django_db
def test_prerequisite_cycles_and_self_loops_are_refused(learning_course):
    from eduplatform.core.errors import ApplicationError
    from recommendations.mastery import services
    from recommendations.models import Skill

    lc = learning_course
    with pytest.raises(ApplicationError, match="cycle: Functions needs Trees needs Recursion needs Functions"):
        services.skill_prerequisite_add(skill=lc["functions"], prerequisite=lc["trees"])
    with pytest.raises(ApplicationError, match="own prerequisite"):
        services.skill_prerequisite_add(skill=lc["trees"], prerequisite=lc["trees"])
    elsewhere = Skill.objects.create(course=lc["other_course"], name="Elsewhere")
    with pytest.raises(ApplicationError, match="same course"):
        services.skill_prerequisite_add(skill=lc["trees"], prerequisite=elsewhere)


@pytest.mark.django_db
def test_recompute_writes_a_current_path_with_explanations(learning_course):
    from recommendations.models import LearningPath
    from recommendations.paths import services

    lc = learning_course
    alice = lc["alice"].eduplatform_student
    set_mastery(alice, lc["functions"], 0.97)
    path = services.learning_path_recompute(student=alice, course=lc["course"])
    steps = list(path.steps.order_by("position"))
    assert path.is_current and steps and {s.skill_id for s in steps} == {lc["recursion"].pk}
    assert all("on Recursion" in s.reason for s in steps)
    assert any("is due" in s.reason for s in steps)  # the Recursion assignment is due in 3 days
    assert path.model_version.startswith("paths-v2/")
    # nothing changed: the same path stays current, no new row
    assert services.learning_path_recompute(student=alice, course=lc["course"]).pk == path.pk
    # mastering Recursion takes it off the path and brings Trees in
    set_mastery(alice, lc["recursion"], 0.97)
    new = services.learning_path_recompute(student=alice, course=lc["course"])
    assert new.pk != path.pk
    assert {s.skill_id for s in new.steps.all()} == {lc["trees"].pk}
    assert LearningPath.objects.filter(student=alice, course=lc["course"], is_current=True).get().pk == new.pk


@pytest.mark.django_db
def test_pins_and_excludes_honoured_with_student_overrides(
    learning_course, eager_celery, django_capture_on_commit_callbacks
):
    from recommendations.paths import services
    from recommendations.resources.services import resource_pin_set

    lc = learning_course
    alice, bob = lc["alice"].eduplatform_student, lc["bob"].eduplatform_student
    r = lc["resources"]
    for st in (alice, bob):
        set_mastery(st, lc["functions"], 0.97)
    with django_capture_on_commit_callbacks(execute=True):
        resource_pin_set(resource=r["trees_video"], action="pin", user=lc["teacher"])
        resource_pin_set(resource=r["recursion_video"], action="exclude", user=lc["teacher"])
        # Bob's own choice overrides the course-wide one
        resource_pin_set(resource=r["recursion_video"], action="pin", student=bob, user=lc["teacher"])
    ids = {}
    for st in (alice, bob):
        path = services.learning_path_recompute(student=st, course=lc["course"])
        ids[st.pk] = [s.resource_id for s in path.steps.order_by("position")]
    assert ids[alice.pk][0] == r["trees_video"].pk and r["recursion_video"].pk not in ids[alice.pk]
    assert ids[bob.pk][:2] in (
        [r["trees_video"].pk, r["recursion_video"].pk],
        [r["recursion_video"].pk, r["trees_video"].pk],
    )


@pytest.mark.django_db
def test_step_feedback_moves_the_modality_preference(learning_course, eager_celery, django_capture_on_commit_callbacks):
    from eduplatform.core.models import LearningEvent
    from recommendations.paths import selectors, services

    lc = learning_course
    alice = lc["alice"].eduplatform_student
    set_mastery(alice, lc["functions"], 0.97)
    path = services.learning_path_recompute(student=alice, course=lc["course"])
    before = selectors.path_inputs(student=alice, course=lc["course"], now=path.computed_at)["preference"]
    video = path.steps.get(resource__kind="video")
    text = path.steps.filter(resource__kind="text").first() or path.steps.exclude(pk=video.pk).first()
    with django_capture_on_commit_callbacks(execute=True):
        services.path_step_mark(step=video, status="done")
        services.path_step_mark(step=text, status="skip")
        services.path_step_mark(step=video, status="done")  # idempotent
    after = selectors.path_inputs(student=alice, course=lc["course"], now=path.computed_at)["preference"]
    assert after["video"] > before["video"]
    assert after[text.resource.kind] < before[text.resource.kind]
    assert LearningEvent.objects.filter(student=alice, object_id=f"resource:{video.resource_id}").count() == 1
    current = selectors.current_path(student_id=alice.pk, course_id=lc["course"].pk)
    assert current.pk != path.pk  # recomputed after the feedback
    assert video.resource_id not in [s.resource_id for s in current.steps.all()]


@pytest.mark.django_db
def test_completed_statements_count_as_done(learning_course):
    from eduplatform.core.services import event_record
    from recommendations.paths import selectors
    from recommendations.xapi import iso_duration_minutes

    lc = learning_course
    alice = lc["alice"].eduplatform_student
    rid = lc["resources"]["recursion_video"].pk
    event_record(
        student=alice,
        course=lc["course"],
        verb="http://adlnet.gov/expapi/verbs/completed",
        object_id=f"resource:{rid}",
        result={"duration": "PT12M"},
    )
    inputs = selectors.path_inputs(student=alice, course=lc["course"], now=timezone.now())
    assert rid in inputs["done"] and inputs["preference"]["video"] > 1
    assert iso_duration_minutes("PT1H4M30S") == 64.5


@pytest.mark.django_db
def test_similar_resources_by_embedding(learning_course):
    from recommendations.models import LearningResource
    from recommendations.resources import selectors

    r = learning_course["resources"]
    vectors = {
        "recursion_video": [1.0, 0.0, 0.0],
        "recursion_text": [0.9, 0.1, 0.0],
        "trees_video": [0.0, 1.0, 0.0],
        "functions_text": [0.5, 0.5, 0.7],
    }
    for key, vec in vectors.items():
        LearningResource.objects.filter(pk=r[key].pk).update(embedding=vec, embedding_model="m1")
    LearningResource.objects.filter(pk=r["recursion_exercise"].pk).update(
        embedding=[1.0, 0.0, 0.0], embedding_model="other-encoder"
    )
    query = LearningResource.objects.get(pk=r["recursion_video"].pk)
    found = selectors.resources_similar(resource=query, k=2)
    assert [x.pk for x, _ in found] == [r["recursion_text"].pk, r["functions_text"].pk]
    assert found[0][1] > found[1][1]
    assert selectors.resources_similar(resource=LearningResource(course=query.course), k=2) == []


@pytest.mark.slow
@pytest.mark.django_db
def test_resource_embeddings_with_the_text_encoder(learning_course):
    from recommendations.models import LearningResource
    from recommendations.resources import embedding as services
    from recommendations.resources import selectors

    lc = learning_course
    r = lc["resources"]
    LearningResource.objects.filter(pk=r["recursion_video"].pk).update(
        transcript="A recursive function calls itself on a smaller input until it reaches a base case."
    )
    LearningResource.objects.filter(pk=r["recursion_text"].pk).update(
        description="Recursion: functions that call themselves, base cases and the call stack."
    )
    LearningResource.objects.filter(pk=r["trees_video"].pk).update(
        description="Binary search trees: insert, delete and balance nodes."
    )
    ids = [r[k].pk for k in ("recursion_video", "recursion_text", "trees_video")]
    assert services.resources_embed(resource_ids=ids) == 3
    assert services.resources_embed(resource_ids=ids) == 0  # unchanged text: not embedded again
    query = LearningResource.objects.get(pk=r["recursion_video"].pk)
    assert len(query.embedding) == 384 and query.embedding_model
    found = selectors.resources_similar(resource=query, k=2)
    assert found[0][0].pk == r["recursion_text"].pk


def test_practice_comes_back_and_done_readings_only_as_review():
    # Recursion's reading and video are done; its drills (practice) are offered again
    p = plan(done={20, 21, 22})
    assert resource_ids(p) == [22] and p.steps[0].again
    assert p.steps[0].reason.startswith("Do this exercise on Recursion again")
    # with no practice left either, a done resource comes back as review: never a dead end
    no_drills = [r for r in RESOURCES if r.id != 22]
    p = plan(resources=no_drills, done={20, 21})
    assert len(p.steps) == 1 and p.steps[0].resource_id in (20, 21) and p.steps[0].again
    assert "nothing new on it right now" in p.steps[0].reason
    # a candidate skill without any resource is named in the summary
    p = plan(resources=[r for r in RESOURCES if 2 not in r.skills])
    assert p.steps == [] and "nothing to learn from yet for Recursion" in p.summary


def test_unknown_skills_are_described_without_a_number():
    p = plan(mastery={1: 0.97, 2: 0.3, 3: 0.0}, unknown={2, 3}, skills=SKILLS[:2])
    assert p.steps and all("%" not in s.reason and "Recursion" in s.reason for s in p.steps)
    assert "you are ready for it now that you know Functions" in p.steps[0].reason
