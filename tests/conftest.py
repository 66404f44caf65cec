"""Shared fixtures: a course with an instructor, two students, an assignment; API clients; media."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import eduplatform.celery  # noqa: E402,F401  (the standalone Celery app, as manage.py and wsgi load it)


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # PBKDF2 costs ~0.6 s a user on this machine; tests need no real password hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def eager_celery():
    """Run tasks inline (the embedded default), whatever the environment says."""
    from eduplatform.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = old


@pytest.fixture
def course_setup(db):
    from eduplatform.core import services
    from eduplatform.core.models import Enrollment
    from tests.factories import AssignmentFactory, CourseFactory, UserFactory

    course = CourseFactory()
    other_course = CourseFactory()
    teacher = UserFactory(username="teacher")
    other_teacher = UserFactory(username="other_teacher")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    services.enrollment_create(user=teacher, course=course, role=Enrollment.Role.INSTRUCTOR)
    services.enrollment_create(user=other_teacher, course=other_course, role=Enrollment.Role.INSTRUCTOR)
    services.enrollment_create(user=alice, course=course)
    services.enrollment_create(user=bob, course=course)
    assignment = AssignmentFactory(course=course)
    other_assignment = AssignmentFactory(course=other_course)
    return {
        "course": course,
        "other_course": other_course,
        "teacher": teacher,
        "other_teacher": other_teacher,
        "alice": alice,
        "bob": bob,
        "assignment": assignment,
        "other_assignment": other_assignment,
    }


@pytest.fixture
def api_for():
    from rest_framework.test import APIClient

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def make_png(text: str = "", size=(200, 80)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).text((10, 30), text or "x = 42", fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def make_wav(seconds: float = 1.0, sr: int = 16000) -> bytes:
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


@pytest.fixture
def png_bytes():
    return make_png()


@pytest.fixture
def wav_bytes():
    return make_wav()
