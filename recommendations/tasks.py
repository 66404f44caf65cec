"""Thin Celery shells around behaviour-analysis services. Ids in, counts out; idempotent."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

RECOMPUTE_SOFT_TIME_LIMIT = 1800
RECOMPUTE_TIME_LIMIT = 1860
TRAIN_TIME_LIMIT = 3600


@shared_task(
    name="recommendations.recompute_behaviour",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=RECOMPUTE_SOFT_TIME_LIMIT,
    time_limit=RECOMPUTE_TIME_LIMIT,
)
def recompute_behaviour(*, course_ids: list[int] | None = None, train: bool = True) -> dict:
    """Periodic (beat): retrain stale at-risk models, then recompute engagement, patterns,
    risk and alerts for active courses (or the given ones). Safe to run twice: results
    are upserted on (student, course, hour)."""
    from recommendations import services

    if course_ids is None:
        result = services.behaviour_recompute_active(train=train)
        return {"trained": result["trained"], "courses": {str(k): v for k, v in result["courses"].items()}}
    if train:
        services.risk_models_refresh()
    return {"courses": {str(cid): services.behaviour_recompute_course(course_id=cid) for cid in course_ids}}


@shared_task(
    name="recommendations.train_risk_model",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    time_limit=TRAIN_TIME_LIMIT,
)
def train_risk_model(*, cutoff_day: int) -> str | None:
    from recommendations import services

    row = services.risk_model_train(cutoff_day=cutoff_day)
    return row.version if row else None


# =============================================================================
# Learner model and learning paths (issue 6): thin shells around the services.
# =============================================================================

PATH_TIME_LIMIT = 120
COURSE_PATHS_TIME_LIMIT = 1800
EMBED_SOFT_TIME_LIMIT = 1800
EMBED_TIME_LIMIT = 1860
KT_TRAIN_SOFT_TIME_LIMIT = 3600
KT_TRAIN_TIME_LIMIT = 3660


@shared_task(
    name="recommendations.update_mastery",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    time_limit=PATH_TIME_LIMIT,
)
def update_mastery(*, grade_id: int | None = None, event_id: int | None = None) -> int:
    """A released/confirmed grade or an answered statement updates mastery (idempotent:
    the attempt is upserted on its source). Returns the number of skills updated."""
    from recommendations import services

    n = 0
    if grade_id is not None:
        n += len(services.mastery_update_from_grade(grade_id=grade_id))
    if event_id is not None:
        n += len(services.mastery_update_from_event(event_id=event_id))
    return n


@shared_task(
    name="recommendations.recompute_path",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    time_limit=PATH_TIME_LIMIT,
)
def recompute_path(*, student_id: int, course_id: int) -> int | None:
    """Recompute one student's learning path (keeps the current one when nothing changed)."""
    from eduplatform.core.api import Course, Student
    from recommendations import services

    student = Student.objects.filter(pk=student_id).first()
    course = Course.objects.filter(pk=course_id).first()
    if student is None or course is None:
        return None
    return services.learning_path_recompute(student=student, course=course).pk


@shared_task(
    name="recommendations.recompute_paths_course",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    time_limit=COURSE_PATHS_TIME_LIMIT,
)
def recompute_paths_course(*, course_id: int) -> int:
    from recommendations import services

    return services.learning_paths_recompute_course(course_id=course_id)


@shared_task(
    name="recommendations.embed_resources",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=EMBED_SOFT_TIME_LIMIT,
    time_limit=EMBED_TIME_LIMIT,
)
def embed_resources(*, resource_ids: list[int]) -> int:
    """Transcribe/OCR resource files and embed their text (GPU queue: loads the encoders)."""
    from recommendations import services

    return services.resources_embed(resource_ids=resource_ids)


@shared_task(
    name="recommendations.train_kt_model",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=2,
    soft_time_limit=KT_TRAIN_SOFT_TIME_LIMIT,
    time_limit=KT_TRAIN_TIME_LIMIT,
)
def train_kt_model(
    *, deep_model: str = "dkt", max_epochs: int | None = None, time_budget_s: float | None = None
) -> str | None:
    """Periodic (beat): train BKT and the deep model on the school's history and serve the
    better one on held-out students. Returns the serving version (None: not enough data)."""
    from recommendations import services

    row = services.kt_train_and_select(deep_model=deep_model, max_epochs=max_epochs, time_budget_s=time_budget_s)
    return row.version if row else None


@shared_task(
    name="recommendations.refresh_mastery",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=KT_TRAIN_SOFT_TIME_LIMIT,
    time_limit=KT_TRAIN_TIME_LIMIT,
)
def refresh_mastery() -> int:
    """Recompute every student's mastery with the serving model (after an admin switch)."""
    from recommendations import services

    return services.mastery_refresh_all()
