"""REST API v1 for the core app. Thin: validate input, call one selector/service, serialise.

Conventions (README "REST API"): one error shape (``eduplatform.core.errors``), filters
named after the resource (``?course=``, ``?assignment=``) that answer the same (an empty
list) for ids that do not exist and ids you may not see, ETags on what mobile clients
poll, downloads named with their real extension.
"""

from __future__ import annotations

import hashlib
import json

import django_filters
from django.http import FileResponse
from django.utils.http import http_date, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from eduplatform.core import api as core
from eduplatform.core.api import ApplicationError, Assignment, Course, IdFilter, LearningEvent, NotFound, Submission
from eduplatform.rest.parsers import BoundedJSONParser
from eduplatform.rest.serializers import (
    AssignmentSerializer,
    CourseSerializer,
    ErrorSerializer,
    LearningEventSerializer,
    StatementBatchResultSerializer,
    StatementResultSerializer,
    SubmissionInSerializer,
    SubmissionOutSerializer,
    TokenSerializer,
)

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "audio/wav": "wav",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
}


# The bounded JSON parser on the views that take bodies, whatever a host project's
# DEFAULT_PARSER_CLASSES say (the standalone settings make it the default everywhere).
PARSERS = [BoundedJSONParser, FormParser, MultiPartParser]


class AuthRateThrottle(SimpleRateThrottle):
    """Token requests per client address: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"],
    10/min when a host project sets no rate for it (never an ImproperlyConfigured 500)."""

    scope = "auth"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or "10/min"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _errors(*codes: int, **described: str) -> dict:
    """OpenAPI responses for error statuses, all with the one error shape."""
    out = {code: OpenApiResponse(ErrorSerializer, description=described.get(f"e{code}", "")) for code in codes}
    return out


class AuthToken(APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``).

    Throttled per client address (``auth`` rate) and guarded by the login failure limit;
    the client address is the TCP peer unless trusted proxies are configured, so a forged
    ``X-Forwarded-For`` does not reset either."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [AuthRateThrottle]
    parser_classes = PARSERS
    serializer_class = AuthTokenSerializer

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: TokenSerializer, **_errors(400, 429, e400="Wrong username or password, or locked.")},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        _require_object(request.data)
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})


def _require_object(data) -> None:
    if not hasattr(data, "get") or isinstance(data, (list, str)):
        raise ApplicationError("Send a JSON object or a form, not a list or a bare value.", code="invalid_body")


