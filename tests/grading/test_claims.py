"""Claims, leases and the sweeper: lost workers never use up a student's tries; a poison row is isolated.

Fast tests on the embedded SQLite database; the same code against PostgreSQL, Redis and
real killed workers is in tests/integration/test_reliability.py.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from django.utils import timezone

from eduplatform.core.models import Submission
from grading import pipeline, services
from grading.models import Grade
from tests.factories import AssignmentFactory, StudentFactory

S = Submission.Status


@pytest.fixture
def rows(db):
    assignment = AssignmentFactory()

    def make(n: int, **fields) -> list[Submission]:
        return [
            Submission.objects.create(
                assignment=assignment,
                student=StudentFactory(),
                text="A stack is last in, first out: push and pop at the top.",
                **fields,
            )
            for _ in range(n)
        ]

    return make


@pytest.fixture
def woken(monkeypatch):
    """Wake-ups the services send (the broker is not the subject here)."""
    calls: list[list[int]] = []
    monkeypatch.setattr(services, "grading_enqueue", lambda *, submission_ids: calls.append(list(submission_ids)))
    return calls


def _expire(token_or_ids) -> None:
    qs = Submission.objects.filter(status=S.RUNNING)
    qs = qs.filter(claim_token=token_or_ids) if isinstance(token_or_ids, str) else qs.filter(pk__in=token_or_ids)
    qs.update(lease_expires_at=timezone.now() - timedelta(seconds=1))


def test_claim_takes_pending_rows_once_with_a_lease(rows, settings):
    settings.EDUPLATFORM_GRADING_LEASE_SECONDS = 60
    subs = rows(3)
    token, ids = services.submissions_claim(limit=10)
    assert sorted(ids) == sorted(s.pk for s in subs)
    sub = Submission.objects.get(pk=ids[0])
    assert sub.status == S.RUNNING and sub.claim_token == token and sub.claim_count == 1
    assert timedelta(seconds=50) < sub.lease_expires_at - timezone.now() <= timedelta(seconds=60)
    assert services.submissions_claim(limit=10)[1] == []  # nobody claims them twice


def test_heartbeat_renews_only_the_rows_still_held(rows, settings):
    settings.EDUPLATFORM_GRADING_LEASE_SECONDS = 60
    a, b = rows(2)
    token, _ = services.submissions_claim(limit=2)
    Submission.objects.filter(pk__in=[a.pk, b.pk]).update(lease_expires_at=timezone.now() + timedelta(seconds=5))
    Submission.objects.filter(pk=b.pk).update(status=S.PENDING, claim_token="")  # b was taken back
    assert services.claims_extend(token=token) == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.lease_expires_at - timezone.now() > timedelta(seconds=50)
    assert b.lease_expires_at - timezone.now() < timedelta(seconds=6)
    Submission.objects.filter(pk=a.pk).update(status=S.GRADED, claim_token="")
    assert services.claims_extend(token=token) == 0  # nothing held: the heartbeat stops


def test_expired_leases_are_taken_back_without_using_a_try(rows, woken, settings):
    settings.EDUPLATFORM_MAX_MODEL_FAILURES = 1
    settings.EDUPLATFORM_MAX_LEASE_LOSSES = 10
    (sub,) = rows(1)
    for round_ in range(1, 6):  # five lost workers in a row
        token, ids = services.submissions_claim(limit=32)
        assert ids == [sub.pk]
        _expire(token)
        report = services.submissions_sweep()
        assert report["reclaimed"] == 1 and report["failed"] == 0
        sub.refresh_from_db()
        assert (sub.status, sub.lease_losses, sub.model_failures, sub.claim_count) == (S.PENDING, round_, 0, round_)
        assert sub.pk in woken[-1]  # woken again at once, not after PENDING_REQUEUE_SECONDS
    assert not sub.failure_reason


def test_a_lease_renewed_meanwhile_is_not_taken_back(rows, woken):
    rows(1)
    token, ids = services.submissions_claim(limit=1)
    assert services.claims_extend(token=token) == 1  # renewed just now: not expired
    assert services.submissions_sweep()["reclaimed"] == 0
    assert Submission.objects.get(pk=ids[0]).claim_token == token


def test_rows_of_a_lost_batch_come_back_in_halving_batches(rows, settings):
    settings.EDUPLATFORM_GRADING_BATCH_SIZE = 32
    rows(40, lease_losses=1)
    assert len(services.submissions_claim(limit=32)[1]) == 16
    Submission.objects.filter(status=S.PENDING).update(lease_losses=3)
    assert len(services.submissions_claim(limit=32)[1]) == 4
    Submission.objects.filter(status=S.PENDING).update(lease_losses=5)
    assert len(services.submissions_claim(limit=32)[1]) == 1


def test_a_suspect_row_does_not_join_a_full_batch_of_clean_ones(rows):
    clean = rows(5)
    (suspect,) = rows(1, lease_losses=6)
    _, ids = services.submissions_claim(limit=32)
    assert sorted(ids) == sorted(s.pk for s in clean)
    assert services.submissions_claim(limit=32)[1] == [suspect.pk]


def test_poison_row_is_alerted_then_failed_after_many_losses(rows, woken, settings, caplog):
    settings.EDUPLATFORM_LEASE_LOSS_ALERT = 2
    settings.EDUPLATFORM_MAX_LEASE_LOSSES = 4
    (sub,) = rows(1)
    caplog.set_level(logging.ERROR, logger="grading.services")
    for expected in (S.PENDING, S.PENDING, S.PENDING, S.FAILED):
        token, _ = services.submissions_claim(limit=32)
        _expire(token)
        services.submissions_sweep()
        sub.refresh_from_db()
        assert sub.status == expected
    assert sub.lease_losses == 4 and sub.model_failures == 0
    assert "4 times" in sub.failure_reason and "grade it by hand" in sub.failure_reason
    alerts = [r for r in caplog.records if "worker was lost" in r.getMessage()]
    assert len(alerts) == 3  # at losses 2, 3 and 4


def test_model_errors_use_up_tries_and_then_fail(rows, settings):
    settings.EDUPLATFORM_MAX_MODEL_FAILURES = 2
    (sub,) = rows(1)
    token, _ = services.submissions_claim(limit=1)
    assert services.submission_model_failed(submission_id=sub.pk, token=token) == S.PENDING
    token, _ = services.submissions_claim(limit=1)
    assert services.submission_model_failed(submission_id=sub.pk, token="not-the-token") == ""  # claim not held
    assert services.submission_model_failed(submission_id=sub.pk, token=token) == S.FAILED
    sub.refresh_from_db()
    assert sub.model_failures == 2 and sub.lease_losses == 0
    assert "2 tries" in sub.failure_reason and "Traceback" not in sub.failure_reason


def test_regrade_starts_the_bookkeeping_afresh(rows, woken):
    (sub,) = rows(1, status=S.FAILED, claim_count=7, lease_losses=4, model_failures=3, failure_reason="x")
    assert services.assignment_regrade(assignment_id=sub.assignment_id, only_failed=True) == 1
    sub.refresh_from_db()
    assert (sub.status, sub.claim_count, sub.lease_losses, sub.model_failures) == (S.PENDING, 0, 0, 0)
    assert sub.failure_reason == ""


def test_time_limit_gives_the_batch_back_as_a_loss(rows, monkeypatch):
    rows(4)

    def too_slow(assignment, subs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pipeline, "grade_batch", too_slow)
    with pytest.raises(SoftTimeLimitExceeded):
        pipeline.grade_pending_batches()
    assert set(Submission.objects.values_list("status", "lease_losses", "model_failures")) == {(S.PENDING, 1, 0)}


def test_database_error_is_not_charged_to_the_rows(rows, monkeypatch):
    rows(3)

    def db_down(assignment, subs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pipeline, "grade_batch", db_down)
    with pytest.raises(OperationalError):  # the task's autoretry takes it from here
        pipeline.grade_pending_batches()
    assert set(Submission.objects.values_list("status", "lease_losses", "model_failures")) == {(S.PENDING, 0, 0)}


def test_claim_budget_spent_wakes_a_fresh_task_instead(rows, woken):
    subs = rows(2)
    assert pipeline.grade_pending_batches(budget_s=-1) == 0
    assert sorted(woken[-1]) == sorted(s.pk for s in subs)
    assert not Submission.objects.exclude(status=S.PENDING).exists()


@pytest.mark.slow
def test_row_the_model_raises_on_is_found_by_halving_and_the_others_are_graded(rows, monkeypatch, settings):
    """Fault injection around the real pipeline: one row makes the model raise; 7 others are graded."""
    settings.EDUPLATFORM_MAX_MODEL_FAILURES = 2
    subs = rows(8)
    poison = subs[5].pk
    real = pipeline.grade_batch
    batches: list[int] = []

    def grade_batch(assignment, group):
        batches.append(len(group))
        if any(s.pk == poison for s in group):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real(assignment, group)

    monkeypatch.setattr(pipeline, "grade_batch", grade_batch)
    pipeline.grade_pending_batches()
    statuses = dict(Submission.objects.values_list("pk", "status"))
    assert statuses.pop(poison) == S.PENDING  # given back for a later try, not retried at once
    assert set(statuses.values()) <= {S.GRADED, S.NEEDS_REVIEW}
    assert Grade.objects.filter(submission_id__in=statuses).count() == 7
    assert batches[0] == 8 and max(batches[1:]) <= 4 and batches.count(1) >= 1
    bad = Submission.objects.get(pk=poison)
    assert (bad.model_failures, bad.lease_losses) == (1, 0)
    pipeline.grade_pending_batches()  # the next wake-up: second failure, the row is failed
    bad.refresh_from_db()
    assert bad.status == S.FAILED and bad.model_failures == 2


def test_sweeper_runs_on_the_default_queue_not_behind_grading():
    from django.conf import settings as django_settings

    from eduplatform.celery import app

    route = app.amqp.router.route
    assert route({}, "grading.sweep_stuck")["queue"].name == "default"
    assert route({}, "grading.grade_pending")["queue"].name == "gpu"
    sweep = django_settings.CELERY_BEAT_SCHEDULE["sweep-stuck-submissions"]
    assert sweep["task"] == "grading.sweep_stuck" and sweep["options"]["queue"] == "default"
