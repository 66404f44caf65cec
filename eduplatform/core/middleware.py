"""Request ids, the client address rule, and the JSON 500 answer.

- ``RequestIdMiddleware`` gives every request an id (the proxy's ``X-Request-ID`` when it
  is a plain token, else a new one), answers it in ``X-Request-ID`` and puts it on every
  log record made while the request runs (``RequestIdLogFilter``), so a 500 in the log
  can be matched with what the user reports. Log lines carry ids, never names, answers
  or e-mail addresses.
- ``client_ip`` is the one rule for "who is asking" (throttles, login limits): the TCP
  peer (``REMOTE_ADDR``) unless ``EDUPLATFORM_NUM_PROXIES`` says how many proxies of
  ours stand in front; then the address that the outermost of them saw. A forged
  ``X-Forwarded-For`` sent by a client therefore changes nothing.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.conf import settings
from django.http import HttpRequest, JsonResponse

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("eduplatform_request_id", default="-")
_TOKEN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = "X-Request-ID"


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        incoming = request.headers.get(HEADER, "")
        rid = incoming if _TOKEN.match(incoming) else uuid.uuid4().hex
        request.request_id = rid
        token = _request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = rid
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request), and drops the request
    object Django attaches to ``django.request`` records so no handler prints its body."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        rid = getattr(request, "request_id", None) if request is not None else None
        record.request_id = rid or _request_id.get()
        return True


def num_proxies() -> int:
    return int(getattr(settings, "EDUPLATFORM_NUM_PROXIES", 0) or 0)


def client_ip(request: HttpRequest) -> str:
    """The client's address under the trusted-proxy rule (module docstring)."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    n = num_proxies()
    if n <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    # Each of our n proxies appended the address it saw; the outermost one's entry is n from the end.
    return hops[-n] if len(hops) >= n else remote


def _api_path(request: HttpRequest) -> bool:
    return "/api/" in request.path


def page_not_found(request: HttpRequest, exception=None, *args, **kwargs):
    """handler404: under /api/ (a URL that matches no route, e.g. ``/submissions/-1/``) the API's
    error shape; elsewhere Django's page."""
    if _api_path(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found", "field": None, "errors": []}, status=404)
    from django.views.defaults import page_not_found as django_page_not_found

    return django_page_not_found(request, exception)


def server_error(request: HttpRequest, *args, **kwargs):
    """handler500: under /api/ the API's error shape (with the request id to quote); elsewhere Django's page."""
    if not _api_path(request):
        from django.views.defaults import server_error as django_server_error

        return django_server_error(request)
    rid = getattr(request, "request_id", None) or _request_id.get()
    return JsonResponse(
        {
            "detail": f"Internal server error; quote request id {rid} when you report it.",
            "code": "server_error",
            "field": None,
            "errors": [],
            "request_id": rid,
        },
        status=500,
    )
