"""Fixtures: a test LMS (lti1p3platform) on 127.0.0.1, the tool on Django's live server, a browser."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.cache import caches
from django.urls import reverse

from eduplatform.lti.conf import settings as lti_settings
from tests.lti.browser import Browser
from tests.lti.platform import TestPlatform


@pytest.fixture
def platform():
    p = TestPlatform().start()
    yield p
    p.stop()


@pytest.fixture
def tool(live_server, platform, settings):
    """The tool registered with the platform, and the platform with the tool (both sides' admin step)."""
    from lti_tool.models import LtiDeployment, LtiRegistration

    caches[lti_settings.CACHE].clear()
    registration = LtiRegistration.objects.create(
        name="Test LMS",
        issuer=platform.issuer,
        client_id=platform.client_id,
        auth_url=platform.auth_url,
        token_url=platform.token_url,
        keyset_url=platform.jwks_url,
    )
    deployment = LtiDeployment.objects.create(
        registration=registration, deployment_id=platform.deployment_id, is_active=True
    )
    base = live_server.url
    platform.tool_login_url = base + reverse("eduplatform_lti:login")
    platform.tool_launch_url = base + reverse("eduplatform_lti:launch")
    platform.tool_jwks_url = base + reverse("eduplatform_lti:jwks")
    return SimpleNamespace(url=base, registration=registration, deployment=deployment)


@pytest.fixture
def browser():
    return Browser()


@pytest.fixture(autouse=True)
def no_model_grading(monkeypatch):
    """Submissions stay pending: these tests make grades themselves instead of running the models."""
    queued: list[int] = []
    monkeypatch.setattr("grading.receivers.grading_enqueue", lambda *, submission_ids: queued.extend(submission_ids))
    return queued
