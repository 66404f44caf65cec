"""The shared cache with Redis down: nothing raises, reads miss, one-time ``add`` refuses."""

from __future__ import annotations

import pytest

from eduplatform.core.cache import ResilientRedisCache
from grading.management.fleet import free_port


@pytest.fixture
def dead_cache():
    """A cache whose Redis is a closed port on 127.0.0.1."""
    return ResilientRedisCache(f"redis://127.0.0.1:{free_port()}/0", {})


def test_unreachable_redis_is_a_cache_that_remembers_nothing(dead_cache, caplog):
    dead_cache.set("k", 1)
    assert dead_cache.get("k", "miss") == "miss"
    assert dead_cache.get_many(["k", "j"]) == {}
    assert dead_cache.has_key("k") is False
    assert dead_cache.delete("k") is False
    dead_cache.delete_many(["k"])
    assert dead_cache.set_many({"a": 1}) == ["a"]
    assert dead_cache.touch("k") is False
    assert "cache unreachable" in caplog.text


def test_one_time_values_are_refused_not_accepted(dead_cache):
    assert dead_cache.add("used-nonce-123", 1) is False  # "already used": an LTI replay is not let through
    with pytest.raises(ValueError):
        dead_cache.incr("failures")


def test_socket_timeouts_are_short_unless_configured():
    cache = ResilientRedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": {"socket_timeout": 3}})
    assert cache._options == {"socket_connect_timeout": 1.0, "socket_timeout": 3}
