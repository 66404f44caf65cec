from django.contrib import admin
from django.db.models import Count, Q

from eduplatform.core.models import Assignment, Course, Enrollment, LearningEvent, Student, Submission, SubmissionFile
from eduplatform.core.selectors import staff_course_ids


class StaffCoursesMixin:
    """Course staff who are Django staff (not superusers) see only rows of the courses they teach now.

    ``course_path`` is the lookup from the admin's model to its course id; every app's
    admin uses this mixin, so the scoping rule (core's ``staff_course_ids``) is written once.
    """

    course_path = "course_id"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.course_path}__in": staff_course_ids(request.user)})


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "is_active", "starts_on", "ends_on"]
    search_fields = ["code", "title"]
    list_filter = ["is_active"]
    inlines = [EnrollmentInline]


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "external_id", "created_at"]
    search_fields = ["user__username", "external_id"]
    raw_id_fields = ["user"]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["id", "course", "user", "role", "registered_at", "unregistered_at"]
    list_filter = ["role", "course"]
    raw_id_fields = ["user"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["title", "course", "due_at", "min_score", "max_score", "modalities_shown", "grading_progress"]
    list_filter = ["course"]
    search_fields = ["title"]

    def get_queryset(self, request):
        s = Submission.Status
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_total=Count("submissions"),
                n_done=Count("submissions", filter=Q(submissions__status__in=[s.GRADED, s.NEEDS_REVIEW])),
                n_review=Count("submissions", filter=Q(submissions__status=s.NEEDS_REVIEW)),
                n_queued=Count("submissions", filter=Q(submissions__status__in=[s.PENDING, s.RUNNING])),
                n_failed=Count("submissions", filter=Q(submissions__status=s.FAILED)),
            )
        )

    @admin.display(description="modalities")
    def modalities_shown(self, obj) -> str:
        return ", ".join(obj.modalities)

    @admin.display(description="grading progress")
    def grading_progress(self, obj) -> str:
        """Live progress of (re)grading: refresh the list to follow a bulk regrade."""
        if not obj.n_total:
            return "no submissions"
        return f"{obj.n_done}/{obj.n_total} graded ({obj.n_review} to review), {obj.n_queued} queued" + (
            f", {obj.n_failed} failed" if obj.n_failed else ""
        )


class SubmissionFileInline(admin.TabularInline):
    model = SubmissionFile
    extra = 0
    readonly_fields = ["kind", "content_type", "size", "sha256", "meta"]
    exclude = ["file"]  # files are downloaded through the permission-checked API, never a public URL
    can_delete = False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """Students' answers are records: read-only here (IT can see them, nobody edits or deletes them)."""

    list_display = ["id", "assignment", "student", "attempt", "status", "submitted_at", "graded_at"]
    list_filter = ["status", "assignment__course"]
    raw_id_fields = ["student", "assignment"]
    inlines = [SubmissionFileInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Submission._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # submissions come from students (API, LTI), never typed in by an administrator

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LearningEvent)
class LearningEventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "verb", "object_id", "student", "course"]
    list_filter = ["verb", "course"]
    raw_id_fields = ["student", "course"]
    date_hierarchy = "timestamp"
