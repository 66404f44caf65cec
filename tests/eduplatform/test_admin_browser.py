"""Browser smoke test: Debian Chromium driven by Playwright logs into the admin and opens a submission."""

from __future__ import annotations

import os
import shutil

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian chromium not installed (make browser-deps)")
@pytest.mark.django_db(transaction=True)
def test_admin_login_and_submission_page(live_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from django.contrib.auth import get_user_model
    from playwright.sync_api import sync_playwright

    from eduplatform.core import services
    from tests.factories import AssignmentFactory, CourseFactory, UserFactory

    get_user_model().objects.create_superuser("root", "root@example.edu", "s3cret-pass")
    course = CourseFactory(title="Browser course")
    alice = UserFactory(username="alice")
    services.enrollment_create(user=alice, course=course)
    assignment = AssignmentFactory(course=course, title="Stacks")
    from eduplatform.core.models import Submission

    sub = Submission.objects.create(assignment=assignment, student=alice.eduplatform_student, text="A stack is LIFO.")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "root")
        page.fill("#id_password", "s3cret-pass")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        page.goto(f"{live_server.url}/admin/eduplatform_core/submission/{sub.pk}/change/")
        shot = tmp_path / "submission.png"
        page.screenshot(path=str(shot), full_page=True)
        content = page.content()
        browser.close()
    assert "A stack is LIFO." in content and "Pending" in content
    assert shot.stat().st_size > 5_000
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
