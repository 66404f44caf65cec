from rest_framework import serializers

from grading.models import Grade


class ReviewItemSerializer(serializers.ModelSerializer):
    assignment = serializers.IntegerField(source="submission.assignment_id")
    student = serializers.IntegerField(source="submission.student_id")
    answer_text = serializers.CharField(source="submission.text")

    class Meta:
        model = Grade
        fields = [
            "id",
            "submission",
            "assignment",
            "student",
            "answer_text",
            "score",
            "confidence",
            "mode",
            "model_version",
            "flags",
            "criteria",
            "feedback",
            "explanation",
            "review_state",
            "review_reason",
            "final_score",
            "released_at",
            "created_at",
        ]


class ReviewInSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "adjust", "override"])
    score = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    release = serializers.BooleanField(
        required=False, default=False, help_text="Also release to the student now (saving never releases by itself)."
    )


class WithdrawInSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RecheckInSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ReleaseReportSerializer(serializers.Serializer):
    released = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.DictField(), help_text="[{grade, reason}]")
    summary = serializers.CharField()

    def to_representation(self, report):
        return {
            "released": report.released,
            "skipped": [{"grade": g, "reason": r} for g, r in report.skipped],
            "summary": report.summary(),
        }


class RegradeInSerializer(serializers.Serializer):
    only_failed = serializers.BooleanField(required=False, default=False)


class AnswerGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    assignment = serializers.IntegerField(source="assignment_id")
    size = serializers.IntegerField()
    representative = serializers.IntegerField(source="representative_id")
    representative_text = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    graded_score = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)

    def get_representative_text(self, obj) -> str:
        r = obj.representative
        return "\n".join(t for t in (r.text, r.extracted_text) if t)

    def get_members(self, obj) -> list[int]:
        return [m.pk for m in obj.members.all()]


class GroupGradeInSerializer(serializers.Serializer):
    score = serializers.DecimalField(max_digits=7, decimal_places=2)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    release = serializers.BooleanField(required=False, default=False)


class GroupGradeOutSerializer(serializers.Serializer):
    graded = serializers.ListField(child=serializers.IntegerField(), help_text="submissions given the group's score")
    kept = serializers.ListField(child=serializers.IntegerField(), help_text="already decided by a person: unchanged")
    release = ReleaseReportSerializer(allow_null=True)
