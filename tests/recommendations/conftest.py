"""Fixtures for the learner model and learning paths: a small skill graph with resources."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.fixture
def fast_passwords(settings):
    """The factories set passwords; PBKDF2 would dominate these tests' run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def learning_course(course_setup, fast_passwords):
    """Functions -> Recursion -> Trees (each needs the one before), the fixture's
    assignment tagged with Recursion, and resources of several kinds."""
    from django.utils import timezone

    from recommendations.mastery import services
    from recommendations.models import LearningResource, Skill

    course = course_setup["course"]
    functions = Skill.objects.create(course=course, name="Functions")
    recursion = Skill.objects.create(course=course, name="Recursion")
    trees = Skill.objects.create(course=course, name="Trees")
    services.skill_prerequisite_add(skill=recursion, prerequisite=functions)
    services.skill_prerequisite_add(skill=trees, prerequisite=recursion)
    assignment = course_setup["assignment"]
    assignment.due_at = timezone.now() + timedelta(days=3)
    assignment.save(update_fields=["due_at"])
    services.assignment_skill_tag(assignment=assignment, skill=recursion)

    def resource(title, kind, skill, difficulty=0.4, **kw):
        r = LearningResource.objects.create(course=course, title=title, kind=kind, difficulty=difficulty, **kw)
        r.skills.add(skill)
        return r

    res = {
        "functions_text": resource("Functions explained", "text", functions),
        "recursion_video": resource("Recursion in 10 minutes", "video", recursion),
        "recursion_text": resource("Recursion: a reading", "text", recursion),
        "recursion_exercise": resource("Recursion drills", "exercise", recursion, difficulty=0.6),
        "trees_video": resource("Binary trees", "video", trees),
    }
    return {**course_setup, "functions": functions, "recursion": recursion, "trees": trees, "resources": res}


def set_mastery(student, skill, p: float):
    from recommendations.models import Mastery

    Mastery.objects.update_or_create(
        student=student, skill=skill, defaults={"p_mastery": p, "n_attempts": 1, "model_version": "test"}
    )


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(settings, tmp_path):
    """Trained models (risk estimators, KT models) go to a per-test folder, not var/."""
    settings.EDUPLATFORM_ARTIFACT_DIR = str(tmp_path / "artifacts")
