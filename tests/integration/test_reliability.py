"""Workers that survive their own crashes, against real PostgreSQL, Redis, celery and gunicorn.

* a POST while Redis is down is a 201 (the row is saved; the sweeper sends the wake-up later);
* a pool process SIGKILLed the way the OOM killer does is replaced, and the new one grades;
* a batch longer than its lease keeps the lease (heartbeat): no second worker grades it;
* killed workers never use up a student's tries.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DONE = ("graded", "needs_review")
ANSWER = "A stack is last in, first out: you push on the top and pop the most recent element first."


def _sub(sub_id: int):
    from eduplatform.core.models import Submission

    return Submission.objects.get(pk=sub_id)


def _post(api_for, course_setup, text: str = ANSWER) -> int:
    resp = api_for(course_setup["alice"]).post(
        "/api/v1/submissions/", {"assignment": course_setup["assignment"].pk, "text": text}, format="multipart"
    )
    assert resp.status_code == 201, resp.content
    return resp.json()["id"]


def _grades(sub_id: int) -> int:
    from grading.models import Grade

    return Grade.objects.filter(submission_id=sub_id).count()


def test_post_during_redis_outage_is_saved_and_graded_after(
    course_setup, redis_server, start_worker, start_beat, start_web
):
    """gunicorn, a worker and beat on a Redis of the test's own; Redis stops, a student submits."""
    import requests
    from rest_framework.authtoken.models import Token

    env = {"REDIS_URL": redis_server.url, "EDUPLATFORM_PENDING_REQUEUE_SECONDS": "2"}
    start_worker(**env)
    start_beat(EDUPLATFORM_SWEEP_INTERVAL_SECONDS="2", **env)
    web = start_web(**env)
    http = requests.Session()
    http.headers["Authorization"] = f"Token {Token.objects.create(user=course_setup['alice']).key}"
    url = f"{web.url}/api/v1/submissions/"

    redis_server.stop()
    t0 = time.monotonic()
    resp = http.post(url, data={"assignment": course_setup["assignment"].pk, "text": ANSWER}, timeout=60)
    took = time.monotonic() - t0
    print(f"POST with the broker down: {resp.status_code} in {took:.2f}s")
    assert resp.status_code == 201, resp.text[:500]
    sub_id = resp.json()["id"]
    assert _sub(sub_id).status == "pending"  # stored; its wake-up was lost with the broker
    assert "could not enqueue grading.grade_pending" in web.log_text()  # logged, not raised

    redis_server.start()  # an empty Redis: every message it held is gone
    wait_for(lambda: _sub(sub_id).status in DONE, timeout=180, what="the sweeper to have it graded")
    assert _grades(sub_id) == 1
    # the web processes publish again once Redis is back
    again = http.post(url, data={"assignment": course_setup["assignment"].pk, "text": ANSWER}, timeout=60)
    assert again.status_code == 201
    wait_for(lambda: _sub(again.json()["id"]).status in DONE, what="a normal wake-up after the outage")


def test_killed_pool_process_comes_back_and_grades(start_worker, course_setup, api_for):
    """SIGKILL the pool process twice, the second time while its models still load.

    Celery's own start-up window (4 s) is kept here: loading MiniLM and OCR takes longer on
    this machine, so a process that loaded them before reporting ready was killed in a loop.
    """
    worker = start_worker(CELERY_WORKER_PROC_ALIVE_TIMEOUT="4", EDUPLATFORM_WARM_MODELS="text,image")
    wait_for(worker.pool_pids, what="a pool process")
    for _ in range(2):
        victim = worker.kill_pool_process()
        assert victim is not None
        new = wait_for(lambda v=victim: [p for p in worker.pool_pids() if p != v], what="a new pool process")[0]
    log_before = worker.log_text().count("models warm")
    wait_for(lambda: worker.log_text().count("models warm") > log_before, what="the new process to load its models")
    assert worker.pool_pids() == [new] and worker.alive()  # loading did not get it killed
    assert "Timed out waiting for UP message" not in worker.log_text()
    sub_id = _post(api_for, course_setup)
    wait_for(lambda: _sub(sub_id).status in DONE, what="the replacement process to grade")
    assert _grades(sub_id) == 1 and worker.pool_pids() == [new]


def test_lease_shorter_than_the_batch_is_renewed_and_nobody_grades_twice(start_worker, course_setup, api_for):
    """A batch runs 25 s under a 3 s lease while the sweeper runs every second and a second worker waits."""
    from grading import services
    from grading.tasks import grade_pending

    slow = start_worker(EDUPLATFORM_GRADING_LEASE_SECONDS="3", EDUPLATFORM_GRADING_FAULT_DELAY_SECONDS="25")
    sub_id = _post(api_for, course_setup)
    wait_for(lambda: _sub(sub_id).status == "running", what="the slow worker to claim")
    token = _sub(sub_id).claim_token
    stop = threading.Event()
    sweeps: list[dict] = []

    def sweeper() -> None:
        from django.db import connection

        try:
            while not stop.wait(1.0):
                sweeps.append(services.submissions_sweep())
        finally:
            connection.close()

    thread = threading.Thread(target=sweeper, daemon=True)
    thread.start()
    try:
        start_worker(EDUPLATFORM_GRADING_LEASE_SECONDS="3")  # idle and eager to grade
        for _ in range(3):
            grade_pending.delay(submission_ids=[sub_id])  # explicit wake-ups for the second worker
        wait_for(lambda: _sub(sub_id).status in DONE, timeout=120, what="the slow batch to finish")
    finally:
        stop.set()
        thread.join(timeout=30)
    sub = _sub(sub_id)
    assert len(sweeps) >= 10 and not any(s["reclaimed"] for s in sweeps)
    assert (sub.claim_count, sub.lease_losses) == (1, 0)  # claimed once, by the slow worker, and kept
    assert _grades(sub_id) == 1
    assert "claim lost" not in slow.log_text() and token


def test_killed_workers_do_not_use_up_the_students_tries(start_worker, course_setup, api_for):
    """Three SIGKILLs of the process grading a row whose model may fail only once: it is still graded."""
    from grading import services

    worker = start_worker(
        EDUPLATFORM_GRADING_LEASE_SECONDS="2",
        EDUPLATFORM_GRADING_FAULT_DELAY_SECONDS="4",
        EDUPLATFORM_MAX_MODEL_FAILURES="1",
    )
    sub_id = _post(api_for, course_setup)
    for kills in range(1, 4):
        wait_for(lambda k=kills: _sub(sub_id).claim_count == k and _sub(sub_id).status == "running", what="a claim")
        assert worker.kill_pool_process() is not None
        wait_for(lambda: _sub(sub_id).lease_expires_at.timestamp() < time.time(), what="the lease to expire")
        assert services.submissions_sweep()["reclaimed"] == 1  # what beat's sweep does every minute
    wait_for(lambda: _sub(sub_id).status in DONE, what="the fourth claim to grade")
    sub = _sub(sub_id)
    assert (sub.claim_count, sub.lease_losses, sub.model_failures) == (4, 3, 0)
    assert sub.failure_reason == "" and _grades(sub_id) == 1
    assert worker.alive()
