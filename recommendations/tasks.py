"""Thin Celery shells around behaviour-analysis services. Ids in, counts out; idempotent."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from celery import shared_task
from django.db import OperationalError

RECOMPUTE_SOFT_TIME_LIMIT = 1800
RECOMPUTE_TIME_LIMIT = 1860
TRAIN_TIME_LIMIT = 3600
LRS_TIMEOUT_SECONDS = 10
LRS_BATCH = 200


@shared_task(name="recommendations.recompute_behaviour", acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=3, soft_time_limit=RECOMPUTE_SOFT_TIME_LIMIT,
             time_limit=RECOMPUTE_TIME_LIMIT)
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


@shared_task(name="recommendations.train_risk_model", acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=3, time_limit=TRAIN_TIME_LIMIT)
def train_risk_model(*, cutoff_day: int) -> str | None:
    from recommendations import services

    row = services.risk_model_train(cutoff_day=cutoff_day)
    return row.version if row else None


@shared_task(name="recommendations.forward_statements", bind=True, acks_late=True,
             autoretry_for=(OperationalError, urllib.error.URLError, TimeoutError), retry_backoff=True,
             max_retries=8)
def forward_statements(self, *, event_ids: list[int]) -> int:
    """POST stored statements to the external LRS at EDUPLATFORM_LRS_URL (xAPI
    ``/statements`` endpoint, e.g. Ralph). The LRS treats a known statement id as a
    no-op, so retries are safe. Returns the number of statements sent."""
    from eduplatform.conf import settings
    from eduplatform.models import LearningEvent
    from recommendations.selectors import statement_json

    url = settings.LRS_URL
    if not url or not event_ids:
        return 0
    sent = 0
    events = list(LearningEvent.objects.filter(pk__in=event_ids).order_by("timestamp", "id"))
    for i in range(0, len(events), LRS_BATCH):
        body = json.dumps([statement_json(e) for e in events[i:i + LRS_BATCH]]).encode()
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"})
        if settings.LRS_AUTH:
            req.add_header("Authorization", settings.LRS_AUTH)
        with urllib.request.urlopen(req, timeout=LRS_TIMEOUT_SECONDS) as resp:
            if resp.status >= 300:
                raise urllib.error.URLError(f"LRS answered {resp.status}")
        sent += len(events[i:i + LRS_BATCH])
    return sent
