"""Forwarding stored xAPI statements to an external LRS (e.g. Ralph), when one is configured."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence

from eduplatform.core.conf import settings
from eduplatform.core.models import LearningEvent
from eduplatform.core.tasking import enqueue

LRS_TIMEOUT_SECONDS = 10
LRS_BATCH = 200


def statement_json(event: LearningEvent) -> dict:
    """A stored event as an xAPI statement (for forwarding to an external LRS)."""
    statement = {
        "id": str(event.statement_id),
        "actor": event.actor or {"objectType": "Agent"},
        "verb": {"id": event.verb, "display": {"en-US": event.verb_name}},
        "object": {"objectType": "Activity", "id": event.object_id, "definition": {"type": event.object_type}},
        "timestamp": event.timestamp.isoformat(),
        "stored": event.stored_at.isoformat(),
    }
    if event.result:
        statement["result"] = event.result
    if event.context:
        statement["context"] = event.context
    return statement


def events_forward_to_lrs(*, event_ids: Sequence[int]) -> None:
    """Queue stored statements for the external LRS (no-op when EDUPLATFORM_LRS_URL is empty).

    Call after commit (``event_record`` does) so the worker finds the rows.
    """
    if settings.LRS_URL and event_ids:
        enqueue("eduplatform.forward_statements", event_ids=list(event_ids))


def statements_send(*, event_ids: Sequence[int]) -> int:
    """POST stored statements to EDUPLATFORM_LRS_URL (the xAPI ``/statements`` endpoint).

    The LRS treats a known statement id as a no-op, so retries are safe. Returns the
    number of statements sent; raises URLError on a non-2xx answer (the task retries).
    """
    url = settings.LRS_URL
    if not url or not event_ids:
        return 0
    sent = 0
    events = list(LearningEvent.objects.filter(pk__in=event_ids).order_by("timestamp", "id"))
    for i in range(0, len(events), LRS_BATCH):
        body = json.dumps([statement_json(e) for e in events[i : i + LRS_BATCH]]).encode()
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"},
        )
        if settings.LRS_AUTH:
            req.add_header("Authorization", settings.LRS_AUTH)
        with urllib.request.urlopen(req, timeout=LRS_TIMEOUT_SECONDS) as resp:
            if resp.status >= 300:
                raise urllib.error.URLError(f"LRS answered {resp.status}")
        sent += len(events[i : i + LRS_BATCH])
    return sent
