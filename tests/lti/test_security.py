"""Launches that must be refused, each with a 4xx and a message that says why; nothing is provisioned."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import pytest
from django.contrib.auth import get_user_model
from lti_tool.models import LtiDeployment

from eduplatform.core.models import Course, Enrollment
from tests.lti.browser import forms
from tests.lti.platform import LEARNER, Scenario

pytestmark = pytest.mark.django_db(transaction=True)


def launch(platform, browser, **overrides):
    return browser.get(platform.start_url(Scenario(user_id="student-7", roles=LEARNER, **overrides)))


def assert_nothing_provisioned():
    assert not get_user_model().objects.filter(lti_users__sub="student-7").exists()
    assert not Enrollment.objects.exists()
    assert not Course.objects.exists()


def test_valid_launch_reaches_the_tool(tool, platform, browser):
    # The control for the cases below: same scenario, untampered, is accepted (no link placed yet: 404).
    page = launch(platform, browser)
    assert page.status_code == 404 and "not attached" in page.text
    assert get_user_model().objects.filter(lti_users__sub="student-7").exists()


def test_bad_signature_is_rejected(tool, platform, browser):
    page = launch(platform, browser, resign_with_other_key=True)  # same kid, another private key
    assert page.status_code == 403
    assert "signature is not valid" in page.text and "Signature verification failed" in page.text
    assert_nothing_provisioned()


def test_wrong_audience_is_rejected(tool, platform, browser):
    page = launch(platform, browser, claims={"aud": "some-other-tool", "azp": "some-other-tool"})
    assert page.status_code == 403
    assert "audience" in page.text and "client_id" in page.text
    assert_nothing_provisioned()


def test_expired_token_is_rejected(tool, platform, browser):
    page = launch(platform, browser, claims={"iat": int(time.time()) - 900, "exp": int(time.time()) - 600})
    assert page.status_code == 403
    assert "id_token has expired" in page.text
    assert_nothing_provisioned()


def test_replayed_nonce_is_rejected(tool, platform, browser):
    first = launch(platform, browser)
    assert first.status_code == 404  # accepted (the link is not placed yet)
    launch_post = next(r for r in browser.history if r.request.method == "POST" and r.url == platform.tool_launch_url)
    captured = dict(parse_qsl(launch_post.request.body))

    # An attacker (or a double submit) posts the very same id_token and state again.
    replay = browser.session.post(platform.tool_launch_url, data=captured, timeout=10)
    assert replay.status_code == 403
    assert "nonce has already been used" in replay.text


def test_unknown_deployment_is_rejected_and_recorded_inactive(tool, platform, browser):
    page = launch(platform, browser, deployment_id="deployment-nobody-activated")
    assert page.status_code == 403
    assert "deployment-nobody-activated" in page.text and "not active" in page.text
    assert_nothing_provisioned()
    # The admin sees it, inactive, ready to be switched on.
    assert not LtiDeployment.objects.get(deployment_id="deployment-nobody-activated").is_active


def test_unknown_issuer_login_is_refused(tool, platform, browser):
    tool.registration.is_active = False
    tool.registration.save()
    page = launch(platform, browser)
    assert page.status_code == 403
    assert "No active registration matches issuer" in page.text


def test_launch_without_state_is_refused(tool, platform, browser):
    page = launch(platform, browser)
    launch_post = next(r for r in browser.history if r.request.method == "POST" and r.url == platform.tool_launch_url)
    fields = dict(parse_qsl(launch_post.request.body))
    page = browser.session.post(platform.tool_launch_url, data={"id_token": fields["id_token"]}, timeout=10)
    assert page.status_code == 400
    assert "no OIDC state" in page.text


def test_forged_form_token_is_refused(tool, platform, browser):
    resp = browser.session.post(f"{tool.url}/lti/submit/", data={"token": "forged", "text": "x"}, timeout=10)
    assert resp.status_code == 403 and "not issued by the tool" in resp.text
    assert forms(resp.text) == []
