"""A teacher works the review queue in Chromium, as a person would (Playwright + Debian Chromium, live server).

The teacher is a plain user with an instructor enrolment (no superuser, no staff flag):
queue -> photo answer (the photo loads, OCR lines drawn) -> score typed on the keyboard ->
next -> spoken answer (the recording loads, transcript with timings) -> release; answer
groups; gradebook. A TA of another course gets 404, a student of the course 403.
Screenshots go to the test's tmp directory; axe-core checks the queue and the review screen.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.workspace.conftest import a11y_serious, login, needs_chromium, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]


def _current(sub):
    from grading.models import Grade

    return Grade.objects.get(submission=sub, is_current=True)


def test_teacher_reviews_photo_and_spoken_answers_with_the_keyboard(live_server, graded_course, chromium, tmp_path):
    base = live_server.url
    c = graded_course
    photo_grade, spoken_grade = _current(c["subs"]["photo_ada"]), _current(c["subs"]["spoken_ben"])
    assert photo_grade.released_at is None and spoken_grade.released_at is None

    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    media = {}
    page.on("response", lambda r: media.__setitem__(r.url, r.status) if "/workspace/files/" in r.url else None)
    login(page, base, "tess")
    assert page.url.endswith(f"/workspace/courses/{c['course'].pk}/")  # one course: straight to it
    page.screenshot(path=str(tmp_path / "course.png"), full_page=True)

    # the queue of the photo assignment
    page.click("text=Photo: the water cycle")
    assert "Waiting for review" in page.content()
    page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
    assert a11y_serious(page) == []

    # the review screen: question, key points, rubric; the photo with the recognised text and boxes
    page.click("text=Ada Lovelace")
    page.wait_for_selector(".photo-frame img")
    wait_js(page, "document.querySelector('.photo-frame img').naturalWidth > 0")
    assert page.locator("svg.ocr-boxes polygon").count() >= 1  # recognised lines drawn over the photo
    body = page.content()
    assert "Write how water moves around" in body and "evaporation" in body and "Explains the cycle" in body
    assert re.search(r"/ 5\b", page.inner_text(".big-score"))  # score with its maximum
    assert "Keyboard shortcuts" in body
    page.screenshot(path=str(tmp_path / "review_photo.png"), full_page=True)
    assert a11y_serious(page) == []

    # keyboard: a rubric level with a digit on the focused row, then type a score and Enter (saves, goes next)
    page.focus(".rubric-row[data-criterion='1'] input[type=radio]")
    page.keyboard.press("2")  # level 2 of row 1: "Partial", 2 points
    assert page.input_value("#id_score") == "2"
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("4")  # a digit anywhere types the score
    assert page.input_value("#id_score") == "4"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    photo_grade.refresh_from_db()
    assert photo_grade.final_score == Decimal("4.00") and photo_grade.review_state == "adjusted"
    assert photo_grade.released_at is None  # saving never releases
    assert photo_grade.final_criteria == [{"name": "Explains the cycle", "level": "Partial", "points": 2.0}]
    assert "Nothing else is waiting" in page.content()

    # release it from the review screen with "r"
    page.goto(f"{base}/workspace/grades/{photo_grade.pk}/")
    with page.expect_navigation():
        page.keyboard.press("r")
    photo_grade.refresh_from_db()
    assert photo_grade.released_at is not None

    # the spoken answer: the recording loads and plays from a transcript word
    page.goto(f"{base}/workspace/assignments/{c['spoken'].pk}/")
    page.click("text=Ben Okafor")
    page.wait_for_selector("audio")
    wait_js(page, "document.querySelector('audio').readyState >= 1")
    assert page.evaluate("document.querySelector('audio').duration") > 1
    assert page.locator(".transcript .word").count() >= 5
    page.screenshot(path=str(tmp_path / "review_audio.png"), full_page=True)
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("8")  # focuses the score field with "8"
    page.keyboard.type(".5")
    assert page.input_value("#id_score") == "8.5"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    spoken_grade.refresh_from_db()
    assert spoken_grade.final_score == Decimal("8.50") and spoken_grade.released_at is None
    page.goto(f"{base}/workspace/grades/{spoken_grade.pk}/")
    with page.expect_navigation():
        page.click("#release-btn")
    spoken_grade.refresh_from_db()
    assert spoken_grade.released_at is not None

    # the photo and the recording were served to the teacher (200), never from a public URL
    assert media and all(status == 200 for status in media.values()), media
    assert any("files" in u for u in media)

    # an out-of-range score is a form error with the range in words, not a 500
    page.goto(f"{base}/workspace/grades/{spoken_grade.pk}/")
    page.fill("#id_score", "42")
    with page.expect_navigation():
        page.click("#save-btn")
    assert "from 0 to 10" in page.inner_text(".field-error")

    # answer groups of the typed assignment: build, look at every member, screenshot
    page.goto(f"{base}/workspace/assignments/{c['typed'].pk}/groups/")
    with page.expect_navigation():
        page.click("text=Group the answers again")
    page.goto(f"{base}/workspace/assignments/{c['typed'].pk}/groups/")
    assert page.locator("section.group").count() >= 1
    assert "Ada Lovelace" in page.content() and "A kind of queue" in page.content()  # every member's answer shown
    page.screenshot(path=str(tmp_path / "groups.png"), full_page=True)

    # the gradebook, and its CSV export
    page.goto(f"{base}/workspace/courses/{c['course'].pk}/gradebook/")
    assert "Ben Okafor" in page.content()
    page.screenshot(path=str(tmp_path / "gradebook.png"), full_page=True)
    csv_resp = page.request.get(f"{base}/workspace/courses/{c['course'].pk}/gradebook/?format=csv")
    assert csv_resp.status == 200 and "Ada Lovelace" in csv_resp.text() and "8.5" in csv_resp.text()

    for name in ("queue", "review_photo", "review_audio", "groups", "gradebook"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_other_course_staff_get_404_and_students_403(live_server, graded_course, chromium):
    base = live_server.url
    c = graded_course
    grade = _current(c["subs"]["photo_ada"])
    urls = [
        f"/workspace/courses/{c['course'].pk}/",
        f"/workspace/assignments/{c['photo'].pk}/",
        f"/workspace/grades/{grade.pk}/",
        f"/workspace/courses/{c['course'].pk}/gradebook/",
        f"/workspace/assignments/{c['typed'].pk}/groups/",
    ]
    ta = chromium.new_page()
    login(ta, base, "otto")
    for url in urls:
        assert ta.goto(base + url).status == 404, url
    student = chromium.new_page()
    login(student, base, "ada")
    assert student.url.endswith("/workspace/me/")  # a student lands on their own work
    for url in urls:
        assert student.goto(base + url).status == 403, url
    anonymous = chromium.new_page()
    anonymous.goto(base + urls[2])
    assert "/accounts/login/" in anonymous.url
