"""An instructor arrives from the LMS (the lti1p3platform test peer) and reviews in the workspace, in Chromium.

The LMS user has no password and is not staff: the LTI launch logs them in and opens
the workspace's queue for the linked assignment; they review a photo answer and a
spoken answer (the photo and the recording load with 200), set a score with the
keyboard, move to the next answer and release.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.lti.platform import INSTRUCTOR, LEARNER, Scenario
from tests.lti.test_launch import place_assignment
from tests.workspace.conftest import DEMO_AUDIO, FIXTURES, needs_chromium, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium, pytest.mark.django_db(transaction=True)]


def _student_submits(lms, browser_cls, user_id, link, **files):
    """A learner launches from the LMS (which enrols them), then their answer is stored."""
    from eduplatform.core import services
    from eduplatform.core.models import Assignment, Student

    page = browser_cls().get(
        lms.start_url(
            Scenario(
                user_id=user_id,
                roles=LEARNER,
                resource_link_id=link["resource_link_id"],
                custom=link["custom"],
                lineitem_url=link["lineitem_url"],
                name=f"Student {user_id}",
            )
        )
    )
    assert page.status_code == 200, page.text
    student = Student.objects.get(user__lti_users__sub=user_id)
    assignment = Assignment.objects.get(pk=int(link["custom"]["eduplatform_assignment_id"]))
    return services.submission_create(
        assignment=assignment, student=student, files=[SimpleUploadedFile(n, d) for n, d in files.items()]
    )


def test_lti_instructor_reviews_photo_and_spoken_answers(tool, platform, browser, chromium, eager_celery, tmp_path):
    from eduplatform.core.models import Assignment
    from grading.models import Grade

    place_assignment(platform, browser, title="Show your work")
    assignment = Assignment.objects.get(title="Show your work")
    assignment.accepts_image = assignment.accepts_audio = True
    assignment.reference_answers = ["Water evaporates, condenses into clouds and falls back as rain."]
    assignment.save()
    [link] = platform.placed_links
    photo = _student_submits(
        platform,
        type(browser),
        "student-1",
        link,
        **{"page.png": (FIXTURES / "ocr_handwriting_style.png").read_bytes()},
    )
    spoken = _student_submits(platform, type(browser), "student-2", link, **{"answer.flac": DEMO_AUDIO.read_bytes()})
    grades = {s.pk: Grade.objects.get(submission=s, is_current=True) for s in (photo, spoken)}
    assert all(g.review_state == "pending" for g in grades.values())  # zero-shot: waits for a person

    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    media = {}
    page.on("response", lambda r: media.__setitem__(r.url, r.status) if "/workspace/files/" in r.url else None)
    # the instructor clicks the link in the LMS: OIDC login -> launch -> the workspace queue, logged in
    page.goto(
        platform.start_url(
            Scenario(
                user_id="teacher-1",
                roles=INSTRUCTOR,
                resource_link_id=link["resource_link_id"],
                custom=link["custom"],
                lineitem_url=link["lineitem_url"],
                name="Tina Teacher",
            )
        )
    )
    page.wait_for_url(f"**/workspace/assignments/{assignment.pk}/")
    assert "Waiting for review" in page.content()
    page.screenshot(path=str(tmp_path / "lti_queue.png"), full_page=True)

    with page.expect_navigation():
        page.click("text=Review next")
    first = int(page.url.rstrip("/").rsplit("/", 1)[1])
    for _ in range(2):
        grade = Grade.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
        if grade.submission.files.get().kind == "image":
            wait_js(page, "document.querySelector('.photo-frame img').naturalWidth > 0")
        else:
            wait_js(page, "document.querySelector('audio').readyState >= 1")
        page.screenshot(path=str(tmp_path / f"lti_review_{grade.pk}.png"), full_page=True)
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("3")  # the score, typed
        with page.expect_navigation():
            page.keyboard.press("Enter")  # save and go to the next answer waiting for review
    for g in grades.values():
        g.refresh_from_db()
        assert g.final_score == Decimal("3.00") and g.review_state == "adjusted" and g.released_at is None
    # release both from the queue (bulk release reviews the rules: both were reviewed by a person)
    page.goto(f"{tool.url}/workspace/assignments/{assignment.pk}/")
    with page.expect_navigation():
        page.click("text=Release selected (or all) that may be released")
    assert "2 grades released" in page.content()
    assert all(g.released_at for g in Grade.objects.filter(pk__in=[g.pk for g in grades.values()]))
    assert first in [g.pk for g in grades.values()]
    assert len(media) == 2 and set(media.values()) == {200}, media  # the photo and the recording
    assert [s["scoreGiven"] for s in platform.scores] == [3.0, 3.0]  # and the LMS gradebook got both
