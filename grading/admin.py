from django.contrib import admin, messages

from eduplatform.core.admin import AssignmentAdmin as CoreAssignmentAdmin
from eduplatform.core.admin import StaffCoursesMixin
from eduplatform.core.api import Assignment
from grading import services
from grading.models import AnswerGroup, Grade, GraderModel, GradingPolicy, Rubric, RubricCriterion

admin.site.unregister(Assignment)


@admin.register(Assignment)
class AssignmentAdmin(CoreAssignmentAdmin):
    """Core's assignment admin plus grading's bulk regrade (core never imports grading)."""

    actions = ["regrade"]

    @admin.action(description="Regrade all submissions (keeps instructor decisions)")
    def regrade(self, request, queryset):
        n = sum(services.assignment_regrade(assignment_id=a.pk) for a in queryset)
        self.message_user(
            request, f"{n} submissions queued for regrading; progress shows in this list.", messages.SUCCESS
        )


class RubricCriterionInline(admin.TabularInline):
    model = RubricCriterion
    extra = 1


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    list_display = ["assignment", "title"]
    inlines = [RubricCriterionInline]


@admin.register(GradingPolicy)
class GradingPolicyAdmin(admin.ModelAdmin):
    list_display = ["assignment", "release", "auto_release_confidence", "review_sample_rate"]


@admin.register(Grade)
class GradeAdmin(StaffCoursesMixin, admin.ModelAdmin):
    """The review queue: filter 'Waiting for review'; edit final score + comment to adjust or override."""

    course_path = "submission__assignment__course_id"

    list_display = [
        "id",
        "submission",
        "assignment",
        "score",
        "final_score",
        "confidence",
        "mode",
        "flags",
        "review_state",
        "released_at",
    ]
    list_filter = ["review_state", "mode", "is_current", "submission__assignment__course"]
    list_select_related = ["submission", "submission__assignment"]
    ordering = ["confidence"]
    readonly_fields = [
        "submission",
        "answer",
        "model_version",
        "mode",
        "score",
        "confidence",
        "criteria",
        "flags",
        "feedback",
        "explanation",
        "review_reason",
        "features",
        "created_at",
        "updated_at",
        "review_state",
        "reviewer",
        "reviewed_at",
        "released_at",
    ]
    fields = [
        "submission",
        "answer",
        "score",
        "confidence",
        "mode",
        "flags",
        "review_reason",
        "explanation",
        "criteria",
        "feedback",
        "final_score",
        "review_comment",
        "review_state",
        "reviewer",
        "reviewed_at",
        "released_at",
        "model_version",
        "features",
        "created_at",
        "updated_at",
    ]
    actions = ["accept_and_release", "release"]

    @admin.display(description="assignment")
    def assignment(self, obj) -> str:
        return obj.submission.assignment.title

    @admin.display(description="answer (typed, OCR, transcript)")
    def answer(self, obj) -> str:
        sub = obj.submission
        return "\n".join(t for t in (sub.text, sub.extracted_text) if t) or "(no text)"

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        """Editing the final score is an instructor decision: adjust (or override a flagged grade)."""
        if change and "final_score" in form.changed_data and obj.final_score is not None:
            action = "override" if obj.score is None or obj.flags else "adjust"
            services.grade_review(
                grade=obj, reviewer=request.user, action=action, score=obj.final_score, comment=obj.review_comment
            )
        else:
            super().save_model(request, obj, form, change)

    @admin.action(description="Accept the AI score and release")
    def accept_and_release(self, request, queryset):
        n = 0
        for grade in queryset.filter(score__isnull=False):
            services.grade_review(grade=grade, reviewer=request.user, action="accept")
            n += 1
        self.message_user(request, f"{n} grades accepted and released.", messages.SUCCESS)

    @admin.action(description="Release to students")
    def release(self, request, queryset):
        n = services.grades_release(grades=queryset)
        self.message_user(request, f"{n} grades released.", messages.SUCCESS)


@admin.register(GraderModel)
class GraderModelAdmin(admin.ModelAdmin):
    list_display = ["assignment", "version", "n_examples", "n_examples_this_assignment", "is_active", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = [
        "assignment",
        "version",
        "path",
        "n_examples",
        "n_examples_this_assignment",
        "metrics",
        "created_at",
    ]


@admin.register(AnswerGroup)
class AnswerGroupAdmin(StaffCoursesMixin, admin.ModelAdmin):
    course_path = "assignment__course_id"
    list_display = ["id", "assignment", "size", "representative_answer", "graded_score"]
    list_filter = ["assignment__course"]
    readonly_fields = ["assignment", "representative", "size", "members"]

    @admin.display(description="representative answer")
    def representative_answer(self, obj) -> str:
        r = obj.representative
        return ("\n".join(t for t in (r.text, r.extracted_text) if t))[:120]

    def save_model(self, request, obj, form, change):
        if change and "graded_score" in form.changed_data and obj.graded_score is not None:
            services.answer_group_grade(group=obj, reviewer=request.user, score=obj.graded_score)
        else:
            super().save_model(request, obj, form, change)
