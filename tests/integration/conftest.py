"""Real PostgreSQL + Redis + `celery worker` / `celery beat` / gunicorn subprocesses.

These run when `make test` finds PostgreSQL and Redis (always in CI): the suite is
started with DATABASE_URL/REDIS_URL set and ``-m integration``. Processes connect to
pytest-django's test database, so tests use ``transaction=True`` to make rows visible.
The processes come from ``grading.management.fleet`` (the same code ``manage.py chaos`` uses).
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from grading.management.fleet import CeleryBeat, CeleryWorker, RedisServer, WebServer, free_port, wait_until

__all__ = ["wait_for"]


def _require_services():
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("integration tests need DATABASE_URL=postgres://... and REDIS_URL (make test sets them)")


@pytest.fixture
def fleet_env(transactional_db, tmp_path, settings):
    """Environment for child processes: the test database, the suite's Redis, files under tmp_path."""
    _require_services()
    import redis
    from django.db import connection

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    settings.MEDIA_ROOT = str(tmp_path / "var" / "private-media")  # the workers read the same files
    db = connection.settings_dict
    db_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": settings.REDIS_URL,
        "EDUPLATFORM_VAR_DIR": str(tmp_path / "var"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@pytest.fixture
def start_worker(fleet_env, tmp_path):
    """Start real workers (queues gpu and default) against the test database."""
    workers: list[CeleryWorker] = []

    def start(*, queues: str = "gpu,default", wait: bool = True, **extra_env: str) -> CeleryWorker:
        name = f"test-{uuid.uuid4().hex[:8]}"
        w = CeleryWorker(name, {**fleet_env, **extra_env}, tmp_path / f"{name}.log", queues=queues)
        workers.append(w.start())
        return w.wait_ready() if wait else w

    yield start
    for w in workers:
        w.stop()


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of this test's own, on a free port, that the test may stop and start again."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port(), tmp_path / "redis.log").start()
    yield server
    server.stop()


@pytest.fixture
def start_beat(fleet_env, tmp_path):
    beats: list[CeleryBeat] = []

    def start(**extra_env: str) -> CeleryBeat:
        beat = CeleryBeat({**fleet_env, **extra_env}, tmp_path / "beat.log", tmp_path / "beat-schedule")
        beats.append(beat.start())
        return beat

    yield start
    for beat in beats:
        beat.stop()


@pytest.fixture
def start_web(fleet_env, tmp_path):
    """gunicorn with the production config on a free 127.0.0.1 port."""
    servers: list[WebServer] = []

    def start(**extra_env: str) -> WebServer:
        server = WebServer(free_port(), {**fleet_env, **extra_env}, tmp_path / "web.log")
        servers.append(server.start())
        return server.wait_ready()

    yield start
    for server in servers:
        server.stop()


def wait_for(predicate, timeout: float = 120, interval: float = 0.3, what: str = "condition"):
    return wait_until(predicate, timeout, what, interval)
