"""Thin Celery shells around core services."""

from __future__ import annotations

import urllib.error

from eduplatform.core.lrs import statements_send
from eduplatform.core.tasking import task

LRS_TIME_LIMIT = 120


@task(
    "eduplatform.forward_statements", time_limit=LRS_TIME_LIMIT, max_retries=8, autoretry_for=(urllib.error.URLError,)
)
def forward_statements(*, event_ids: list[int]) -> int:
    """Send stored statements to the external LRS (idempotent there on statement id)."""
    return statements_send(event_ids=event_ids)
