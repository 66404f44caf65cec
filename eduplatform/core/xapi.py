"""xAPI statement validation and normalisation (the subset a learning-analytics store needs).

A statement: {"id": uuid?, "actor": {...}, "verb": {"id": IRI}, "object": {"id": IRI,
"definition": {"type": IRI}}, "result": {...}?, "context": {...}?, "timestamp": ISO 8601?}.
The course is taken from ``context.extensions[COURSE_EXT]`` (or ``"course_id"``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

COURSE_EXT = "https://w3id.org/eduplatform/xapi/course-id"
MAX_STATEMENTS_PER_REQUEST = 500


@dataclass
class ParsedStatement:
    statement_id: uuid.UUID
    actor: dict
    actor_name: str | None
    verb: str
    object_id: str
    object_type: str
    result: dict
    context: dict
    course_id: int | None
    timestamp: datetime


def _iri(value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty IRI string.")
    if len(value) > 512:
        raise ValueError(f"{what} is longer than 512 characters.")
    return value.strip()


def parse_statement(raw) -> ParsedStatement:
    """Validate one statement; raise ValueError with a message naming the bad field."""
    if not isinstance(raw, dict):
        raise ValueError("statement must be a JSON object.")
    try:
        sid = uuid.UUID(str(raw["id"])) if raw.get("id") is not None else uuid.uuid4()
    except ValueError:
        raise ValueError("id must be a UUID.") from None
    verb = raw.get("verb")
    if not isinstance(verb, dict):
        raise ValueError("verb must be an object with an 'id'.")
    verb_id = _iri(verb.get("id"), "verb.id")
    obj = raw.get("object")
    if not isinstance(obj, dict):
        raise ValueError("object must be an object with an 'id'.")
    object_id = _iri(obj.get("id"), "object.id")
    definition = obj.get("definition") or {}
    object_type = str(definition.get("type") or obj.get("objectType") or "Activity")[:64]
    actor = raw.get("actor") or {}
    if not isinstance(actor, dict):
        raise ValueError("actor must be an object.")
    account = actor.get("account") or {}
    actor_name = str(account["name"]) if isinstance(account, dict) and account.get("name") is not None else None
    result = raw.get("result") or {}
    context = raw.get("context") or {}
    if not isinstance(result, dict) or not isinstance(context, dict):
        raise ValueError("result and context must be objects.")
    score = result.get("score")
    if score is not None:
        if not isinstance(score, dict):
            raise ValueError("result.score must be an object.")
        scaled = score.get("scaled")
        if scaled is not None and (not isinstance(scaled, (int, float)) or not -1 <= scaled <= 1):
            raise ValueError("result.score.scaled must be a number between -1 and 1.")
    extensions = context.get("extensions") or {}
    course_raw = extensions.get(COURSE_EXT, extensions.get("course_id")) if isinstance(extensions, dict) else None
    course_id = None
    if course_raw is not None:
        try:
            course_id = int(course_raw)
        except (TypeError, ValueError):
            raise ValueError("context course id must be an integer.") from None
    ts_raw = raw.get("timestamp")
    if ts_raw is None:
        ts = timezone.now()
    else:
        ts = parse_datetime(str(ts_raw)) if isinstance(ts_raw, str) else None
        if ts is None:
            raise ValueError("timestamp must be an ISO 8601 date-time.")
        if timezone.is_naive(ts):
            ts = ts.replace(tzinfo=UTC)  # xAPI: no offset means UTC
        if ts > timezone.now() + timedelta(minutes=5):
            raise ValueError("timestamp is in the future.")
    return ParsedStatement(sid, actor, actor_name, verb_id, object_id, object_type, result, context, course_id, ts)
