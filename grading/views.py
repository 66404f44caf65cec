"""Instructor-facing grading API: review queue, review decisions, regrade."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from eduplatform.core.api import (
    IdFilter,
    NotFound,
    assignments_visible_to,
    enqueue,
    is_course_staff,
    is_course_student,
)
from grading import selectors, services
from grading.models import AnswerGroup, Grade
from grading.serializers import (
    AnswerGroupSerializer,
    GroupGradeInSerializer,
    GroupGradeOutSerializer,
    RecheckInSerializer,
    RegradeInSerializer,
    ReleaseReportSerializer,
    ReviewInSerializer,
    ReviewItemSerializer,
    WithdrawInSerializer,
)


class ReviewQueueFilter(django_filters.FilterSet):
    """``?assignment=`` / ``?course=`` as everywhere else. Numbers, not model choices: an unknown id
    and another course's id both give an empty list (no existence oracle)."""

    assignment = IdFilter(field_name="submission__assignment_id")
    course = IdFilter(field_name="submission__assignment__course_id")
    # Deprecated aliases (v1 keeps them; answers carry a Deprecation header): removed in v2.
    submission__assignment = IdFilter(field_name="submission__assignment_id")
    submission__assignment__course = IdFilter(field_name="submission__assignment__course_id")

    class Meta:
        model = Grade
        fields = ["assignment", "course"]


DEPRECATED_FILTERS = {"submission__assignment": "assignment", "submission__assignment__course": "course"}


class ReviewQueue(generics.ListAPIView):
    """Grades waiting for a person, least confident first (courses you teach now)."""

    serializer_class = ReviewItemSerializer
    filterset_class = ReviewQueueFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Grade.objects.none()
        return selectors.review_queue(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter(old, int, deprecated=True, description=f"Deprecated: use ?{new}= (removed in v2).")
            for old, new in DEPRECATED_FILTERS.items()
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        used = [old for old in DEPRECATED_FILTERS if old in request.query_params]
        if used:
            response["Deprecation"] = "true"
            response["Link"] = '</api/v1/review-queue/>; rel="successor-version"'
            response["Warning"] = ", ".join(
                f'299 - "?{old}= is deprecated, use ?{DEPRECATED_FILTERS[old]}="' for old in used
            )
        return response


class GradeReview(APIView):
    @extend_schema(request=ReviewInSerializer, responses={200: ReviewItemSerializer})
    def post(self, request, pk: int):
        grade = selectors.grade_get_for_staff(user=request.user, grade_id=pk)
        inp = ReviewInSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        d = inp.validated_data
        grade = services.grade_review(
            grade=grade,
            reviewer=request.user,
            action=d["action"],
            score=d.get("score"),
            comment=d["comment"],
            release=d["release"],
        )
        return Response(ReviewItemSerializer(grade).data)


class GradeRelease(APIView):
    """Release one grade to its student; 409 with the reason when the rules do not allow it yet."""

    @extend_schema(request=None, responses={200: ReviewItemSerializer})
    def post(self, request, pk: int):
        grade = selectors.grade_get_for_staff(user=request.user, grade_id=pk)
        return Response(ReviewItemSerializer(services.grade_release(grade=grade, user=request.user)).data)


class GradeWithdraw(APIView):
    """Take a released grade back from the student (recorded with the reason)."""

    @extend_schema(request=WithdrawInSerializer, responses={200: ReviewItemSerializer})
    def post(self, request, pk: int):
        grade = selectors.grade_get_for_staff(user=request.user, grade_id=pk)
        inp = WithdrawInSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        grade = services.grade_withdraw(grade=grade, user=request.user, reason=inp.validated_data["reason"])
        return Response(ReviewItemSerializer(grade).data)


class GradeRecheck(APIView):
    """A student asks for a re-check of their released grade; it returns to the teacher's queue."""

    @extend_schema(request=RecheckInSerializer, responses={202: dict})
    def post(self, request, pk: int):
        grade = selectors.grade_get_for_student(user=request.user, grade_id=pk)
        if not is_course_student(request.user, grade.submission.assignment.course_id):
            raise NotFound(f"Grade {pk} not found.")  # withdrawn: the one current-enrolment rule
        inp = RecheckInSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        services.grade_recheck_request(grade=grade, user=request.user, reason=inp.validated_data["reason"])
        return Response({"status": "requested"}, status=202)


class AssignmentRelease(APIView):
    """Bulk release: every grade of the assignment the rules allow; the report lists what was skipped and why."""

    @extend_schema(request=None, responses={200: ReleaseReportSerializer})
    def post(self, request, pk: int):
        _staff_assignment(request.user, pk)
        report = services.grades_release(
            grades=selectors.grades_for_staff(request.user).filter(submission__assignment_id=pk), user=request.user
        )
        return Response(ReleaseReportSerializer(report).data)


class AssignmentRegrade(APIView):
    @extend_schema(request=RegradeInSerializer, responses={202: dict})
    def post(self, request, pk: int):
        _staff_assignment(request.user, pk)
        inp = RegradeInSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        n = services.assignment_regrade(assignment_id=pk, only_failed=inp.validated_data["only_failed"])
        return Response({"queued": n}, status=202)


def _staff_assignment(user, pk: int):
    assignment = assignments_visible_to(user).filter(pk=pk).first()
    if assignment is None or not is_course_staff(user, assignment.course_id):
        raise NotFound(f"Assignment {pk} not found.")
    return assignment


class AnswerGroupList(APIView):
    """GET the answer groups of an assignment; POST rebuilds them (queued on a worker)."""

    @extend_schema(responses={200: AnswerGroupSerializer(many=True)})
    def get(self, request, pk: int):
        _staff_assignment(request.user, pk)
        groups = (
            AnswerGroup.objects.filter(assignment_id=pk).select_related("representative").prefetch_related("members")
        )
        return Response(AnswerGroupSerializer(groups, many=True).data)

    @extend_schema(request=None, responses={202: dict})
    def post(self, request, pk: int):
        _staff_assignment(request.user, pk)
        enqueue("grading.build_answer_groups", assignment_id=pk)
        return Response({"queued": True}, status=202)


class AnswerGroupGrade(APIView):
    @extend_schema(request=GroupGradeInSerializer, responses={200: GroupGradeOutSerializer})
    def post(self, request, pk: int):
        group = AnswerGroup.objects.filter(pk=pk).select_related("assignment").first()
        if group is None or not is_course_staff(request.user, group.assignment.course_id):
            raise NotFound(f"Answer group {pk} not found.")
        inp = GroupGradeInSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        d = inp.validated_data
        report = services.answer_group_grade(
            group=group, reviewer=request.user, score=d["score"], comment=d["comment"], release=d["release"]
        )
        return Response(GroupGradeOutSerializer(report).data)
