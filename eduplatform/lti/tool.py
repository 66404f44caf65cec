"""Protocol glue over django-lti / pylti1p3: launch validation, keys, service connections.

Why not django-lti's defaults as they are:

- pylti1p3 checks that a launch's nonce was issued by our OIDC login but never
  marks it used, so the same id_token could be posted twice. ``ToolMessageLaunch``
  consumes the nonce (an atomic ``cache.add``) once the launch is otherwise valid.
- ``requests`` has no default timeout; every call to a platform gets one here.
- Launch failures become ``LaunchRejected`` with a message a person can act on,
  instead of a 500.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.core.cache import caches
from django.db import transaction
from lti_tool.models import Key, LtiLaunch, LtiRegistration
from lti_tool.utils import DjangoToolConfig
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch
from pylti1p3.exception import LtiException
from pylti1p3.service_connector import REQUESTS_USER_AGENT, ServiceConnector

from eduplatform.core.api import ApplicationError
from eduplatform.lti.conf import settings

log = logging.getLogger(__name__)


class LaunchRejected(ApplicationError):
    """An LTI message we refuse; the message says why (shown to the user, logged)."""

    def __init__(self, message: str, *, code: str = "lti_launch_rejected", status_code: int = 403) -> None:
        super().__init__(message, code=code, status_code=status_code)


class TimeoutSession(requests.Session):
    """A requests session whose calls time out (platform endpoints can hang)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = REQUESTS_USER_AGENT

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", settings.HTTP_TIMEOUT_SECONDS)
        return super().request(method, url, **kwargs)


def launch_data_storage() -> DjangoCacheDataStorage:
    return DjangoCacheDataStorage(cache_name=settings.CACHE)


class ToolMessageLaunch(DjangoMessageLaunch):
    """A message launch whose nonce can be used once."""

    def save_launch_data(self) -> ToolMessageLaunch:
        # Runs after state, signature, registration, deployment and message checks passed.
        nonce = self._get_jwt_body().get("nonce")
        if not caches[settings.CACHE].add(f"eduplatform-lti-used-nonce-{nonce}", 1, timeout=settings.NONCE_TTL_SECONDS):
            raise LtiException("Replayed launch: this id_token's nonce has already been used")
        return super().save_launch_data()


# pylti1p3 messages -> what a person reading the error page needs to know.
_REASONS = {
    "Missing state param": ("The launch has no OIDC state; start it again from the LMS.", 400),
    "Missing id_token": ("The launch has no id_token; start it again from the LMS.", 400),
    "State not found": (
        (
            "The OIDC state does not match this browser's (cookies blocked, or the login happened in another "
            "browser); start the launch again from the LMS."
        ),
        403,
    ),
    "Invalid Nonce": (
        "The launch's nonce was not issued by this tool, or it expired; start the launch again from the LMS.",
        403,
    ),
    "Registration not found.": (
        (
            "No active LTI registration for this issuer and client_id (the token's audience 'aud'); check the "
            "registration in the admin."
        ),
        403,
    ),
    "Client id not registered for this issuer": (
        "The token's audience ('aud') is not this tool's client_id for the issuer.",
        403,
    ),
    "Unable to find public key": ("The id_token is signed with a key ('kid') that is not in the platform's JWKS.", 403),
}


def _rejection(exc: Exception) -> LaunchRejected:
    text = str(exc)
    if text in _REASONS:
        message, status = _REASONS[text]
        return LaunchRejected(f"LTI launch rejected: {message}", status_code=status)
    if text.startswith("Can't decode id_token: Signature has expired"):
        return LaunchRejected(
            "LTI launch rejected: the id_token has expired (exp is in the past); "
            "start the launch again, and check the platform's clock."
        )
    if text.startswith("Can't decode id_token"):
        reason = text.removeprefix("Can't decode id_token: ")
        return LaunchRejected(f"LTI launch rejected: the id_token's signature is not valid ({reason}).")
    if text.startswith(("Invalid id_token", "Invalid JWT format")):
        return LaunchRejected(f"LTI launch rejected: {text}.", status_code=400)
    return LaunchRejected(f"LTI launch rejected: {text}.")


def launch_validate(request) -> LtiLaunch:
    """Validate an id_token POSTed by a platform; raise LaunchRejected with the reason."""
    key_ensure_active()
    message_launch = ToolMessageLaunch(
        request, DjangoToolConfig(), launch_data_storage=launch_data_storage(), requests_session=TimeoutSession()
    )
    try:
        message_launch.validate()
    except (LtiException, KeyError, ValueError) as exc:
        log.warning("LTI launch rejected: %s", exc)
        raise _rejection(exc) from exc
    return LtiLaunch(message_launch)


def launch_restore(request, launch_id: str) -> LtiLaunch:
    """A launch validated earlier (e.g. the deep-linking request behind a picker form)."""
    key_ensure_active()
    try:
        message_launch = ToolMessageLaunch.from_cache(
            launch_id,
            request,
            DjangoToolConfig(),
            launch_data_storage=launch_data_storage(),
            requests_session=TimeoutSession(),
        )
    except LtiException as exc:
        raise LaunchRejected(
            "This LTI session has expired; open the tool again from the LMS.",
            code="lti_launch_expired",
            status_code=400,
        ) from exc
    return LtiLaunch(message_launch)


def key_ensure_active() -> Key:
    """The newest active tool key, created on first use so a fresh install can launch at once."""
    key = Key.objects.active().order_by("-datetime_created").first()
    if key is not None:
        return key
    with transaction.atomic():
        return Key.objects.generate()


def service_connector(registration: LtiRegistration) -> ServiceConnector:
    """Authenticated client for a platform's services (OAuth2 client credentials, signed JWT)."""
    key_ensure_active()
    return ServiceConnector(registration.to_registration(), requests_session=TimeoutSession())


def jwks() -> dict[str, Any]:
    key_ensure_active()
    return Key.objects.as_jwks()
