"""REST API v1 for the core app. Thin: validate input, call one selector/service, serialise."""

from __future__ import annotations

import django_filters
from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from eduplatform.core import api as core
from eduplatform.core.api import ApplicationError, Assignment, Course, LearningEvent, NotFound, Submission
from eduplatform.rest.serializers import (
    AssignmentSerializer,
    CourseSerializer,
    LearningEventSerializer,
    SubmissionInSerializer,
    SubmissionOutSerializer,
)


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


class AssignmentList(generics.ListAPIView):
    serializer_class = AssignmentSerializer
    filterset_fields = ["course"]

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
    course = django_filters.NumberFilter(field_name="assignment__course_id")

    class Meta:
        model = Submission
        fields = ["assignment", "course", "status", "student"]


class SubmissionListCreate(generics.ListAPIView):
    """GET: submissions you may see. POST (multipart): a new submission with text and files."""

    serializer_class = SubmissionOutSerializer
    filterset_class = SubmissionFilter
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Submission.objects.none()
        return core.submissions_visible_to(self.request.user)

    @extend_schema(request={"multipart/form-data": SubmissionInSerializer}, responses={201: SubmissionOutSerializer})
    def post(self, request, *args, **kwargs):
        data = request.data
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


class SubmissionDetail(generics.RetrieveAPIView):
    serializer_class = SubmissionOutSerializer

    def get_object(self):
        return core.submission_get(user=self.request.user, submission_id=self.kwargs["pk"])


class SubmissionFileDownload(APIView):
    """Uploaded files are never public: read back only through this permission check."""

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, pk: int, file_id: int):
        sub = core.submission_get(user=request.user, submission_id=pk)
        f = sub.files.filter(pk=file_id).first()
        if f is None:
            raise NotFound(f"File {file_id} not found.")
        resp = FileResponse(f.file.open("rb"), content_type=f.content_type)
        resp["Cache-Control"] = "private, no-store"
        return resp


class EventListCreate(generics.ListAPIView):
    """GET: statements you may see. POST: one xAPI statement or a list; idempotent on id."""

    serializer_class = LearningEventSerializer
    filterset_fields = ["course", "verb"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return LearningEvent.objects.none()
        return core.events_visible_to(self.request.user)

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request, *args, **kwargs):
        many = isinstance(request.data, list)
        statements = request.data if many else [request.data]
        results = core.events_ingest(user=request.user, statements=statements)
        ok = [r for r in results if r["status"] != "error"]
        code = status.HTTP_200_OK if ok else status.HTTP_400_BAD_REQUEST
        if not many:
            return Response(results[0], status=code)
        return Response(
            {
                "results": results,
                "stored": sum(r["status"] == "stored" for r in results),
                "duplicates": sum(r["status"] == "duplicate" for r in results),
                "errors": len(results) - len(ok),
            },
            status=code,
        )
