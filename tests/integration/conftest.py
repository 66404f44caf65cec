"""Real PostgreSQL + Redis + `celery worker` subprocesses.

These run when `make test` finds PostgreSQL and Redis (always in CI): the suite is
started with DATABASE_URL/REDIS_URL set and ``-m integration``. Workers connect to
pytest-django's test database, so tests use ``transaction=True`` to make rows visible.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT = 180


def _require_services():
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("integration tests need DATABASE_URL=postgres://... and REDIS_URL (make test sets them)")


class Worker:
    def __init__(self, name: str, env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self.log = open(log_path, "wb")
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "eduplatform",
            "worker",
            "-Q",
            "gpu,default",
            "-c",
            "1",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if " ready." in text:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{text[-3000:]}")
            time.sleep(0.5)
        raise TimeoutError(f"worker not ready in {WORKER_READY_TIMEOUT}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as an OOM killer would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path, settings):
    """Start real workers against the test database and a dedicated Redis database."""
    _require_services()
    import redis
    from django.db import connection

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    settings.MEDIA_ROOT = str(tmp_path / "var" / "private-media")  # the workers read the same files
    db = connection.settings_dict
    db_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    workers: list[Worker] = []

    def start(**extra_env: str) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": settings.REDIS_URL,
            "EDUPLATFORM_VAR_DIR": str(tmp_path / "var"),
            "HF_HUB_OFFLINE": "1",
            **extra_env,
        }
        name = f"test-{uuid.uuid4().hex[:8]}"
        w = Worker(name, env, tmp_path / f"{name}.log")
        workers.append(w)
        w.wait_ready()
        return w

    yield start
    for w in workers:
        w.stop()


def wait_for(predicate, timeout: float = 120, interval: float = 0.3, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
