"""A student on a phone-sized window: their grade and feedback, what the machine read from their photo,
a re-check request that lands in the teacher's queue, and a learning path they can follow (Chromium)."""

from __future__ import annotations

import pytest

from tests.workspace.conftest import a11y_serious, login, needs_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]

PHONE = {"width": 390, "height": 844}


def test_student_reads_feedback_contests_a_misread_and_follows_the_path(live_server, graded_course, chromium, tmp_path):
    from grading import api as grading
    from recommendations import api as recs

    c = graded_course
    teacher = c["people"]["teacher"]
    photo_sub = c["subs"]["photo_ada"]
    grade = grading.current_grade_for(photo_sub.pk)
    grading.grade_review(
        grade=grade,
        reviewer=teacher,
        action="override",
        score="3.5",
        release=True,
        comment="Good start: name the three stages.",
    )
    unreleased = grading.current_grade_for(c["subs"]["typed_ada"].pk)
    cycle = recs.skill_create(course=c["course"], name="The water cycle")
    words = recs.skill_create(course=c["course"], name="Science words")
    recs.skill_prerequisite_add(skill=words, prerequisite=cycle)
    recs.assignment_skill_tag(assignment=c["photo"], skill=cycle)
    for title, kind, skill in (
        ("Video: where rain comes from", "video", cycle),
        ("Exercise: label the water cycle", "exercise", cycle),
        ("Reading: evaporation and condensation", "text", words),
    ):
        recs.resource_create(course=c["course"], title=title, kind=kind, skills=[skill])

    page = chromium.new_page(viewport=PHONE, is_mobile=True)
    login(page, live_server.url, "ada")
    assert page.url.endswith("/workspace/me/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    body = page.content()
    assert "Photo: the water cycle" in body and "Grade: 3.5 / 5" in body
    assert "What is a stack?" in body and "Waiting for your teacher" in body  # not released: no score shown
    assert str(unreleased.score) not in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "student_home.png"), full_page=True)
    assert a11y_serious(page) == []

    with page.expect_navigation():
        page.click("text=Photo: the water cycle")
    text = page.inner_text("main")
    assert "Your grade: 3.5" in text and "Good start: name the three stages." in text
    assert "What we read" in text and "Photosynthesis turns light energy" in text  # the OCR text, to contest
    page.screenshot(path=str(tmp_path / "student_submission.png"), full_page=True)
    assert a11y_serious(page) == []
    page.fill("#reason", "The photo says evaporation in the second line, it was misread.")
    with page.expect_navigation():
        page.click("text=Ask for a re-check")
    assert "Your teacher will look at this answer again." in page.content()
    grade.refresh_from_db()
    assert grade.review_state == "pending" and grade.released_at is not None  # still visible, back in the queue
    rows = grading.assignment_queue(user=teacher, assignment_id=c["photo"].pk)
    assert rows[0].grade_id == grade.pk and rows[0].recheck

    # the learning path: a step to take, its reason naming the skill; doing it leads to the next one
    page.goto(f"{live_server.url}/workspace/me/courses/{c['course'].pk}/")
    first = page.locator(".step").first.inner_text()
    assert "The water cycle" in first or "Science words" in first
    assert "Science words" in page.inner_text(".skills") and "not started yet" in page.inner_text(".skills")
    page.screenshot(path=str(tmp_path / "student_path.png"), full_page=True)
    assert a11y_serious(page) == []
    with page.expect_navigation():
        page.locator(".step button[value=done]").first.click()
    assert "here is what to do next" in page.content()
    assert page.locator(".step button[value=done]").count() >= 1  # still something to do
