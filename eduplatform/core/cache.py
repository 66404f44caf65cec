"""The shared Redis cache, made to survive a Redis outage.

Redis is both Celery's broker and the shared cache. When it goes away the submission
path must keep working (the row is saved, the sweeper sends its wake-up later), but
Django's ``RedisCache`` raises on every call, and DRF reads the cache for throttling
before any view runs: every request became a 500. This backend turns an unreachable
Redis into a cache that remembers nothing, with short socket timeouts so a request
never hangs on it:

* reads miss (``get`` returns the default, ``get_many`` nothing): throttles and
  failure counters start from zero while Redis is away, sessions fall back to the
  database (``cached_db``);
* writes are dropped;
* ``add`` answers False ("already there"), so a check that consumes a one-time value
  with ``add`` (the LTI nonce) refuses instead of accepting a replay;
* ``incr`` raises ``ValueError`` (the key's absence, as for a missing key).

Every outage is logged (at most every 30 s per process).
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
LOG_EVERY_S = 30.0
#: Socket timeouts for the cache's connections (seconds), unless OPTIONS sets them.
DEFAULT_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


class ResilientRedisCache(RedisCache):
    _last_logged = 0.0

    def __init__(self, server, params):
        params = {**params, "OPTIONS": {**DEFAULT_TIMEOUTS, **params.get("OPTIONS", {})}}
        super().__init__(server, params)

    def _unreachable(self, op: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - ResilientRedisCache._last_logged > LOG_EVERY_S:
            ResilientRedisCache._last_logged = now
            log.warning("cache unreachable (%s: %s); serving without it", op, exc.__class__.__name__)

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            self._unreachable("get", exc)
            return default

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            self._unreachable("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as exc:
            self._unreachable("has_key", exc)
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("add", exc)
            return False

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("set", exc)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("set_many", exc)
            return list(data)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except UNREACHABLE as exc:
            self._unreachable("touch", exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except UNREACHABLE as exc:
            self._unreachable("delete", exc)
            return False

    def delete_many(self, keys, version=None):
        try:
            super().delete_many(keys, version)
        except UNREACHABLE as exc:
            self._unreachable("delete_many", exc)

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE as exc:
            self._unreachable("incr", exc)
            raise ValueError(f"Key '{key}' not found (cache unreachable)") from exc
