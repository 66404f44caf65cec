"""Fixtures for the workspace: a course graded by the real models, and Debian Chromium driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.lti.conftest import browser, platform, tool  # noqa: F401  (the LMS test peer, for LTI launches)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEMO_AUDIO = Path(__file__).resolve().parents[2] / "eduplatform" / "demo" / "demo_data" / "spoken_answer.flac"
PASSWORD = "pw-12345678"

needs_chromium = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian chromium not installed (make test)")


@pytest.fixture
def chromium(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def login(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def a11y_serious(page) -> list[str]:
    """axe-core (served from the installed axe-playwright-python package) violations rated serious or critical."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def make_users(course, other_course):
    """People as a host LMS creates them: plain users (no superuser, no staff flag), roles from enrolments."""
    from django.contrib.auth import get_user_model

    from eduplatform.core import services

    User = get_user_model()

    def user(username, first, last):
        u = User.objects.create_user(username=username, password=PASSWORD, first_name=first, last_name=last)
        assert not u.is_staff and not u.is_superuser
        return u

    people = {
        "teacher": user("tess", "Tess", "Teacher"),
        "ta_other": user("otto", "Otto", "Other"),
        "ada": user("ada", "Ada", "Lovelace"),
        "ben": user("ben", "Ben", "Okafor"),
        "cleo": user("cleo", "Cleo", "Park"),
    }
    services.enrollment_create(user=people["teacher"], course=course, role="instructor")
    services.enrollment_create(user=people["ta_other"], course=other_course, role="ta")
    for name in ("ada", "ben", "cleo"):
        services.enrollment_create(user=people[name], course=course)
    return people


@pytest.fixture
def graded_course(transactional_db, eager_celery, settings, tmp_path):
    """A course with a typed, a photo and a spoken assignment, answered and graded by the real pipeline."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from eduplatform.core import services
    from grading.authoring import rubric_set

    course = services.course_create(code="BIO-7", title="Biology, year 7")
    other = services.course_create(code="HIS-7", title="History, year 7")
    people = make_users(course, other)
    typed = services.assignment_create(
        course=course,
        title="What is a stack?",
        instructions="Explain what a stack is in one or two sentences.",
        modalities=["text"],
        max_score=5,
        reference_answers=["A stack is a last-in first-out (LIFO) structure; push and pop work at the top."],
        key_points=["last in first out", "push adds to the top", "pop removes from the top"],
    )
    photo = services.assignment_create(
        course=course,
        title="Photo: the water cycle",
        instructions="Write how water moves around and upload a photo.",
        modalities=["image", "text"],
        max_score=5,
        reference_answers=["Water evaporates, condenses into clouds and falls as rain."],
        key_points=["evaporation", "condensation", "precipitation"],
    )
    rubric_set(
        assignment=photo,
        criteria=[
            {
                "name": "Explains the cycle",
                "points": 3,
                "levels": [
                    {"label": "Complete", "points": 3},
                    {"label": "Partial", "points": 2},
                    {"label": "Weak", "points": 1},
                ],
            },
            {
                "name": "Uses the right words",
                "points": 2,
                "levels": [{"label": "Yes", "points": 2}, {"label": "Some", "points": 1}, {"label": "No", "points": 0}],
            },
        ],
    )
    spoken = services.assignment_create(
        course=course,
        title="Explain photosynthesis aloud",
        instructions="Record a short spoken explanation.",
        modalities=["audio"],
        max_score=10,
        reference_answers=["Plants use sunlight, water and carbon dioxide to make glucose and release oxygen."],
    )

    def student(name):
        return services.student_get_or_create(user=people[name])

    subs = {
        "typed_ada": services.submission_create(
            assignment=typed, student=student("ada"), text="A stack is last-in first-out: push and pop at the top."
        ),
        "typed_ben": services.submission_create(
            assignment=typed, student=student("ben"), text="Last in, first out. You push on top and pop from the top."
        ),
        "typed_cleo": services.submission_create(
            assignment=typed, student=student("cleo"), text="A kind of queue where the first in is the first out."
        ),
        "photo_ada": services.submission_create(
            assignment=photo,
            student=student("ada"),
            files=[SimpleUploadedFile("page.png", (FIXTURES / "ocr_handwriting_style.png").read_bytes())],
        ),
        "spoken_ben": services.submission_create(
            assignment=spoken,
            student=student("ben"),
            files=[SimpleUploadedFile("answer.flac", DEMO_AUDIO.read_bytes())],
        ),
    }
    return {
        "course": course,
        "other": other,
        "people": people,
        "typed": typed,
        "photo": photo,
        "spoken": spoken,
        "subs": subs,
    }


def wait_js(page, expression: str, timeout: float = 20.0):
    """Poll a JavaScript expression until it is truthy (page.wait_for_function needs 'unsafe-eval', which our
    Content-Security-Policy rightly forbids; page.evaluate runs through the DevTools protocol)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{expression!r} stayed falsy for {timeout} s")
