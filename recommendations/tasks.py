"""Thin Celery shells around the recommendations services. Ids in, counts out; idempotent.

Enqueued by name (``eduplatform.core.api.enqueue`` / ``enqueue_on_commit``); the retry
policy is the shared one (``eduplatform.core.api.task``). Worker-only code (deep
knowledge tracing, encoders for resource embeddings) is imported here, never by a
module the web process loads.
"""

from __future__ import annotations

from eduplatform.core.api import Course, Student, task
from recommendations.mastery import services as mastery
from recommendations.mastery import training
from recommendations.paths import services as paths
from recommendations.resources import embedding
from recommendations.risk import services as risk

RECOMPUTE_SOFT_TIME_LIMIT = 1800
RECOMPUTE_TIME_LIMIT = 1860
TRAIN_TIME_LIMIT = 3600
PATH_TIME_LIMIT = 120
COURSE_PATHS_TIME_LIMIT = 1800
EMBED_SOFT_TIME_LIMIT = 1800
EMBED_TIME_LIMIT = 1860
KT_TRAIN_SOFT_TIME_LIMIT = 3600
KT_TRAIN_TIME_LIMIT = 3660


# ------------------------------------------------------------------ behaviour and risk


@task(
    "recommendations.recompute_behaviour",
    time_limit=RECOMPUTE_TIME_LIMIT,
    soft_time_limit=RECOMPUTE_SOFT_TIME_LIMIT,
    max_retries=3,
)
def recompute_behaviour(*, course_ids: list[int] | None = None, train: bool = True) -> dict:
    """Periodic (beat): retrain stale at-risk models, then recompute engagement, patterns,
    risk and alerts for active courses (or the given ones). Safe to run twice: results
    are upserted on (student, course, hour)."""
    if course_ids is None:
        result = risk.behaviour_recompute_active(train=train)
        return {"trained": result["trained"], "courses": {str(k): v for k, v in result["courses"].items()}}
    if train:
        risk.risk_models_refresh()
    return {"courses": {str(cid): risk.behaviour_recompute_course(course_id=cid) for cid in course_ids}}


@task("recommendations.train_risk_model", time_limit=TRAIN_TIME_LIMIT, max_retries=3)
def train_risk_model(*, cutoff_day: int) -> str | None:
    row = risk.risk_model_train(cutoff_day=cutoff_day)
    return row.version if row else None


# ------------------------------------------------------------------ mastery


@task("recommendations.update_mastery", time_limit=PATH_TIME_LIMIT)
def update_mastery(*, grade_id: int | None = None, event_id: int | None = None) -> int:
    """A released/confirmed grade or an answered statement updates mastery (idempotent:
    the attempt is upserted on its source). Returns the number of skills updated."""
    n = 0
    if grade_id is not None:
        n += len(mastery.mastery_update_from_grade(grade_id=grade_id))
    if event_id is not None:
        n += len(mastery.mastery_update_from_event(event_id=event_id))
    return n


@task(
    "recommendations.train_kt_model",
    time_limit=KT_TRAIN_TIME_LIMIT,
    soft_time_limit=KT_TRAIN_SOFT_TIME_LIMIT,
    max_retries=2,
)
def train_kt_model(
    *, deep_model: str = "dkt", max_epochs: int | None = None, time_budget_s: float | None = None
) -> str | None:
    """Periodic (beat): train BKT and the deep model on the school's history and serve the
    better one on held-out students. Returns the serving version (None: not enough data)."""
    row = training.kt_train_and_select(deep_model=deep_model, max_epochs=max_epochs, time_budget_s=time_budget_s)
    return row.version if row else None


@task(
    "recommendations.refresh_mastery",
    time_limit=KT_TRAIN_TIME_LIMIT,
    soft_time_limit=KT_TRAIN_SOFT_TIME_LIMIT,
    max_retries=3,
)
def refresh_mastery(*, student_id: int | None = None, skill_ids: list[int] | None = None) -> int:
    """Recompute mastery with the serving model: everyone (after a model switch), or one
    student's skills (the deep model's estimate replacing the BKT one written on the web)."""
    return training.mastery_refresh_with_serving(
        student_ids=None if student_id is None else [student_id], skill_ids=skill_ids
    )


# ------------------------------------------------------------------ paths and resources


@task("recommendations.recompute_path", time_limit=PATH_TIME_LIMIT)
def recompute_path(*, student_id: int, course_id: int) -> int | None:
    """Recompute one student's learning path (keeps the current one when nothing changed)."""
    student = Student.objects.filter(pk=student_id).first()
    course = Course.objects.filter(pk=course_id).first()
    if student is None or course is None:
        return None
    return paths.learning_path_recompute(student=student, course=course).pk


@task("recommendations.recompute_paths_course", time_limit=COURSE_PATHS_TIME_LIMIT, max_retries=3)
def recompute_paths_course(*, course_id: int) -> int:
    return paths.learning_paths_recompute_course(course_id=course_id)


@task(
    "recommendations.embed_resources", time_limit=EMBED_TIME_LIMIT, soft_time_limit=EMBED_SOFT_TIME_LIMIT, max_retries=3
)
def embed_resources(*, resource_ids: list[int]) -> int:
    """Transcribe/OCR resource files and embed their text (GPU queue: loads the encoders)."""
    return embedding.resources_embed(resource_ids=resource_ids)