class ConditionalGetMixin:
    """ETag (a hash of the body) and, where known, Last-Modified; ``If-None-Match`` -> 304.

    Polling clients (a phone waiting for a grade) send the last ETag back and get an
    empty 304 until something they can see changed (status, a released grade...)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method != "GET" or response.status_code != 200 or not isinstance(response.data, (dict, list)):
            return response
        body = json.dumps(response.data, sort_keys=True, default=str).encode()
        etag = quote_etag(hashlib.sha256(body).hexdigest()[:32])
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        response.setdefault("Vary", "Authorization, Cookie")
        last = getattr(self, "_last_modified", None)
        if last is not None:
            response["Last-Modified"] = http_date(last.timestamp())
        inm = request.headers.get("If-None-Match", "")
        if inm and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
            not_modified = Response(status=status.HTTP_304_NOT_MODIFIED)
            not_modified["ETag"] = etag
            not_modified["Cache-Control"] = response["Cache-Control"]
            return super().finalize_response(request, not_modified, *args, **kwargs)
        return response


def _last_change(sub: Submission):
    stamps = [sub.updated_at] + [t for g in sub.grades.all() for t in (g.updated_at, g.released_at) if t]
    return max(stamps)


class CourseList(generics.ListAPIView):
    serializer_class = CourseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Course.objects.none()
        return core.courses_visible_to(self.request.user)


class CourseDetail(generics.RetrieveAPIView):
    serializer_class = CourseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Course.objects.none()
        return core.courses_visible_to(self.request.user)


class AssignmentFilter(django_filters.FilterSet):
    course = IdFilter(field_name="course_id")

    class Meta:
        model = Assignment
        fields = ["course"]


class AssignmentList(generics.ListAPIView):
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Assignment.objects.none()
        return core.assignments_visible_to(self.request.user)


class AssignmentDetail(generics.RetrieveAPIView):
    serializer_class = AssignmentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Assignment.objects.none()
        return core.assignments_visible_to(self.request.user)


class SubmissionFilter(django_filters.FilterSet):
    assignment = IdFilter(field_name="assignment_id")
    course = IdFilter(field_name="assignment__course_id")
    student = IdFilter(field_name="student_id")

    class Meta:
        model = Submission
        fields = ["assignment", "course", "status", "student"]


class SubmissionListCreate(ConditionalGetMixin, generics.ListAPIView):
    """GET: submissions you may see (ETag for polling). POST (multipart): a new submission with text and files."""

    serializer_class = SubmissionOutSerializer
    filterset_class = SubmissionFilter
    parser_classes = PARSERS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Submission.objects.none()
        return core.submissions_visible_to(self.request.user)

    @extend_schema(
        request={"multipart/form-data": SubmissionInSerializer, "application/json": SubmissionInSerializer},
        responses={
            201: SubmissionOutSerializer,
            **_errors(
                400,
                403,
                404,
                409,
                413,
                e400="Bad input: empty, wrong type, corrupt file, too many pixels, modality not accepted.",
                e403="Not a current student of the assignment's course.",
                e404="Unknown assignment, or one you cannot see.",
                e409="No attempts left (`attempts_exhausted`).",
                e413="A file or the body is larger than the limit (MB in the message).",
            ),
        },
    )
    def post(self, request, *args, **kwargs):
        data = request.data
        _require_object(data)
        payload = {"assignment": data.get("assignment"), "text": data.get("text", "")}
        files = request.FILES.getlist("files") if hasattr(request, "FILES") else []
        inp = SubmissionInSerializer(data=payload)
        inp.is_valid(raise_exception=True)
        assignment = core.assignment_get(user=request.user, assignment_id=inp.validated_data["assignment"])
        student = core.student_for_user(request.user)
        if student is None:
            raise ApplicationError("Only students can submit.", code="not_a_student", status_code=403)
        sub = core.submission_create(
            assignment=assignment, student=student, text=inp.validated_data.get("text", ""), files=files
        )
        sub = core.submission_get(user=request.user, submission_id=sub.pk)
        out = SubmissionOutSerializer(sub, context={"request": request})
        return Response(out.data, status=status.HTTP_201_CREATED)


class SubmissionDetail(ConditionalGetMixin, generics.RetrieveAPIView):
    """One submission with its status and, once released, its grade. Poll it with ``If-None-Match``."""

    serializer_class = SubmissionOutSerializer

    def get_object(self):
        sub = core.submission_get(user=self.request.user, submission_id=self.kwargs["pk"])
        self._last_modified = _last_change(sub)
        return sub

    @extend_schema(responses={200: SubmissionOutSerializer, 304: OpenApiResponse(description="Not modified.")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SubmissionFileDownload(APIView):
    """Uploaded files are never public: read back only through this permission check,
    named ``submission-<id>-file-<id>.<ext>`` with the extension of the checked content type."""

    @extend_schema(
        responses={
            (200, content_type): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as the checked type it was stored as."
            )
            for content_type in EXTENSIONS
        }
    )
    def get(self, request, pk: int, file_id: int):
        sub = core.submission_get(user=request.user, submission_id=pk)
        f = sub.files.filter(pk=file_id).first()
        if f is None:
            raise NotFound(f"File {file_id} not found.")
        ext = EXTENSIONS.get(f.content_type, "bin")
        resp = FileResponse(
            f.file.open("rb"),
            content_type=f.content_type,
            as_attachment=True,
            filename=f"submission-{sub.pk}-file-{f.pk}.{ext}",
        )
        resp["Cache-Control"] = "private, no-store"
        resp["X-Content-Type-Options"] = "nosniff"
        return resp


class EventFilter(django_filters.FilterSet):
    course = IdFilter(field_name="course_id")
    verb = django_filters.CharFilter(field_name="verb", max_length=255)

    class Meta:
        model = LearningEvent
        fields = ["course", "verb"]


STATEMENT_EXAMPLE = {
    "id": "0d3c0c4e-0b8a-4c8e-9a64-3f3f7d7f1a01",
    "verb": {"id": "http://id.tincanapi.com/verb/viewed"},
    "object": {"id": "https://example.edu/page/1", "definition": {"type": "http://adlnet.gov/expapi/activities/file"}},
    "context": {"extensions": {core.COURSE_EXT: 1}},
    "timestamp": "2026-11-30T10:00:00Z",
}


class EventListCreate(generics.ListAPIView):
    """GET: statements you may see. POST: one xAPI statement or a list; idempotent on id.

    Each statement is stored in its own savepoint: whole or not at all, and one bad
    statement does not undo the others. A single statement answers 200 with its result
    or an error (400/403) in the one error shape; a list answers 200 with one result per
    statement while at least one was stored or was a duplicate, else 400."""

    serializer_class = LearningEventSerializer
    filterset_class = EventFilter
    parser_classes = PARSERS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return LearningEvent.objects.none()
        return core.events_visible_to(self.request.user)

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        examples=[OpenApiExample("one statement", value=STATEMENT_EXAMPLE, request_only=True)],
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="StatementPostResult",
                    serializers=[StatementResultSerializer, StatementBatchResultSerializer],
                    resource_type_field_name=None,
                ),
                description="One statement: its result. A list: one result per statement and the counts.",
            ),
            **_errors(400, 403, 413, e413="More than 500 statements, or a body over the JSON limit."),
        },
    )
    def post(self, request, *args, **kwargs):
        many = isinstance(request.data, list)
        statements = request.data if many else [request.data]
        results = core.events_ingest(user=request.user, statements=statements)
        ok = [r for r in results if r["status"] != "error"]
        if not many:
            r = results[0]
            if r["status"] == "error":
                code = 403 if r["code"] == "forbidden_actor" else 400
                err = {"field": r["field"], "code": r["code"], "detail": r["error"]}
                extra = {"index": r["index"], "id": r["id"], "status": "error"}
                return Response(core.error_body(r["error"], r["code"], r["field"], [err], **extra), status=code)
            return Response(r)
        body = {
            "results": results,
            "stored": sum(r["status"] == "stored" for r in results),
            "duplicates": sum(r["status"] == "duplicate" for r in results),
            "errors": len(results) - len(ok),
        }
        if not ok and results:
            first = next(r for r in results if r["status"] == "error")
            return Response(
                {
                    **core.error_body(
                        f"No statement was stored; statement {first['index']}: {first['error']}",
                        first["code"],
                        first["field"],
                        [{"field": r["field"], "code": r["code"], "detail": r["error"]} for r in results],
                    ),
                    "results": results,
                    "stored": 0,
                    "duplicates": 0,
                    "error_count": len(results),
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(body)
