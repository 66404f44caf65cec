"""One domain error type and one DRF exception handler that turns every error into one JSON shape.

Every 4xx/5xx body of the API is::

    {"detail": "<sentence for a person>", "code": "<stable machine code>",
     "field": "<input field or null>", "errors": [{"field": ..., "code": ..., "detail": ...}, ...]}

``field`` names the first offending input (``null`` when the error is not about one
field); ``errors`` lists every field error of a validation failure (empty otherwise),
nested fields as dotted paths (``files.0``). Some errors add keys (``retry_after`` on
429, ``limit_mb`` on 413); clients must ignore keys they do not know.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class ApplicationError(Exception):
    """A domain error with a clear message for the caller (default HTTP 400)."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field: str | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, message: str = "Not found.", **kwargs: Any) -> None:
        super().__init__(message, code="not_found", **kwargs)


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def error_body(detail: str, code: str, field: str | None = None, errors: list | None = None, **extra: Any) -> dict:
    """The one error shape (see the module docstring)."""
    return {"detail": detail, "code": code, "field": field, "errors": errors or [], **extra}


def _flatten(detail: Any, prefix: str = "") -> list[dict]:
    """DRF's nested validation detail -> [{field, code, detail}] with dotted field paths."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix))
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                out += _flatten(value, f"{prefix}.{i}" if prefix else str(i))
            else:
                out += _flatten(value, prefix)
    else:
        code = getattr(detail, "code", None) or "invalid"
        out.append({"field": prefix or None, "code": str(code), "detail": str(detail)})
    return out


_CODES = {
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_406_NOT_ACCEPTABLE: "not_acceptable",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "request_too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    from rest_framework.views import exception_handler as drf_exception_handler  # not at import: DRF's
    # APIView reads the parser settings when it is first imported, and the parser imports core.api.

    if isinstance(exc, ApplicationError):
        body = error_body(exc.message, exc.code, exc.field, **exc.extra)
        if exc.field:
            body["errors"] = [{"field": exc.field, "code": exc.code, "detail": exc.message}]
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a 500: Django logs it (django.request) and answers with the plain 500 page
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first = errors[0] if errors else {"field": None, "code": "invalid", "detail": "Invalid input."}
        detail = first["detail"] if not first["field"] else f"{first['field']}: {first['detail']}"
        response.data = error_body(detail, first["code"], first["field"], errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or _CODES.get(response.status_code, "error")
        if response.status_code in _CODES and code in ("error", "invalid"):
            code = _CODES[response.status_code]
        extra = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            extra["retry_after"] = int(exc.wait)
        response.data = error_body(str(detail), str(code), None, **extra)
    return response
