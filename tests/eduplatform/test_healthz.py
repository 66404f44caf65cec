"""/healthz for a load balancer: up while the database answers, "degraded" (still 200) without the
cache, 503 without the database; no login and nothing but three words."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

pytestmark = pytest.mark.django_db


def test_healthy(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert "no-cache" in resp["Cache-Control"] or "max-age=0" in resp["Cache-Control"]
    assert client.post("/healthz").status_code == 405


def test_cache_outage_is_degraded_not_down(client, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(cache, "get", lambda *a, **k: None)  # what ResilientRedisCache answers when Redis is gone
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json()["status"] == "degraded"


def test_database_outage_is_503(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def refuse(self, sql, params=None):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "cache": "ok",
    }
