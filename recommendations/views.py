"""Instructor-facing behaviour API: course overview, one student's risk, alerts. Thin."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from recommendations import selectors, services
from recommendations.models import RiskAlert
from recommendations.serializers import (
    CourseBehaviourQuerySerializer,
    CourseBehaviourSerializer,
    RiskAlertSerializer,
    StudentRiskSerializer,
)


class CourseBehaviour(APIView):
    """Latest engagement, pattern and risk per student of a course (course staff only).
    Filters: ``?pattern=struggling``, ``?at_risk=true`` (shown estimates only)."""

    @extend_schema(parameters=[CourseBehaviourQuerySerializer],
                   responses={200: CourseBehaviourSerializer})
    def get(self, request, pk: int):
        q = CourseBehaviourQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        rows = selectors.course_behaviour(user=request.user, course_id=pk, pattern=q.validated_data.get("pattern"),
                                          at_risk=q.validated_data.get("at_risk"))
        return Response(CourseBehaviourSerializer({
            "course": pk, "confidence_threshold": selectors.risk_setting("RISK_CONFIDENCE_THRESHOLD"),
            "alert_threshold": selectors.risk_setting("RISK_ALERT_THRESHOLD"), "results": rows}).data)


class StudentRisk(APIView):
    """One student's latest estimate and history: course staff, or the student when
    EDUPLATFORM_STUDENTS_SEE_OWN_RISK is on."""

    @extend_schema(responses={200: StudentRiskSerializer})
    def get(self, request, pk: int, student_id: int):
        body = selectors.student_risk(user=request.user, course_id=pk, student_id=student_id)
        return Response(StudentRiskSerializer(body).data)


class RiskAlertList(generics.ListAPIView):
    """Alerts in the courses you teach, newest crossing first."""

    serializer_class = RiskAlertSerializer
    filterset_fields = ["course", "status", "student"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return RiskAlert.objects.none()
        return selectors.alerts_visible_to(self.request.user)


class RiskAlertAcknowledge(APIView):
    @extend_schema(request=None, responses={200: RiskAlertSerializer})
    def post(self, request, pk: int):
        alert = selectors.alert_get(user=request.user, alert_id=pk)
        alert = services.risk_alert_acknowledge(alert=alert, user=request.user)
        return Response(RiskAlertSerializer(alert).data)
