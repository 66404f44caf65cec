"""Protocol glue over django-lti / pylti1p3: launch validation, keys, service connections.

Why not django-lti's defaults as they are:

- pylti1p3 checks that a launch's nonce was issued by our OIDC login but never
  marks it used, so the same id_token could be posted twice. ``ToolMessageLaunch``
  consumes the nonce (an atomic ``cache.add``) once the launch is otherwise valid.
- ``requests`` has no default timeout; every call to a platform gets one here.
- Launch failures become ``LaunchRejected`` with a message a person can act on,
  instead of a 500.
- The id_token's shape is checked before any signature work (a body that is a list, a
  nonce that is an object were 500s), and a signed token's claims are checked against
  the columns they land in (a 10 KB id, NUL in a name, a 400-character e-mail address,
  a context that is a string: each a 400, nothing provisioned).
- The nonce is bound to the OIDC state: the login stores the nonce it issued with the
  state, and a launch must bring that same pair (pylti1p3 alone accepts any nonce it
  ever issued with any valid state).
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.core.cache import caches
from django.db import transaction
from lti_tool.models import Key, LtiLaunch, LtiRegistration
from lti_tool.utils import DjangoToolConfig
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.exception import LtiException
from pylti1p3.service_connector import REQUESTS_USER_AGENT, ServiceConnector

from eduplatform.core.api import ApplicationError, json_value_problem, text_problem
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


STATE_NONCE_PARAM = "eduplatform_nonce"
MAX_TOKEN_CHARS = 64 * 1024
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
# claim -> (kind, max length); "str" values must also be free of NUL/control characters.
_CLAIM_RULES: dict[str, tuple[str, int]] = {
    "iss": ("str", 255),
    "sub": ("str", 255),
    "nonce": ("str", 255),
    "azp": ("str", 255),
    "given_name": ("str", 150),
    "family_name": ("str", 150),
    "name": ("str", 500),
    "email": ("str", 254),
    "picture": ("str", 200),
    LTI + "deployment_id": ("str", 255),
    LTI + "message_type": ("str", 64),
    LTI + "version": ("str", 16),
    LTI + "target_link_uri": ("str", 2048),
    LTI + "roles": ("list", 100),
    LTI + "context": ("dict", 0),
    LTI + "resource_link": ("dict", 0),
    LTI + "custom": ("dict", 0),
    LTI + "tool_platform": ("dict", 0),
    LTI + "launch_presentation": ("dict", 0),
    "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": ("dict", 0),
    "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": ("dict", 0),
    "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": ("dict", 0),
}
# Inside the dict claims: key -> max length (strings).
_NESTED_RULES: dict[str, dict[str, int]] = {
    LTI + "context": {"id": 255, "label": 255, "title": 500},
    LTI + "resource_link": {"id": 255, "title": 500, "description": 10_000},
    LTI + "tool_platform": {"guid": 255, "name": 500, "version": 500, "product_family_code": 500, "url": 200},
    "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {"lineitems": 200, "lineitem": 200},
    "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {"context_memberships_url": 200},
}


def _bad(message: str) -> LtiException:
    return LtiException(f"Invalid id_token: {message}")


def _check_str(value, where: str, max_len: int) -> None:
    if not isinstance(value, str):
        raise _bad(f"{where} must be a string")
    if len(value) > max_len:
        raise _bad(f"{where} is longer than {max_len} characters")
    if text_problem(value) or any(ord(c) < 0x20 and c not in "\t\n\r" for c in value):
        raise _bad(f"{where} contains control characters")


def claims_check(body) -> None:
    """Types and sizes of the claims the tool stores (see the module docstring)."""
    if not isinstance(body, dict):
        raise _bad("the payload is not a JSON object")
    problem = json_value_problem(body, max_depth=16)
    if problem:
        raise _bad(problem)
    aud = body.get("aud")
    if not (isinstance(aud, str) or (isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud))):
        raise _bad("aud must be a string or a list of strings")
    for claim, (kind, limit) in _CLAIM_RULES.items():
        if claim not in body or body[claim] is None:
            continue
        value = body[claim]
        name = claim.rsplit("/", 1)[-1]
        if kind == "str":
            _check_str(value, name, limit)
        elif kind == "list":
            if not isinstance(value, list) or len(value) > limit:
                raise _bad(f"{name} must be a list of at most {limit} strings")
            for item in value:
                _check_str(item, name, 255)
        elif not isinstance(value, dict):
            raise _bad(f"{name} must be an object")
        for key, max_len in _NESTED_RULES.get(claim, {}).items():
            if value.get(key) is not None:
                _check_str(value[key], f"{name}.{key}", max_len)
    custom = body.get(LTI + "custom") or {}
    if len(custom) > 100 or any(not isinstance(v, (str, int, float, bool)) for v in custom.values()):
        raise _bad("custom must be an object of at most 100 plain values")
    for key, value in custom.items():
        _check_str(key, "custom key", 255)
        if isinstance(value, str):
            _check_str(value, f"custom.{key[:40]}", 4096)


class ToolOIDCLogin(DjangoOIDCLogin):
    """OIDC login that stores the nonce it issues with the state it issues (nonce bound to state)."""

    def _generate_nonce(self) -> str:
        nonce = super()._generate_nonce()
        # Saved by pylti1p3 right after the nonce, under the state (in the shared cache).
        self._state_params = {**(self._state_params or {}), STATE_NONCE_PARAM: nonce}
        return nonce


class ToolMessageLaunch(DjangoMessageLaunch):
    """A message launch whose shape is checked before signature work, whose nonce must be
    the one issued with its state, and whose nonce can be used once."""

    def validate_jwt_format(self) -> ToolMessageLaunch:
        token = self._get_id_token()
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise _bad(f"the id_token is not a string of at most {MAX_TOKEN_CHARS} characters")
        super().validate_jwt_format()
        if not isinstance(self._jwt.get("header"), dict):
            raise _bad("the header is not a JSON object")
        body = self._jwt.get("body")
        if not isinstance(body, dict):
            raise _bad("the payload is not a JSON object")
        for claim in ("nonce", "iss"):
            if not isinstance(body.get(claim), str) or not body[claim] or len(body[claim]) > 255:
                raise _bad(f"{claim} must be a non-empty string")
        aud = body.get("aud")
        if not (isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))):
            raise _bad("aud must be a string or a list of strings")
        return self

    def validate_nonce(self) -> ToolMessageLaunch:
        super().validate_nonce()
        state = self._get_request_param("state")
        params = self._session_service.get_state_params(state) if state else None
        if not isinstance(params, dict) or params.get(STATE_NONCE_PARAM) != self._get_jwt_body().get("nonce"):
            raise LtiException("Invalid Nonce")
        return self

    def validate_message(self) -> ToolMessageLaunch:
        super().validate_message()
        claims_check(self._get_jwt_body())
        return self

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
    except (LtiException, KeyError, ValueError, TypeError, AttributeError) as exc:
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
