"""Thin Celery shells around the grading pipeline and services. Ids in, counts out; idempotent.

Enqueued by name (``eduplatform.core.tasking.enqueue``); the retry policy is the shared one.
"""

from __future__ import annotations

from eduplatform.core.api import task
from grading import pipeline, services

GRADE_TIME_LIMIT = 660
# A grading task claims no new batch after this long (a batch of 32 photos takes 50-80 s
# on a CPU node): it wakes a fresh task instead of running into GRADE_TIME_LIMIT.
GRADE_CLAIM_BUDGET = 300
SWEEP_TIME_LIMIT = 120
TRAIN_TIME_LIMIT = 1900


@task("grading.grade_pending", time_limit=GRADE_TIME_LIMIT)
def grade_pending(*, submission_ids: list[int] | None = None) -> int:
    """Wake-up: claim and grade pending submissions in batches until none are left (or the budget is spent)."""
    return pipeline.grade_pending_batches(hint_ids=submission_ids, budget_s=GRADE_CLAIM_BUDGET)


@task("grading.sweep_stuck", time_limit=SWEEP_TIME_LIMIT, max_retries=3)
def sweep_stuck() -> dict:
    """Beat, every minute, on the default queue (never behind grading work on ``gpu``)."""
    return services.submissions_sweep()


@task("grading.train_grader", time_limit=TRAIN_TIME_LIMIT, max_retries=3)
def train_grader(*, assignment_id: int) -> str | None:
    model = pipeline.grader_train(assignment_id=assignment_id)
    return model.version if model else None


@task("grading.retrain_stale", time_limit=SWEEP_TIME_LIMIT, max_retries=3)
def retrain_stale() -> list[int]:
    return services.graders_retrain_stale()


@task("grading.build_answer_groups", time_limit=GRADE_TIME_LIMIT, max_retries=3)
def build_answer_groups(*, assignment_id: int) -> int:
    return pipeline.answer_groups_build(assignment_id=assignment_id)
