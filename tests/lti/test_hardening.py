"""LTI hardening (issue 13): forged and cross-purpose form tokens, malformed id_tokens before any
signature work, validly signed tokens with odd claims, the nonce bound to the OIDC state."""

from __future__ import annotations

import base64
import json
import re
from html import unescape
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import signing

from eduplatform.core.models import Course, Enrollment, Submission
from eduplatform.lti.views import DEEP_LINK_FORM, SUBMIT_FORM, _form_token
from tests.lti.browser import Browser, forms
from tests.lti.platform import INSTRUCTOR, LEARNER, Scenario

pytestmark = pytest.mark.django_db(transaction=True)


def _nothing_provisioned(sub: str = "student-7") -> None:
    assert not get_user_model().objects.filter(lti_users__sub=sub).exists()
    assert not Enrollment.objects.exists() and not Course.objects.exists()


# ------------------------------------------------------------------ form tokens


def _student_page(platform, tool, browser):
    """An instructor places an assignment; a student opens it: the page with the submit form."""
    page = Browser().get(platform.start_url(Scenario(user_id="teacher-1", roles=INSTRUCTOR, deep_link=True)))
    picker = forms(page.text)[0]
    Browser().post(urljoin(page.url, picker["action"]), {**picker["fields"], "new_title": "Essay"})
    [link] = platform.placed_links
    page = browser.get(
        platform.start_url(
            Scenario(
                user_id="student-7", roles=LEARNER, resource_link_id=link["resource_link_id"], custom=link["custom"]
            )
        )
    )
    assert page.status_code == 200, page.text
    return next(f for f in forms(page.text) if f["fields"].get("token"))


def test_forged_and_cross_purpose_form_tokens_are_refused(tool, platform, browser, settings):
    form = _student_page(platform, tool, browser)
    student = get_user_model().objects.get(lti_users__sub="student-7")
    data = signing.loads(form["fields"]["token"], salt="eduplatform.lti.form.submit")
    submit_url = f"{tool.url}/lti/submit/"

    # Without the secret key nobody can make a token: the same payload signed with another key.
    forged = signing.dumps(data, key="not-the-secret-key", salt="eduplatform.lti.form.submit")
    # The old single salt (before per-purpose salts) and the deep-link purpose are refused too.
    old_salt = signing.dumps(data, salt="eduplatform.lti.form")
    deep_link_token = _form_token(purpose=DEEP_LINK_FORM, user_id=student.pk, launch_id=data["l"], a=data["a"])
    for token in (forged, old_salt, deep_link_token, "forged"):
        resp = browser.session.post(submit_url, data={"token": token, "text": "hijack"}, timeout=10)
        assert resp.status_code == 403 and "not issued by the tool" in resp.text
    assert Submission.objects.count() == 0

    # A submit token is refused by the deep-link endpoint as well.
    submit_token = _form_token(purpose=SUBMIT_FORM, user_id=student.pk, launch_id=data["l"], c=1)
    resp = browser.session.post(f"{tool.url}/lti/deep-link/", data={"token": submit_token}, timeout=10)
    assert resp.status_code == 403

    # The genuine token still works.
    ok = browser.post(submit_url, {**form["fields"], "text": "Light to sugar."})
    assert ok.status_code == 201 and Submission.objects.count() == 1


def test_a_withdrawn_student_cannot_submit_with_an_old_page(tool, platform, browser):
    from django.utils import timezone

    form = _student_page(platform, tool, browser)
    Enrollment.objects.filter(user__lti_users__sub="student-7").update(unregistered_at=timezone.now())
    resp = browser.post(f"{tool.url}/lti/submit/", {**form["fields"], "text": "late"})
    assert resp.status_code == 403 and Submission.objects.count() == 0


