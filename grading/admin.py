from django.contrib import admin, messages

from eduplatform.core.admin import AssignmentAdmin as CoreAssignmentAdmin
from eduplatform.core.admin import StaffCoursesMixin
from eduplatform.core.api import ApplicationError, Assignment
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
    actions = ["accept", "release"]

    @admin.display(description="assignment")
    def assignment(self, obj) -> str:
        return obj.submission.assignment.title

    @admin.display(description="answer (typed, OCR, transcript)")
    def answer(self, obj) -> str:
        sub = obj.submission
        return "\n".join(t for t in (sub.text, sub.extracted_text) if t) or "(no text)"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # grades are records of decisions: withdraw a release instead of deleting

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        """Editing the final score is the teacher's decision (adjust, or override a flagged grade): saved, not
        released. Release with the "Release to students" action, which applies the release rules."""
        if change and "final_score" in form.changed_data and obj.final_score is not None:
            action = "override" if obj.score is None or obj.flags else "adjust"
            try:
                services.grade_review(
                    grade=obj, reviewer=request.user, action=action, score=obj.final_score, comment=obj.review_comment
                )
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, "Score saved; it is not released until you release it.", messages.INFO)
        elif change and "review_comment" in form.changed_data and obj.review_comment:
            services.grade_comment(grade=obj, user=request.user, comment=obj.review_comment)

    @admin.action(description="Accept the AI score (not released)")
    def accept(self, request, queryset):
        accepted, refused = 0, 0
        for grade in queryset.select_related("submission__assignment"):
            try:
                services.grade_review(grade=grade, reviewer=request.user, action="accept")
                accepted += 1
            except ApplicationError:
                refused += 1
        self.message_user(request, f"{accepted} AI scores accepted (not released yet).", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} not accepted: the AI did not score them (flagged); enter a score on each grade.",
                messages.WARNING,
            )

    @admin.action(description="Release to students (only grades the rules allow)")
    def release(self, request, queryset):
        report = services.grades_release(grades=queryset.select_related("submission__assignment"), user=request.user)
        self.message_user(request, report.summary(), messages.SUCCESS if not report.skipped else messages.WARNING)


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
