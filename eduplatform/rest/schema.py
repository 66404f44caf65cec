"""OpenAPI: the one error shape, and the error responses every operation can give.

Views document their own successes and domain errors (``extend_schema``); this hook
adds what applies everywhere, so no operation answers a status its schema does not list:
401 (no or bad credentials), 403, 404 (ids, pages), 400 where there is input,
405/406/415, 409 and 413 where a body is accepted, 429 (throttles) and 500.
"""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "The one error shape. `field` names the first offending input (null when none); "
        "`errors` lists every field error of a validation failure. Some errors add keys "
        "(`retry_after` on 429, `limit_mb` on 413, `request_id` on 500): ignore unknown keys."
    ),
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. `not_found`, `too_large`."},
        "field": {"type": "string", "nullable": True},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "detail": {"type": "string"},
                },
                "required": ["field", "code", "detail"],
            },
        },
    },
    "required": ["detail", "code", "field", "errors"],
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    "400": "Invalid input (see `errors`).",
    "401": "Not authenticated: send `Authorization: Token <key>` (or a session cookie).",
    "403": "Authenticated, but not allowed to do this.",
    "404": "Not found, or not visible to you (the two are not told apart).",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict with the current state.",
    "413": "Request body or file too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests; retry after `retry_after` seconds.",
    "500": "Server error; quote `request_id`.",
}


def postprocess_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for item in result.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = op.setdefault("responses", {})
            # 404: unknown or invisible ids, and list pages past the end (`?page=`).
            statuses = ["401", "403", "404", "405", "406", "429", "500"]
            if op.get("parameters") or method != "get":
                statuses.append("400")
            if method in ("post", "put", "patch", "delete"):
                statuses += ["409", "413", "415"]
            for code in statuses:
                responses.setdefault(
                    code, {"description": _DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}}
                )
            for code, resp in responses.items():  # errors that views declared without a body
                if code.startswith(("4", "5")) and not resp.get("content"):
                    resp["content"] = {"application/json": {"schema": ref}}
    return result
