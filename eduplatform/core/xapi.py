"""xAPI statement validation and normalisation (the subset a learning-analytics store needs).

A statement: {"id": uuid?, "actor": {...}?, "verb": {"id": IRI}, "object": {"id": IRI,
"definition": {"type": IRI}?}, "result": {...}?, "context": {...}?, "timestamp": ISO 8601?}.
The course is taken from ``context.extensions[COURSE_EXT]`` (or ``"course_id"``).

Validation is strict because every accepted value is later read by the analytics of
every course: types are checked, strings fit their database columns and hold no NUL
or lone surrogate, numbers are finite, ``result``/``context`` are bounded in size and
nesting, and timestamps lie between ``MIN_TIMESTAMP`` and a few minutes from now (a
year-1 timestamp once made the events list and the hourly recompute fail).
The posted ``actor`` only says *whom* a statement is about (``account.name`` = student
id); what is stored is the canonical actor of that student, never the posted object.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from eduplatform.core.limits import json_size, json_value_problem, text_problem
from eduplatform.core.models import READABLE_FROM

COURSE_EXT = "https://w3id.org/eduplatform/xapi/course-id"
MAX_STATEMENTS_PER_REQUEST = 500
MAX_STATEMENT_BYTES = 64 * 1024  # one statement as JSON
MAX_PART_BYTES = 16 * 1024  # result, context
MAX_PART_DEPTH = 8  # nesting inside result / context (extensions included)
MIN_TIMESTAMP = READABLE_FROM  # the same bound the readers use (core.models)
FUTURE_SLACK = timedelta(minutes=5)
# Column sizes of LearningEvent (checked here, so nothing is truncated or refused by the database).
VERB_MAX = 255
OBJECT_ID_MAX = 512
OBJECT_TYPE_MAX = 64
ACTOR_NAME_MAX = 64
MAX_ID = 2**63 - 1


class StatementError(ValueError):
    """A statement we refuse; ``field`` is the dotted path of the offending value."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid_statement") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass
class ParsedStatement:
    statement_id: uuid.UUID
    actor_name: str | None  # whom the statement is about (student id), None = the poster
    verb: str
    object_id: str
    object_type: str
    result: dict
    context: dict
    course_id: int | None
    timestamp: datetime


def canonical_actor(student_id: int) -> dict:
    """The actor stored for a student: an id, never a name or an e-mail address."""
    return {"objectType": "Agent", "account": {"homePage": "eduplatform", "name": str(student_id)}}


