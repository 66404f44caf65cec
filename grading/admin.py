from django.contrib import admin, messages

from grading import services
from grading.models import Grade, GradingPolicy, Rubric, RubricCriterion


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
class GradeAdmin(admin.ModelAdmin):
    list_display = ["id", "submission", "score", "final_score", "confidence", "mode", "review_state", "released_at",
                    "is_current"]
    list_filter = ["review_state", "mode", "is_current", "submission__assignment__course"]
    readonly_fields = ["submission", "model_version", "mode", "score", "confidence", "criteria", "flags", "feedback",
                       "explanation", "features", "created_at", "updated_at"]
    actions = ["accept_and_release", "release"]

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
