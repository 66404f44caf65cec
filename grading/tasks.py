"""Thin Celery shells around grading services. Ids in, counts out; idempotent."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

GRADE_SOFT_TIME_LIMIT = 600
GRADE_TIME_LIMIT = 660
SWEEP_TIME_LIMIT = 120


@shared_task(name="grading.grade_pending", bind=True, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5, soft_time_limit=GRADE_SOFT_TIME_LIMIT, time_limit=GRADE_TIME_LIMIT)
def grade_pending(self, *, submission_ids: list[int] | None = None) -> int:
    """Wake-up: claim and grade pending submissions in batches until none are left."""
    from grading.services import grade_pending_batches

    return grade_pending_batches(hint_ids=submission_ids)


@shared_task(name="grading.sweep_stuck", acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=3, time_limit=SWEEP_TIME_LIMIT)
def sweep_stuck() -> dict:
    from grading.services import submissions_sweep

    return submissions_sweep()

TRAIN_SOFT_TIME_LIMIT = 1800
TRAIN_TIME_LIMIT = 1900


@shared_task(name="grading.train_grader", acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=3, soft_time_limit=TRAIN_SOFT_TIME_LIMIT, time_limit=TRAIN_TIME_LIMIT)
def train_grader(*, assignment_id: int) -> str | None:
    from grading.services import grader_train

    model = grader_train(assignment_id=assignment_id)
    return model.version if model else None


@shared_task(name="grading.retrain_stale", acks_late=True, time_limit=SWEEP_TIME_LIMIT)
def retrain_stale() -> list[int]:
    from grading.services import graders_retrain_stale

    return graders_retrain_stale()


@shared_task(name="grading.build_answer_groups", acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=3, soft_time_limit=GRADE_SOFT_TIME_LIMIT, time_limit=GRADE_TIME_LIMIT)
def build_answer_groups(*, assignment_id: int) -> int:
    from grading.services import answer_groups_build

    return answer_groups_build(assignment_id=assignment_id)
