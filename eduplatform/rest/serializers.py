from __future__ import annotations

from rest_framework import serializers

from eduplatform.core.api import Assignment, Course, LearningEvent, Submission, SubmissionFile, is_course_staff
from grading.api import grade_view_for


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "code", "title", "description", "is_active", "starts_on", "ends_on"]


class AssignmentSerializer(serializers.ModelSerializer):
    modalities = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "course",
            "title",
            "instructions",
            "due_at",
            "min_score",
            "max_score",
            "modalities",
            "max_attempts",
            "answer_format",  # the expected answer itself is never sent: students read this API
        ]


class SubmissionFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubmissionFile
        fields = ["id", "kind", "content_type", "size", "meta"]


class GradeOutSerializer(serializers.Serializer):
    """A released grade as a student sees it."""

    score = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    confidence = serializers.FloatField()
    mode = serializers.CharField()
    model_version = serializers.CharField()
    criteria = serializers.JSONField()
    feedback = serializers.CharField()
    flags = serializers.JSONField()
    released_at = serializers.DateTimeField()
    reviewed = serializers.BooleanField()


class SubmissionOutSerializer(serializers.ModelSerializer):
    files = SubmissionFileSerializer(many=True, read_only=True)
    course = serializers.IntegerField(source="assignment.course_id", read_only=True)
    result = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id",
            "assignment",
            "course",
            "student",
            "attempt",
            "text",
            "status",
            "failure_reason",
            "submitted_at",
            "graded_at",
            "files",
            "result",
        ]

    def get_result(self, obj: Submission) -> dict | None:
        user = self.context["request"].user
        staff_by_course = self.context.setdefault("_staff_by_course", {})  # one check per course per request
        course_id = obj.assignment.course_id
        if course_id not in staff_by_course:
            staff_by_course[course_id] = is_course_staff(user, course_id)
        return grade_view_for(submission=obj, user=user, staff=staff_by_course[course_id])


class SubmissionInSerializer(serializers.Serializer):
    assignment = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    text = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=True)
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        help_text="Photos (PNG, JPEG, WebP; at most 10 MB and 40 megapixels each) or recordings "
        "(WAV, FLAC, OGG, MP3; at most 25 MB and 10 minutes); at most 5 files (multipart only).",
    )


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    detail = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The one error shape of the API (see eduplatform.core.errors)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    errors = ErrorItemSerializer(many=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


class StatementResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["stored", "duplicate", "error"])
    code = serializers.CharField(required=False)
    field = serializers.CharField(required=False, allow_null=True)
    error = serializers.CharField(required=False)


class StatementBatchResultSerializer(serializers.Serializer):
    results = StatementResultSerializer(many=True)
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="How many statements were refused (see their results).")


class LearningEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="statement_id")
    verb = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()

    class Meta:
        model = LearningEvent
        fields = ["id", "actor", "verb", "object", "result", "context", "timestamp", "stored_at", "course"]

    def get_verb(self, obj: LearningEvent) -> dict:
        return {"id": obj.verb, "display": {"en-US": obj.verb_name}}

    def get_object(self, obj: LearningEvent) -> dict:
        return {"id": obj.object_id, "objectType": "Activity", "definition": {"type": obj.object_type}}
