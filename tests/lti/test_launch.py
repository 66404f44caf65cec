"""Launches from a real LTI 1.3 platform (lti1p3platform) over HTTP: deep linking, then resource links."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from eduplatform.core.models import Assignment, Enrollment, Student
from tests.lti.browser import forms
from tests.lti.platform import INSTRUCTOR, LEARNER, TA, Scenario

pytestmark = pytest.mark.django_db(transaction=True)


def place_assignment(platform, browser, *, title="Photosynthesis essay", pick_existing=()):
    """An instructor uses the LMS's 'add content' (Deep Linking) to place an eduplatform assignment."""
    page = browser.get(
        platform.start_url(
            Scenario(
                user_id="teacher-1", roles=INSTRUCTOR, deep_link=True, name="Tina Teacher", email="tina@school.example"
            )
        )
    )
    assert page.status_code == 200, page.text
    picker = forms(page.text)[0]
    data = {**picker["fields"], "new_title": title, "assignment": [str(pk) for pk in pick_existing]}
    return browser.post(page.url.rsplit("/lti/", 1)[0] + picker["action"], data)


def test_deep_linking_places_an_assignment_in_the_lms_course(tool, platform, browser):
    done = place_assignment(platform, browser)

    assert done.status_code == 200 and "Content added" in done.text  # the platform accepted our signed response
    [item] = platform.deep_link_items
    assignment = Assignment.objects.get(title="Photosynthesis essay")
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == platform.tool_launch_url
    assert item["custom"] == {"eduplatform_assignment_id": str(assignment.pk)}
    assert item["lineItem"]["resourceId"] == f"eduplatform-assignment-{assignment.pk}"
    assert item["lineItem"]["scoreMaximum"] == float(assignment.max_score - assignment.min_score)
    assert platform.deep_link_data == {"opaque": "platform-state-42"}  # echoed back as the spec requires
    teacher = get_user_model().objects.get(lti_users__sub="teacher-1")
    assert Enrollment.objects.get(user=teacher, course=assignment.course).role == Enrollment.Role.INSTRUCTOR
    assert assignment.course.title == "Biology 101"
    assert (teacher.first_name, teacher.email) == ("", "tina@school.example")
    assert not teacher.has_usable_password()


def test_learner_launch_creates_student_enrolment_and_opens_the_assignment(tool, platform, browser):
    place_assignment(platform, browser)
    [link] = platform.placed_links
    student_browser = type(browser)()

    page = student_browser.get(
        platform.start_url(
            Scenario(
                user_id="student-7",
                roles=LEARNER,
                resource_link_id=link["resource_link_id"],
                custom=link["custom"],
                lineitem_url=link["lineitem_url"],
                name="Sam Student",
                email="sam@school.example",
            )
        )
    )

    assert page.status_code == 200, page.text
    assert "Photosynthesis essay" in page.text and "Submit an answer" in page.text
    user = get_user_model().objects.get(lti_users__sub="student-7")
    student = Student.objects.get(user=user)
    assert student.external_id == "student-7"
    assignment = Assignment.objects.get(title="Photosynthesis essay")
    enrollment = Enrollment.objects.get(user=user, course=assignment.course)
    assert enrollment.role == Enrollment.Role.STUDENT
    # The link's gradebook column (created by the platform from our deep-link item) is remembered.
    assert assignment.lti_line_items.get().line_item.url == link["lineitem_url"]

    # The session is logged in as that user: the REST API works in the same browser.
    api = student_browser.session.get(f"{tool.url}/api/v1/assignments/{assignment.pk}/", timeout=10)
    assert api.status_code == 200 and api.json()["title"] == "Photosynthesis essay"

    # Submitting from the page inside the LMS stores a pending submission.
    form = next(f for f in forms(page.text) if f["fields"].get("token"))
    done = student_browser.post(f"{tool.url}{form['action']}", {**form["fields"], "text": "Light to sugar."})
    assert done.status_code == 201 and "received" in done.text
    assert student.submissions.get().text == "Light to sugar."

    # Bad input is refused on the same page with the reason, nothing stored.
    empty = student_browser.post(f"{tool.url}{form['action']}", {**form["fields"], "text": "  "})
    assert empty.status_code == 400 and "Empty submission" in empty.text and 'class="error"' in empty.text
    assert student.submissions.count() == 1


def test_second_launch_reuses_user_and_course(tool, platform, browser):
    place_assignment(platform, browser)
    [link] = platform.placed_links
    for _ in range(2):
        page = type(browser)().get(
            platform.start_url(
                Scenario(
                    user_id="student-7", roles=LEARNER, resource_link_id=link["resource_link_id"], custom=link["custom"]
                )
            )
        )
        assert page.status_code == 200, page.text
    assert get_user_model().objects.filter(lti_users__sub="student-7").count() == 1
    assert Assignment.objects.get().course.lti_links.count() == 1


@pytest.mark.parametrize(("roles", "expected"), [(INSTRUCTOR, "instructor"), (TA, "ta"), (LEARNER, "student")])
def test_lti_roles_map_to_enrolment_roles(tool, platform, browser, roles, expected):
    place_assignment(platform, browser)
    [link] = platform.placed_links
    page = type(browser)().get(
        platform.start_url(
            Scenario(user_id="someone", roles=roles, resource_link_id=link["resource_link_id"], custom=link["custom"])
        )
    )
    assert page.status_code == 200, page.text
    user = get_user_model().objects.get(lti_users__sub="someone")
    assert Enrollment.objects.get(user=user).role == expected


def test_role_without_course_access_is_refused(tool, platform, browser):
    place_assignment(platform, browser)
    [link] = platform.placed_links
    page = type(browser)().get(
        platform.start_url(
            Scenario(
                user_id="parent-1",
                roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"],
                resource_link_id=link["resource_link_id"],
                custom=link["custom"],
            )
        )
    )
    assert page.status_code == 403
    assert "role in this LMS course gives no access" in page.text


def test_assignment_from_another_course_is_refused(tool, platform, browser):
    from tests.factories import AssignmentFactory

    place_assignment(platform, browser)
    foreign = AssignmentFactory()
    page = type(browser)().get(
        platform.start_url(
            Scenario(
                user_id="student-7",
                roles=LEARNER,
                resource_link_id="rl-hand-made",
                custom={"eduplatform_assignment_id": str(foreign.pk)},
            )
        )
    )
    assert page.status_code == 404
    assert f"Assignment {foreign.pk} is not part of this course" in page.text


def test_unplaced_link_explains_how_to_place_it(tool, platform, browser):
    page = browser.get(
        platform.start_url(Scenario(user_id="teacher-1", roles=INSTRUCTOR, resource_link_id="rl-not-placed"))
    )
    assert page.status_code == 404
    assert "Deep Linking" in page.text


def test_learner_cannot_use_deep_linking(tool, platform, browser):
    page = browser.get(platform.start_url(Scenario(user_id="student-7", roles=LEARNER, deep_link=True)))
    assert page.status_code == 403
    assert "Only instructors" in page.text


def test_launch_outside_a_course_is_refused(tool, platform, browser):
    page = browser.get(
        platform.start_url(
            Scenario(
                user_id="student-7", roles=LEARNER, claims={"https://purl.imsglobal.org/spec/lti/claim/context": None}
            )
        )
    )
    assert page.status_code == 400
    assert "inside an LMS course" in page.text
