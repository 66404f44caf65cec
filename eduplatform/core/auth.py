"""Password logins with a brute-force limit (admin, workspace, ``POST /api/v1/auth/token/``).

``LoginLimitedModelBackend`` is Django's ``ModelBackend`` that refuses to check a password
once too many logins failed recently from the same client address (``client_ip``: a
forged ``X-Forwarded-For`` does not give a fresh address) or for the same username
from anywhere. Failures are counted in the cache (shared through Redis in production,
so every web process sees the same counts) by the ``user_login_failed`` signal that
Django sends for every failed ``authenticate()``. While a key is locked even the right
password is refused; the lock lifts by itself after the window.

Settings (Django settings, defaults below): ``EDUPLATFORM_LOGIN_FAILURES_PER_IP``,
``EDUPLATFORM_LOGIN_FAILURES_PER_USERNAME``, ``EDUPLATFORM_LOGIN_WINDOW_SECONDS``.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from eduplatform.core.middleware import client_ip

log = logging.getLogger(__name__)


def _limits() -> tuple[int, int, int]:
    return (
        int(getattr(settings, "EDUPLATFORM_LOGIN_FAILURES_PER_IP", 20)),
        int(getattr(settings, "EDUPLATFORM_LOGIN_FAILURES_PER_USERNAME", 10)),
        int(getattr(settings, "EDUPLATFORM_LOGIN_WINDOW_SECONDS", 900)),
    )


def _keys(request, username: str | None) -> list[tuple[str, int]]:
    per_ip, per_user, _ = _limits()
    keys = []
    if request is not None:
        keys.append((f"eduplatform-login-ip-{client_ip(request)}", per_ip))
    if username:
        digest = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
        keys.append((f"eduplatform-login-user-{digest}", per_user))  # no usernames in cache keys either
    return keys


def login_locked(request, username: str | None) -> bool:
    counts = cache.get_many([k for k, _ in _keys(request, username)])
    return any(counts.get(k, 0) >= limit for k, limit in _keys(request, username))


def _count_failure(request, username: str | None) -> None:
    window = _limits()[2]
    for key, _ in _keys(request, username):
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)


class LoginLimitedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        name = username if username is not None else kwargs.get(self._username_field())
        if login_locked(request, name):
            log.warning("login refused: too many recent failures (ip or username locked)")
            raise PermissionDenied("Too many failed logins; try again later.")
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


@receiver(user_login_failed, dispatch_uid="eduplatform-login-failed-count")
def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    from django.contrib.auth import get_user_model

    _count_failure(request, credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username"))
