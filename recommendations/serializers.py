from __future__ import annotations

from rest_framework import serializers

from recommendations.models import BehaviourPattern, RiskAlert


class RiskViewSerializer(serializers.Serializer):
    """An estimate as it may be shown: hidden ones have no probability, only a message."""

    as_of = serializers.DateTimeField()
    model_version = serializers.CharField()
    shown = serializers.BooleanField()
    hidden_reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    probability = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    at_risk = serializers.BooleanField(allow_null=True)
    pattern = serializers.CharField()
    reasons = serializers.JSONField()


class CourseBehaviourRowSerializer(serializers.Serializer):
    student = serializers.IntegerField()
    as_of = serializers.DateTimeField()
    course_day = serializers.FloatField()
    engagement = serializers.FloatField()
    pattern = serializers.ChoiceField(choices=BehaviourPattern.choices)
    pattern_drivers = serializers.JSONField()
    risk = RiskViewSerializer(allow_null=True)


class CourseBehaviourSerializer(serializers.Serializer):
    course = serializers.IntegerField()
    confidence_threshold = serializers.FloatField(help_text="Estimates less confident than this are hidden.")
    alert_threshold = serializers.FloatField(help_text="Probability at or above which a student is at risk.")
    results = CourseBehaviourRowSerializer(many=True)


class CourseBehaviourQuerySerializer(serializers.Serializer):
    pattern = serializers.ChoiceField(choices=BehaviourPattern.choices, required=False)
    at_risk = serializers.BooleanField(required=False, allow_null=True, default=None)


class StudentRiskSerializer(serializers.Serializer):
    student = serializers.IntegerField()
    course = serializers.IntegerField()
    estimate = RiskViewSerializer(allow_null=True)
    engagement = serializers.FloatField(allow_null=True)
    pattern = serializers.CharField(allow_null=True)
    pattern_drivers = serializers.JSONField()
    history = serializers.JSONField()
    features = serializers.JSONField(required=False)


class RiskAlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskAlert
        fields = ["id", "student", "course", "crossed_at", "probability", "pattern", "reasons", "model_version",
                  "status", "acknowledged_by", "acknowledged_at", "resolved_at", "created_at"]
