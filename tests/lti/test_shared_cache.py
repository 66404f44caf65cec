"""LTI nonces across two web processes sharing Redis (issue 13: with per-process caches, 5 of 12
valid launches failed "Invalid Nonce" under two gunicorn workers).

Two separate ``manage.py runserver`` processes share one SQLite file and one Redis cache
(``EDUPLATFORM_CACHE_URL``, a key prefix of its own). The OIDC login happens in process A,
the launch is posted to process B: it succeeds; the same id_token posted again (to A) is
refused as a replay.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.lti.platform import LEARNER, Scenario, TestPlatform
from tests.lti.test_hardening import _launch_form

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("EDUPLATFORM_TEST_CACHE_URL", "redis://127.0.0.1:6379/13")

pytestmark = pytest.mark.slow


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_timeout=1).ping())
    except Exception:  # noqa: BLE001 - any failure means "not available here"
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_processes(tmp_path):
    if not _redis_up():
        pytest.skip(f"Redis not reachable at {REDIS}")
    prefix = f"lti-test-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EDUPLATFORM_", "REDIS_URL"))},
        "DJANGO_SETTINGS_MODULE": "eduplatform.settings",
        "DJANGO_SECRET_KEY": "two-process-test-" + uuid.uuid4().hex,
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "EDUPLATFORM_VAR_DIR": str(tmp_path),
        "EDUPLATFORM_CACHE_URL": REDIS,
        "EDUPLATFORM_CACHE_PREFIX": prefix,
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for port in ports:
            for _ in range(120):
                try:
                    requests.get(f"http://127.0.0.1:{port}/lti/jwks.json", timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.5)
            else:
                raise AssertionError(f"server on {port} did not start")
        yield env, [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        import redis

        r = redis.Redis.from_url(REDIS)
        for key in r.scan_iter(f"{prefix}:*"):
            r.delete(key)


def test_launch_whose_login_ran_in_another_process_succeeds_and_a_replay_fails(two_processes):
    env, (a, b) = two_processes
    platform = TestPlatform().start()
    try:
        register = (
            "from lti_tool.models import LtiRegistration, LtiDeployment;"
            f"r = LtiRegistration.objects.create(name='LMS', issuer='{platform.issuer}', "
            f"client_id='{platform.client_id}', auth_url='{platform.auth_url}', token_url='{platform.token_url}', "
            f"keyset_url='{platform.jwks_url}');"
            f"LtiDeployment.objects.create(registration=r, deployment_id='{platform.deployment_id}', is_active=True)"
        )
        subprocess.run([sys.executable, "manage.py", "shell", "-c", register], cwd=ROOT, env=env, check=True)
        # One public host in front of two processes: the login lands on A (which names its own launch
        # URL to the platform), the launch POST on B (the test plays the load balancer).
        platform.tool_login_url, platform.tool_launch_url = f"{a}/lti/login/", f"{a}/lti/launch/"
        platform.tool_jwks_url = f"{a}/lti/jwks.json"
        browser, fields = _launch_form(platform, Scenario(user_id="student-7", roles=LEARNER))

        page = browser.session.post(f"{b}/lti/launch/", data=fields, timeout=30)
        assert page.status_code == 404 and "not attached" in page.text, page.text[:500]  # past every check

        replay = browser.session.post(f"{a}/lti/launch/", data=fields, timeout=30)
        assert replay.status_code == 403 and "nonce has already been used" in replay.text
    finally:
        platform.stop()
