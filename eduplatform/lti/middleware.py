"""Headers that let the tool live inside an LMS iframe, and only there.

``ContentSecurityPolicyMiddleware`` sends a Content-Security-Policy on every response:
scripts only from this site (plus the hashes of the inline scripts the page itself
carries: pylti1p3's cookie check and deep-link auto-submit), no plugins, forms posted
only here or back to a registered platform, and ``frame-ancestors``:

- pages marked ``xframe_options_exempt`` (the LTI pages, and any page a launch may open
  inside the LMS) may be framed by this site and by the registered, active LTI
  platforms (origins of their issuer and OIDC auth URL, plus
  ``EDUPLATFORM_LTI_FRAME_ANCESTORS``);
- every other page by nobody (``'none'``), as ``X-Frame-Options: DENY`` says for old browsers.

``LtiFrameCookiesMiddleware`` marks the session and CSRF cookies ``SameSite=None``
(always with ``Secure``) only for sessions that an LTI launch started: a browser sends
a cookie to a site framed by another site only then. Password logins (admin, workspace)
keep the default ``Lax``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from lti_tool.constants import SESSION_KEY

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_ORIGINS_TTL = 60.0
_origins_cache: tuple[float, list[str]] = (0.0, [])


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def platform_origins() -> list[str]:
    """Origins of the active LTI registrations (cached for a minute per process)."""
    global _origins_cache
    stamp, origins = _origins_cache
    if time.monotonic() - stamp < _ORIGINS_TTL:
        return origins
    from lti_tool.models import LtiRegistration

    found: set[str] = set(getattr(django_settings, "EDUPLATFORM_LTI_FRAME_ANCESTORS", ()))
    for issuer, auth_url in LtiRegistration.objects.filter(is_active=True).values_list("issuer", "auth_url"):
        found.update(o for o in (_origin(issuer), _origin(auth_url)) if o)
    origins = sorted(found)
    _origins_cache = (time.monotonic(), origins)
    return origins


def platform_origins_forget() -> None:
    global _origins_cache
    _origins_cache = (0.0, [])


def _script_hashes(body: bytes) -> list[str]:
    out = []
    for m in _INLINE_SCRIPT.finditer(body):
        digest = base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
        out.append(f"'sha256-{digest}'")
    return sorted(set(out))


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        framable = getattr(response, "xframe_options_exempt", False)
        platforms = platform_origins() if framable else []
        ancestors = " ".join(["'self'", *platforms]) if framable else "'none'"
        hashes = []
        if response.get("Content-Type", "").startswith("text/html") and not response.streaming:
            hashes = _script_hashes(response.content)
        policy = [
            "default-src 'self'",
            "script-src " + " ".join(["'self'", *hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",  # Redoc's search runs in a worker built from a blob
            "object-src 'none'",
            "base-uri 'self'",
            "form-action " + " ".join(["'self'", *(platform_origins() if framable else [])]),
            f"frame-ancestors {ancestors}",
        ]
        response["Content-Security-Policy"] = "; ".join(policy)
        return response


class LtiFrameCookiesMiddleware:
    """Place before SessionMiddleware (it then sees the cookies that middleware sets)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not request.is_secure():
            return response  # SameSite=None needs Secure; over plain HTTP nothing can be framed cross-site anyway
        try:
            launched = bool(session.get(SESSION_KEY))
        except Exception:  # a session that could not be loaded: leave the cookies alone
            return response
        if launched:
            for name in (django_settings.SESSION_COOKIE_NAME, django_settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["samesite"] = "None"
                    response.cookies[name]["secure"] = True
        return response
