from __future__ import annotations

from rest_framework import serializers

from recommendations.models import (
    BehaviourPattern,
    LearningPath,
    LearningPathStep,
    LearningResource,
    ResourcePin,
    RiskAlert,
    Skill,
)


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
        fields = [
            "id",
            "student",
            "course",
            "crossed_at",
            "probability",
            "pattern",
            "reasons",
            "model_version",
            "status",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_at",
            "created_at",
        ]


# =============================================================================
# Learner model and learning paths (issue 6)
# =============================================================================


class CourseQuerySerializer(serializers.Serializer):
    course = serializers.IntegerField(min_value=1)


class MasteryRowSerializer(serializers.Serializer):
    skill = serializers.IntegerField()
    name = serializers.CharField()
    p_mastery = serializers.FloatField()
    mastered = serializers.BooleanField()
    n_attempts = serializers.IntegerField()
    estimated_from_attempts = serializers.BooleanField(help_text="False: no graded attempt yet, the prior is shown.")
    prerequisites = serializers.ListField(child=serializers.IntegerField())
    model_version = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)


class MyMasterySerializer(serializers.Serializer):
    course = serializers.IntegerField()
    threshold = serializers.FloatField()
    results = MasteryRowSerializer(many=True)


class PathResourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = LearningResource
        fields = ["id", "title", "kind", "url", "description", "difficulty", "duration_minutes"]


class PathSkillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Skill
        fields = ["id", "name"]


class LearningPathStepSerializer(serializers.ModelSerializer):
    resource = PathResourceSerializer()
    skill = PathSkillSerializer(allow_null=True)

    class Meta:
        model = LearningPathStep
        fields = [
            "id",
            "position",
            "status",
            "reason",
            "expected_gain",
            "pinned",
            "skill",
            "resource",
            "status_changed_at",
        ]


class LearningPathSerializer(serializers.ModelSerializer):
    steps = LearningPathStepSerializer(many=True)

    class Meta:
        model = LearningPath
        fields = [
            "id",
            "course",
            "computed_at",
            "model_version",
            "is_current",
            "summary",
            "modality_preference",
            "steps",
        ]


class StepMarkInSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[LearningPathStep.Status.DONE, LearningPathStep.Status.SKIPPED])


class MasteryCellSerializer(serializers.Serializer):
    p_mastery = serializers.FloatField()
    n_attempts = serializers.IntegerField()
    mastered = serializers.BooleanField()


class MasteryMatrixRowSerializer(serializers.Serializer):
    student = serializers.IntegerField()
    username = serializers.CharField()
    mastery = serializers.ListField(
        child=MasteryCellSerializer(allow_null=True),
        help_text="One cell per skill, in the order of ``skills``; null = no evidence.",
    )


class MasteryMatrixSkillSerializer(serializers.Serializer):
    skill = serializers.IntegerField()
    name = serializers.CharField()
    mean = serializers.FloatField(allow_null=True)
    students_with_evidence = serializers.IntegerField()
    mastered = serializers.IntegerField()


class CourseMasterySerializer(serializers.Serializer):
    course = serializers.IntegerField()
    threshold = serializers.FloatField()
    skills = MasteryMatrixSkillSerializer(many=True)
    students = MasteryMatrixRowSerializer(many=True)


class ResourcePinSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResourcePin
        fields = ["id", "course", "resource", "student", "action", "position", "note", "created_at"]
        read_only_fields = ["id", "course", "created_at"]
