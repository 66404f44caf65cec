from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recommendations.mastery.rules import MasteryState
from recommendations.models import (
    BehaviourPattern,
    LearningPath,
    LearningPathStep,
    LearningResource,
    ResourceKind,
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
    skill_id = serializers.IntegerField()
    skill = serializers.CharField(help_text="The skill's name.")
    p_mastery = serializers.FloatField(
        allow_null=True, help_text="P(mastered), 0-1; null while the state is unknown (no evidence yet)."
    )
    state = serializers.ChoiceField(
        choices=MasteryState.CHOICES,
        help_text="unknown: no evidence yet; learning; mastered: at or above the course's threshold.",
    )
    evidence_count = serializers.IntegerField(help_text="Graded attempts, practice and quiz results so far.")
    prerequisites = serializers.ListField(child=serializers.CharField(), help_text="Names of the skills it builds on.")
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
    takes_result = serializers.SerializerMethodField(
        help_text="True for practice (an exercise): send its result (score or correct) when marking it done, "
        "and it counts as evidence of the skill."
    )

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
            "takes_result",
            "status_changed_at",
        ]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_takes_result(self, step: LearningPathStep) -> bool:
        return step.resource.kind == ResourceKind.EXERCISE


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
    score = serializers.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="The result of the practice item or quiz that ended the step, 0-1 (done only).",
    )
    correct = serializers.BooleanField(
        required=False, help_text="The same as a yes/no result: true counts as 1, false as 0 (done only)."
    )

    def validate(self, data):
        if "score" in data and "correct" in data:
            raise serializers.ValidationError({"score": "Send score or correct, not both."})
        if data["status"] != LearningPathStep.Status.DONE and ("score" in data or "correct" in data):
            raise serializers.ValidationError({"status": "Only a step marked done has a result."})
        return data

    @property
    def result(self) -> float | None:
        d = self.validated_data
        if "score" in d:
            return d["score"]
        if "correct" in d:
            return 1.0 if d["correct"] else 0.0
        return None


class MasteryCellSerializer(serializers.Serializer):
    p_mastery = serializers.FloatField()
    n_attempts = serializers.IntegerField()
    mastered = serializers.BooleanField()


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "nullable": True,
            "properties": {
                "p_mastery": {"type": "number"},
                "n_attempts": {"type": "integer"},
                "mastered": {"type": "boolean"},
            },
            "required": ["p_mastery", "n_attempts", "mastered"],
        },
    }
)
class MasteryCellsField(serializers.ListField):
    """A list of MasteryCell or null (drf-spectacular drops ``allow_null`` on a list child)."""


class MasteryMatrixRowSerializer(serializers.Serializer):
    student = serializers.IntegerField()
    username = serializers.CharField()
    mastery = MasteryCellsField(
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
