"""REST views of the learner model: behaviour and risk for course staff, mastery and
learning paths for students, the class mastery matrix and resource pins. Thin: one
selector or service call each."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from eduplatform.core.api import (
    ApplicationError,
    IdFilter,
    NotFound,
    course_get,
    course_student_get,
    is_course_staff,
    is_course_student,
    settings,
)
from recommendations.mastery import selectors as mastery_selectors
from recommendations.models import ResourcePin, RiskAlert
from recommendations.paths import selectors as path_selectors
from recommendations.paths import services as path_services
from recommendations.resources import selectors as resource_selectors
from recommendations.resources import services as resource_services
from recommendations.risk import selectors as risk_selectors
from recommendations.risk import services as risk_services
from recommendations.serializers import (
    CourseBehaviourQuerySerializer,
    CourseBehaviourSerializer,
    CourseMasterySerializer,
    CourseQuerySerializer,
    LearningPathSerializer,
    LearningPathStepSerializer,
    MyMasterySerializer,
    ResourcePinSerializer,
    RiskAlertSerializer,
    StepMarkInSerializer,
    StudentRiskSerializer,
)


class CourseBehaviour(APIView):
    """Latest engagement, pattern and risk per student of a course (course staff only).
    Filters: ``?pattern=struggling``, ``?at_risk=true`` (shown estimates only)."""

    @extend_schema(parameters=[CourseBehaviourQuerySerializer], responses={200: CourseBehaviourSerializer})
    def get(self, request, pk: int):
        _staff_only(request.user, pk)
        q = CourseBehaviourQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        rows = risk_selectors.course_behaviour(
            user=request.user,
            course_id=pk,
            pattern=q.validated_data.get("pattern"),
            at_risk=q.validated_data.get("at_risk"),
        )
        return Response(
            CourseBehaviourSerializer(
                {
                    "course": pk,
                    "confidence_threshold": settings.RISK_CONFIDENCE_THRESHOLD,
                    "alert_threshold": settings.RISK_ALERT_THRESHOLD,
                    "results": rows,
                }
            ).data
        )


def _staff_only(user, course_id: int) -> None:
    """Course analytics are for its current staff: its current students are told so (403);
    for anybody else the course does not exist (404, the same as an unknown id)."""
    if is_course_staff(user, course_id):
        return
    course_get(user=user, course_id=course_id)  # 404 unless a current member
    raise ApplicationError(
        "Behaviour analysis of a course is for its instructors and teaching assistants.",
        code="staff_only",
        status_code=403,
    )


class StudentRisk(APIView):
    """One student's latest estimate and history: course staff, or the student when
    EDUPLATFORM_STUDENTS_SEE_OWN_RISK is on."""

    @extend_schema(responses={200: StudentRiskSerializer})
    def get(self, request, pk: int, student_id: int):
        if not is_course_staff(request.user, pk) and not is_course_student(request.user, pk):
            raise NotFound("Not found.")  # current enrolments only (a withdrawn student included)
        body = risk_selectors.student_risk(user=request.user, course_id=pk, student_id=student_id)
        return Response(StudentRiskSerializer(body).data)


class RiskAlertFilter(django_filters.FilterSet):
    """Ids are plain numbers: a course or student you cannot see filters to nothing, exactly
    like one that does not exist (no 400 that would tell the two apart)."""

    course = IdFilter(field_name="course_id")
    student = IdFilter(field_name="student_id")
    status = django_filters.ChoiceFilter(choices=RiskAlert.Status.choices)

    class Meta:
        model = RiskAlert
        fields = ["course", "status", "student"]


class RiskAlertList(generics.ListAPIView):
    """Alerts in the courses you teach, newest crossing first."""

    serializer_class = RiskAlertSerializer
    filterset_class = RiskAlertFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return RiskAlert.objects.none()
        return risk_selectors.alerts_visible_to(self.request.user)


class RiskAlertAcknowledge(APIView):
    @extend_schema(request=None, responses={200: RiskAlertSerializer})
    def post(self, request, pk: int):
        alert = risk_selectors.alert_get(user=request.user, alert_id=pk)
        alert = risk_services.risk_alert_acknowledge(alert=alert, user=request.user)
        return Response(RiskAlertSerializer(alert).data)


# ------------------------------------------------------------------ mastery, paths, pins


class MyMastery(APIView):
    """My mastery per skill of a course (``?course=<id>``), by skill name: ``state`` is
    unknown (and ``p_mastery`` null) until there is evidence, then learning or mastered."""

    @extend_schema(parameters=[CourseQuerySerializer], responses={200: MyMasterySerializer})
    def get(self, request):
        q = CourseQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        course_student_get(user=request.user, course_id=q.validated_data["course"])  # current students only
        return Response(
            MyMasterySerializer(
                mastery_selectors.my_mastery(user=request.user, course_id=q.validated_data["course"])
            ).data
        )


class MyLearningPath(APIView):
    """My current learning path in a course (``?course=<id>``), computed on first request:
    ordered steps, each with the reason it was chosen."""

    @extend_schema(parameters=[CourseQuerySerializer], responses={200: LearningPathSerializer})
    def get(self, request):
        q = CourseQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        student, course = course_student_get(user=request.user, course_id=q.validated_data["course"])
        path = path_services.learning_path_current_or_compute(student=student, course=course)
        return Response(LearningPathSerializer(path).data)


class LearningPathStepMark(APIView):
    """Mark one of my steps done or skipped; the path is recomputed. Others' steps: 404.

    A practice step (``takes_result``) marked done with its result (``score`` 0-1 or
    ``correct``) counts as evidence of its skill and moves my mastery; without a result a
    step only marks progress."""

    @extend_schema(request=StepMarkInSerializer, responses={200: LearningPathStepSerializer})
    def post(self, request, pk: int):
        step = path_selectors.path_step_get_for_owner(user=request.user, step_id=pk)
        if not is_course_student(request.user, step.path.course_id):
            raise NotFound(f"Learning path step {pk} not found.")  # withdrawn: current enrolments only
        inp = StepMarkInSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        step = path_services.path_step_mark(step=step, status=inp.validated_data["status"], result=inp.result)
        return Response(LearningPathStepSerializer(step).data)


class CourseMastery(APIView):
    """Class x skill mastery matrix of a course (course staff only; 404 otherwise)."""

    @extend_schema(responses={200: CourseMasterySerializer})
    def get(self, request, pk: int):
        return Response(
            CourseMasterySerializer(mastery_selectors.course_mastery_matrix(user=request.user, course_id=pk)).data
        )


class CourseResourcePins(APIView):
    """Course staff: list pins/excludes of a course, or set one (upsert on resource +
    student; omit ``student`` for the whole course)."""

    @extend_schema(responses={200: ResourcePinSerializer(many=True)})
    def get(self, request, pk: int):
        course_get(user=request.user, course_id=pk, staff=True)
        return Response(ResourcePinSerializer(resource_selectors.course_pins(course_id=pk), many=True).data)

    @extend_schema(request=ResourcePinSerializer, responses={200: ResourcePinSerializer})
    def post(self, request, pk: int):
        course_get(user=request.user, course_id=pk, staff=True)
        inp = ResourcePinSerializer(data=request.data)
        inp.is_valid(raise_exception=True)
        d = inp.validated_data
        if d["resource"].course_id != pk:
            raise NotFound(f"Resource {d['resource'].pk} not found.")
        pin = resource_services.resource_pin_set(
            resource=d["resource"],
            action=d.get("action", ResourcePin.Action.PIN),
            student=d.get("student"),
            user=request.user,
            position=d.get("position", 0),
            note=d.get("note", ""),
        )
        return Response(ResourcePinSerializer(pin).data)
