"""EDUPLATFORM_LTI_* settings with documented defaults, read in one place.

Same pattern as ``eduplatform.core.conf``: a host project sets only the names it wants
to change, e.g. ``EDUPLATFORM_LTI_CACHE = "lti"``.
"""

from __future__ import annotations

from typing import Any

from eduplatform.core.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # Cache alias holding OIDC state, nonces and launch data. Every web process must
    # see the same cache (Redis/Memcached/database cache in production), or a launch
    # that lands on another process than its login fails with "Invalid Nonce".
    "CACHE": "default",
    # How long a used nonce is remembered to refuse replays (seconds); longer than
    # any id_token lifetime a platform issues.
    "NONCE_TTL_SECONDS": 24 * 3600,
    # Timeout (seconds) for every HTTP call to a platform (JWKS, token, AGS, NRPS).
    "HTTP_TIMEOUT_SECONDS": 10,
    # Send released grades to the LMS gradebook (AGS) when the platform allows it.
    "SEND_GRADES": True,
    # Include the released feedback as the score comment in the LMS gradebook.
    "SEND_FEEDBACK": True,
    # Prefix of the usernames created for LTI users (no personal data in usernames).
    "USERNAME_PREFIX": "lti_",
    # How long the signed forms on LTI pages (deep-link picker, submit) stay valid.
    "FORM_MAX_AGE_SECONDS": 4 * 3600,
    # Title shown in the tool configuration JSON and in the LMS.
    "TOOL_TITLE": "eduplatform",
}

settings = AppSettings("EDUPLATFORM_LTI_", DEFAULTS)