def _iri(value, field: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StatementError(f"{field} must be a non-empty IRI string.", field=field)
    value = value.strip()
    if len(value) > max_len:
        raise StatementError(f"{field} is longer than {max_len} characters.", field=field)
    if any(c.isspace() or ord(c) < 0x20 for c in value) or text_problem(value):
        raise StatementError(f"{field} must not contain spaces or control characters.", field=field)
    return value


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StatementError(f"{field} must be a finite number.", field=field)
    return float(value)


def _object(value, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StatementError(f"{field} must be an object.", field=field)
    return value


def _bounded(value: dict, field: str) -> dict:
    problem = json_value_problem(value, max_depth=MAX_PART_DEPTH, path=field)
    if problem:
        raise StatementError(f"{problem}.", field=field)
    if json_size(value) > MAX_PART_BYTES:
        raise StatementError(f"{field} is larger than {MAX_PART_BYTES // 1024} KB.", field=field, code="too_large")
    return value


def _check_result(result: dict) -> None:
    score = result.get("score")
    if score is not None:
        score = _object(score, "result.score")
        nums = {k: _number(score[k], f"result.score.{k}") for k in ("scaled", "raw", "min", "max") if k in score}
        if "scaled" in nums and not -1 <= nums["scaled"] <= 1:
            raise StatementError("result.score.scaled must be between -1 and 1.", field="result.score.scaled")
        lo, hi = nums.get("min"), nums.get("max")
        if lo is not None and hi is not None and not hi > lo:
            raise StatementError("result.score.max must be greater than min.", field="result.score.max")
        raw = nums.get("raw")
        if raw is not None and ((lo is not None and raw < lo) or (hi is not None and raw > hi)):
            raise StatementError("result.score.raw must lie between min and max.", field="result.score.raw")
    for key in ("success", "completion"):
        if key in result and not isinstance(result[key], bool):
            raise StatementError(f"result.{key} must be true or false.", field=f"result.{key}")
    for key in ("duration", "response"):
        if key in result and not isinstance(result[key], str):
            raise StatementError(f"result.{key} must be a string.", field=f"result.{key}")
    if "extensions" in result:
        _object(result["extensions"], "result.extensions")


def _course_id(context: dict) -> int | None:
    extensions = _object(context.get("extensions"), "context.extensions")
    raw = extensions.get(COURSE_EXT, extensions.get("course_id"))
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise StatementError("the context course id must be an integer.", field="context.extensions")
    try:
        value = int(raw)
    except ValueError:
        raise StatementError("the context course id must be an integer.", field="context.extensions") from None
    if not 0 < value <= MAX_ID:
        raise StatementError("the context course id is out of range.", field="context.extensions")
    return value


def _actor_name(actor) -> str | None:
    if actor is None:
        return None
    if not isinstance(actor, dict):
        raise StatementError("actor must be an object.", field="actor")
    account = actor.get("account")
    if account is None:
        if set(actor) <= {"objectType"}:
            return None
        raise StatementError(
            "actor must identify a student by account.name (the student id), or be omitted to post as yourself.",
            field="actor",
            code="invalid_actor",
        )
    if not isinstance(account, dict) or not isinstance(account.get("name"), (str, int)) or account.get("name") is True:
        raise StatementError("actor.account.name must be the student id.", field="actor.account.name")
    name = str(account["name"]).strip()
    if not name.isascii() or not name.isdigit() or len(name) > ACTOR_NAME_MAX or int(name) > MAX_ID:
        raise StatementError("actor.account.name must be the student id.", field="actor.account.name")
    return name


def _timestamp(ts_raw) -> datetime:
    now = timezone.now()
    if ts_raw is None:
        return now
    if not isinstance(ts_raw, str) or len(ts_raw) > 64:
        raise StatementError("timestamp must be an ISO 8601 date-time string.", field="timestamp")
    try:
        ts = parse_datetime(ts_raw)
    except ValueError:
        ts = None
    if ts is None:
        raise StatementError("timestamp must be an ISO 8601 date-time.", field="timestamp")
    # Compare before converting: 0001-01-01T00:00+14:00 in UTC is before year 1 (OverflowError).
    if ts.year < MIN_TIMESTAMP.year:
        raise StatementError(f"timestamp is before {MIN_TIMESTAMP.year}.", field="timestamp")
    if timezone.is_naive(ts):
        ts = ts.replace(tzinfo=UTC)  # xAPI: no offset means UTC
    try:
        ts = ts.astimezone(UTC)
    except OverflowError:
        raise StatementError(f"timestamp is before {MIN_TIMESTAMP.year}.", field="timestamp") from None
    if ts < MIN_TIMESTAMP:
        raise StatementError(f"timestamp is before {MIN_TIMESTAMP.year}.", field="timestamp")
    if ts > now + FUTURE_SLACK:
        raise StatementError("timestamp is in the future.", field="timestamp")
    return ts


def parse_statement(raw) -> ParsedStatement:
    """Validate one statement; raise StatementError naming the bad field."""
    if not isinstance(raw, dict):
        raise StatementError("statement must be a JSON object.")
    problem = json_value_problem(raw, max_depth=MAX_PART_DEPTH + 3)
    if problem:
        raise StatementError(f"{problem}.")
    if json_size(raw) > MAX_STATEMENT_BYTES:
        raise StatementError(f"statement is larger than {MAX_STATEMENT_BYTES // 1024} KB.", code="too_large")
    try:
        sid = uuid.UUID(str(raw["id"])) if raw.get("id") is not None else uuid.uuid4()
    except ValueError:
        raise StatementError("id must be a UUID.", field="id") from None
    verb = raw.get("verb")
    if not isinstance(verb, dict):
        raise StatementError("verb must be an object with an 'id'.", field="verb")
    verb_id = _iri(verb.get("id"), "verb.id", VERB_MAX)
    obj = raw.get("object")
    if not isinstance(obj, dict):
        raise StatementError("object must be an object with an 'id'.", field="object")
    object_id = _iri(obj.get("id"), "object.id", OBJECT_ID_MAX)
    definition = _object(obj.get("definition"), "object.definition")
    if definition.get("type") is not None:
        object_type = _iri(definition["type"], "object.definition.type", OBJECT_TYPE_MAX)
    elif obj.get("objectType") is not None:
        object_type = _iri(obj["objectType"], "object.objectType", OBJECT_TYPE_MAX)
    else:
        object_type = "Activity"
    actor_name = _actor_name(raw.get("actor"))
    result = _bounded(_object(raw.get("result"), "result"), "result")
    context = _bounded(_object(raw.get("context"), "context"), "context")
    _check_result(result)
    course_id = _course_id(context)
    ts = _timestamp(raw.get("timestamp"))
    return ParsedStatement(sid, actor_name, verb_id, object_id, object_type, result, context, course_id, ts)