# --------------------------------------------------- malformed tokens, before signatures


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],  # payload is a list
        {"nonce": {"$ne": 1}, "iss": "x", "aud": "y"},  # nonce is an object
        {"nonce": ["a"], "iss": "x", "aud": "y"},
        {"nonce": "n", "iss": {"a": 1}, "aud": "y"},
        {"nonce": "n", "iss": "x", "aud": {"a": 1}},
        "just a string",
    ],
)
def test_anonymous_malformed_id_tokens_are_4xx_before_any_signature_work(tool, payload, monkeypatch):
    """An attacker controls the state cookie and the state parameter, so state checking passes:
    the token's shape must be refused before the registration lookup and the signature check."""
    import requests
    from pylti1p3.message_launch import MessageLaunch

    def no_signature_work(self):
        raise AssertionError("signature checked")

    monkeypatch.setattr(MessageLaunch, "validate_jwt_signature", no_signature_work)
    monkeypatch.setattr(MessageLaunch, "validate_registration", no_signature_work)
    session = requests.Session()
    session.cookies.set("lti1p3-state-attacker", "state-attacker")
    token = f"{_b64({'alg': 'RS256', 'kid': 'k'})}.{_b64(payload)}.c2ln"
    resp = session.post(f"{tool.url}/lti/launch/", data={"id_token": token, "state": "state-attacker"}, timeout=10)
    assert resp.status_code == 400, resp.text
    assert "Invalid id_token" in resp.text or "can't be decoded" in resp.text
    _nothing_provisioned()


def test_oversized_id_token_is_refused(tool):
    import requests

    session = requests.Session()
    session.cookies.set("lti1p3-state-a", "state-a")
    resp = session.post(
        f"{tool.url}/lti/launch/", data={"id_token": "a." * 40000 + "b", "state": "state-a"}, timeout=10
    )
    assert resp.status_code == 400


# ------------------------------------------------------- signed tokens, odd claims

CTX = "https://purl.imsglobal.org/spec/lti/claim/context"


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({CTX: "course-101"}, "context must be an object"),
        ({CTX: {"id": "c" * 10_000}}, "context.id is longer"),
        ({"sub": "s" * 10_000}, "sub is longer"),
        ({"name": "Sam\x00Student"}, "NUL character"),
        ({"given_name": "x" * 200}, "given_name is longer"),
        ({"email": "a" * 400 + "@school.example"}, "email is longer"),
        ({"https://purl.imsglobal.org/spec/lti/claim/roles": "Learner"}, "roles must be a list"),
        ({"https://purl.imsglobal.org/spec/lti/claim/custom": {"k": {"nested": 1}}}, "custom must be"),
        ({"https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "\ud800"}}, "surrogate"),
    ],
)
def test_validly_signed_tokens_with_odd_claims_are_400(tool, platform, browser, claims, why):
    page = browser.get(platform.start_url(Scenario(user_id="student-7", roles=LEARNER, claims=claims)))
    assert page.status_code == 400, page.text
    assert "Invalid id_token" in page.text and why in page.text
    if claims.get("sub"):
        assert not get_user_model().objects.filter(lti_users__isnull=False).exists()
    else:
        _nothing_provisioned()


# ------------------------------------------------------------ nonce bound to state


def _launch_form(platform, scenario) -> tuple[Browser, dict]:
    """Run the login up to the platform's auto-submitting form, without posting it."""
    b = Browser()
    resp = b.session.get(platform.start_url(scenario), timeout=30)
    for _ in range(5):
        found = [f for f in forms(resp.text) if "id_token" in f["fields"]]
        if found:
            return b, found[0]["fields"]
        match = re.search(r"var urlParams = (\{.*?\});", resp.text)
        assert "lti1p3-loading-msg" in resp.text and match, resp.text[:500]
        query = urlsplit(resp.url).query
        params = {k: unescape(v) for k, v in json.loads(match.group(1)).items() if f"{k}=" not in query}
        resp = b.session.get(f"{resp.url}{'&' if query else '?'}{urlencode(params)}", timeout=30)
    raise AssertionError("no launch form")


def test_nonce_is_bound_to_the_state_it_was_issued_with(tool, platform):
    mallory, mallory_form = _launch_form(platform, Scenario(user_id="mallory", roles=LEARNER))
    _, victim_form = _launch_form(platform, Scenario(user_id="teacher-1", roles=INSTRUCTOR))
    # Mallory posts the victim's id_token (a valid, unused nonce) with her own state and cookie.
    swapped = {"id_token": victim_form["id_token"], "state": mallory_form["state"]}
    resp = mallory.session.post(platform.tool_launch_url, data=swapped, timeout=10)
    assert resp.status_code == 403 and "nonce" in resp.text
    assert not get_user_model().objects.filter(lti_users__sub="teacher-1").exists()
    # Her own pair is accepted (no link placed: 404 past all checks).
    own = mallory.session.post(platform.tool_launch_url, data=mallory_form, timeout=10)
    assert own.status_code == 404 and "not attached" in own.text
