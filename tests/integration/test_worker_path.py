"""End to end: API POST -> PostgreSQL -> Redis -> real celery worker -> grade -> API read."""

from __future__ import annotations

import pytest

from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _status(sub_id: int) -> str:
    from eduplatform.core.models import Submission

    return Submission.objects.get(pk=sub_id).status


def test_submission_is_graded_by_a_real_worker(start_worker, course_setup, api_for, png_bytes, settings):
    from grading.models import Grade, GradingPolicy

    GradingPolicy.objects.create(assignment=course_setup["assignment"], release="auto", auto_release_confidence=0.0)
    start_worker()
    alice = api_for(course_setup["alice"])
    resp = alice.post(
        "/api/v1/submissions/",
        {
            "assignment": course_setup["assignment"].pk,
            "text": "A stack is a LIFO structure: you push elements on top and pop the most recent one first.",
        },
        format="multipart",
    )
    assert resp.status_code == 201, resp.content
    sub_id = resp.json()["id"]
    wait_for(lambda: _status(sub_id) in ("graded", "needs_review", "failed"), what="grade written back")
    assert _status(sub_id) != "failed"
    grade = Grade.objects.get(submission_id=sub_id)
    assert grade.model_version and 0 <= grade.confidence <= 1
    body = alice.get(f"/api/v1/submissions/{sub_id}/").json()
    assert body["status"] in ("graded", "needs_review")
    if grade.released_at:
        assert body["result"]["score"] is not None
    # bob never sees alice's result
    assert api_for(course_setup["bob"]).get(f"/api/v1/submissions/{sub_id}/").status_code == 404


def test_worker_killed_mid_task_is_recovered_and_graded_once(start_worker, course_setup, api_for):
    """SIGKILL while running: the sweeper takes the lease back, a new worker grades it exactly once."""
    from eduplatform.core.models import Submission
    from grading.models import Grade
    from grading.tasks import sweep_stuck

    doomed = start_worker(EDUPLATFORM_GRADING_FAULT_DELAY_SECONDS="60", EDUPLATFORM_GRADING_LEASE_SECONDS="2")
    resp = api_for(course_setup["alice"]).post(
        "/api/v1/submissions/",
        {"assignment": course_setup["assignment"].pk, "text": "Push and pop at the top: last in, first out."},
        format="multipart",
    )
    sub_id = resp.json()["id"]
    wait_for(lambda: _status(sub_id) == "running", what="worker to claim the submission")
    doomed.kill()
    assert _status(sub_id) == "running" and not Grade.objects.filter(submission_id=sub_id).exists()

    start_worker(EDUPLATFORM_GRADING_LEASE_SECONDS="300")
    wait_for(
        lambda: (
            Submission.objects.get(pk=sub_id).lease_expires_at is not None
            and Submission.objects.get(pk=sub_id).lease_expires_at.timestamp() < __import__("time").time()
        ),
        what="lease expiry",
    )
    sweep_stuck.delay()  # what celery beat sends every minute
    wait_for(lambda: _status(sub_id) in ("graded", "needs_review"), what="regrade after sweep")
    sub = Submission.objects.get(pk=sub_id)
    # the lost worker is bookkept as infrastructure, not as one of the student's tries
    assert (sub.claim_count, sub.lease_losses, sub.model_failures) == (2, 1, 0)
    assert Grade.objects.filter(submission_id=sub_id).count() == 1
    # a second sweep finds nothing to do and grades nothing twice
    sweep_stuck.delay()
    import time

    time.sleep(3)
    assert Grade.objects.filter(submission_id=sub_id).count() == 1
