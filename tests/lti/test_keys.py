"""JWKS endpoint, key rotation, tool configuration, role mapping."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from lti_tool.models import Key

from eduplatform.lti.selectors import enrollment_role_for
from tests.lti.browser import forms
from tests.lti.platform import INSTRUCTOR, LEARNER, TA, Scenario

pytestmark = pytest.mark.django_db(transaction=True)


def kids(url):
    return [k["kid"] for k in requests.get(url, timeout=10).json()["keys"]]


def test_jwks_rotation_keeps_the_old_key_published_then_retires_it(tool, platform, browser):
    first = kids(platform.tool_jwks_url)
    assert len(first) == 1

    call_command("lti_rotate_keys")
    rotated = kids(platform.tool_jwks_url)
    assert len(rotated) == 2 and first[0] in rotated  # the old key stays until retired

    Key.objects.update(datetime_created=timezone.now() - timedelta(days=30))
    call_command("lti_rotate_keys", "--retire-after", "7")
    [current] = kids(platform.tool_jwks_url)
    assert current not in rotated

    # Deep linking (signed with the newest key) still verifies at the platform.
    page = browser.get(platform.start_url(Scenario(user_id="t", roles=INSTRUCTOR, deep_link=True)))
    assert page.status_code == 200
    picker = forms(page.text)[0]
    done = browser.post(tool.url + picker["action"], {**picker["fields"], "new_title": "Quiz 1"})
    assert "Content added" in done.text and platform.deep_link_items


def test_rotate_if_missing_is_idempotent():
    call_command("lti_rotate_keys", "--if-missing")
    call_command("lti_rotate_keys", "--if-missing")
    assert Key.objects.active().count() == 1


def test_tool_configuration_lists_what_the_lms_needs(tool):
    config = requests.get(f"{tool.url}/lti/registrations/{tool.registration.uuid}/config.json", timeout=10).json()
    assert config["oidc_initiation_url"] == f"{tool.url}/lti/login/{tool.registration.uuid}/"
    assert config["target_link_uri"] == config["deep_linking_url"] == f"{tool.url}/lti/launch/"
    assert config["jwks_url"] == f"{tool.url}/lti/jwks.json"
    assert config["public_jwk"]["kid"] in kids(config["jwks_url"])
    assert config["client_id"] == tool.registration.client_id


def test_admin_shows_tool_urls_for_a_registration(tool, admin_client):
    page = admin_client.get(f"/admin/lti_tool/ltiregistration/{tool.registration.pk}/change/")
    assert page.status_code == 200
    assert f"/lti/login/{tool.registration.uuid}/" in page.content.decode()


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (INSTRUCTOR, "instructor"),
        (TA, "ta"),
        (LEARNER, "student"),
        (["Learner"], "student"),
        (["Instructor"], "instructor"),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"], "instructor"),
        (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"], None),
        (["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], None),
        ([], None),
        (None, None),
    ],
)
def test_role_mapping(roles, expected):
    assert enrollment_role_for(roles) == expected
