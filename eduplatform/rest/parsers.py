"""A JSON parser with limits: body size, nesting depth, finite numbers, clean strings.

DRF's ``JSONParser`` reads the whole stream (``DATA_UPLOAD_MAX_MEMORY_SIZE`` only guards
form bodies), accepts ``NaN``/``Infinity``/``1e400``, lone surrogates and NUL characters
(which PostgreSQL cannot store), and a 20,000-deep array is a ``RecursionError``: a 500.
Here each of those is a 400 (413 for size) with the one error shape, before any view runs.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from eduplatform.core.api import PayloadTooLarge, json_value_problem

MB = 1024 * 1024


def max_json_bytes() -> int:
    return int(getattr(settings, "EDUPLATFORM_MAX_JSON_BYTES", 1 * MB))


def _no_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_json_bytes()
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            declared = int(length) if length else None
        except ValueError:
            declared = None
        if declared is not None and declared > limit:
            raise PayloadTooLarge(
                f"The JSON body is {declared / MB:.1f} MB; the limit is {limit / MB:g} MB.",
            )
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The JSON body is over the {limit / MB:g} MB limit.")
        try:
            text = raw.decode((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET))
            data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        problem = json_value_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - {problem}")
        return data
