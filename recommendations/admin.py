"""Admin: at-risk models, estimates, alerts, and a per-course behaviour dashboard.

Instructors who are not superusers see only the courses they teach. Charts are
server-rendered SVG (no JavaScript, no CDN).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from eduplatform.core.admin import StaffCoursesMixin
from eduplatform.core.api import (
    ApplicationError,
    Course,
    Enrollment,
    enqueue_on_commit,
    is_course_staff,
)
from eduplatform.core.api import staff_course_ids as core_staff_course_ids
from recommendations.mastery import selectors as mastery_selectors
from recommendations.mastery import services as mastery_services
from recommendations.models import (
    AssignmentSkill,
    BehaviourSnapshot,
    KTModelRecord,
    LearningPath,
    LearningPathStep,
    LearningResource,
    Mastery,
    ResourcePin,
    RiskAlert,
    RiskEstimate,
    RiskModel,
    Skill,
    SkillPrerequisite,
)
from recommendations.paths import services as path_services
from recommendations.resources import selectors as resource_selectors
from recommendations.resources import services as resource_services
from recommendations.risk import selectors as risk_selectors
from recommendations.risk import services as risk_services


class _CourseScopedAdmin(StaffCoursesMixin, admin.ModelAdmin):
    """Rows of the courses the user teaches now (core's one scoping rule)."""


@admin.register(RiskModel)
class RiskModelAdmin(admin.ModelAdmin):
    list_display = ["version", "cutoff_day", "accepted", "eval_auc", "students", "created_at"]
    list_filter = ["accepted", "cutoff_day"]
    readonly_fields = [
        "version",
        "kind",
        "cutoff_day",
        "feature_names",
        "params",
        "metrics",
        "guardrail",
        "training_summary",
        "accepted",
        "created_at",
    ]

    @admin.display(description="Eval AUC (mean +- std)")
    def eval_auc(self, obj):
        g = obj.guardrail or {}
        if g.get("mean") is None:
            return g.get("reason", "-")
        return f"{g['mean']:.3f} +- {g['std']:.3f}"

    @admin.display(description="Training students")
    def students(self, obj):
        return (obj.training_summary or {}).get("students")


@admin.register(RiskEstimate)
class RiskEstimateAdmin(_CourseScopedAdmin):
    list_display = [
        "student",
        "course",
        "as_of",
        "shown_probability",
        "at_risk",
        "pattern",
        "engagement",
        "model_version",
        "shown",
        "hidden_reason",
    ]
    list_filter = ["course", "shown", "at_risk", "pattern", "hidden_reason"]
    readonly_fields = [f.name for f in RiskEstimate._meta.fields]

    @admin.display(description="Probability")
    def shown_probability(self, obj):
        return f"{obj.probability:.2f}" if obj.shown else "hidden"

    def get_urls(self):
        extra = [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_index), name="recommendations_dashboards"),
            path(
                "dashboard/<int:course_id>/",
                self.admin_site.admin_view(self.dashboard),
                name="recommendations_dashboard",
            ),
            path(
                "dashboard/<int:course_id>/student/<int:student_id>/",
                self.admin_site.admin_view(self.student_detail),
                name="recommendations_student",
            ),
        ]
        return extra + super().get_urls()

    def _course(self, request, course_id: int) -> Course:
        course = Course.objects.filter(pk=course_id).first()
        if course is None or not is_course_staff(request.user, course_id):
            raise PermissionDenied
        return course

    def dashboard_index(self, request):
        courses = (
            Course.objects.all()
            if request.user.is_superuser
            else Course.objects.filter(pk__in=core_staff_course_ids(request.user))
        )
        ctx = {**self.admin_site.each_context(request), "title": "Behaviour dashboards", "courses": courses}
        return TemplateResponse(request, "admin/recommendations/dashboard_index.html", ctx)

    def dashboard(self, request, course_id: int):
        course = self._course(request, course_id)
        pattern = request.GET.get("pattern") or None
        only_risk = request.GET.get("at_risk") == "1"
        board = risk_selectors.course_dashboard(
            user=request.user, course_id=course_id, pattern=pattern, at_risk=True if only_risk else None
        )
        ctx = {
            **self.admin_site.each_context(request),
            "title": f"Behaviour: {course}",
            "course": course,
            "rows": board.rows,
            "hist_svg": _bar_svg(board.histogram),
            "trend_svg": _trend_svg(board.trend),
            "patterns": board.patterns,
            "pattern": pattern or "",
            "only_risk": only_risk,
            "hidden": board.hidden,
            "confidence_threshold": board.confidence_threshold,
            "alert_threshold": board.alert_threshold,
            "open_alerts": board.open_alerts,
            "pattern_choices": ["active", "passive", "struggling", "disengaged", "unknown"],
        }
        return TemplateResponse(request, "admin/recommendations/dashboard.html", ctx)

    def student_detail(self, request, course_id: int, student_id: int):
        course = self._course(request, course_id)
        body = risk_selectors.student_risk(user=request.user, course_id=course_id, student_id=student_id)
        history = list(reversed(body["history"]))
        ctx = {
            **self.admin_site.each_context(request),
            "title": f"Student #{student_id} in {course.code}",
            "course": course,
            "body": body,
            "events": risk_selectors.student_timeline(course_id=course_id, student_id=student_id),
            "alerts": RiskAlert.objects.filter(course=course, student_id=student_id),
            "engagement_svg": _trend_svg(
                [{"as_of": h["as_of"], "engagement": h["engagement"], "at_risk": None} for h in history]
            ),
        }
        return TemplateResponse(request, "admin/recommendations/student.html", ctx)


@admin.register(RiskAlert)
class RiskAlertAdmin(_CourseScopedAdmin):
    list_display = ["id", "student_link", "course", "crossed_at", "probability", "pattern", "reason_text", "status"]
    list_filter = ["status", "course", "pattern"]
    readonly_fields = [f.name for f in RiskAlert._meta.fields]
    actions = ["acknowledge"]

    @admin.display(description="Student")
    def student_link(self, obj):
        url = reverse("admin:recommendations_student", args=[obj.course_id, obj.student_id])
        return format_html('<a href="{}">Student #{}</a>', url, obj.student_id)

    @admin.display(description="Reasons")
    def reason_text(self, obj):
        return "; ".join(r.get("text", "") for r in obj.reasons or [])

    @admin.action(description="Acknowledge")
    def acknowledge(self, request, queryset):
        n = 0
        for alert in queryset.exclude(status=RiskAlert.Status.RESOLVED):
            risk_services.risk_alert_acknowledge(alert=alert, user=request.user)
            n += 1
        self.message_user(request, f"{n} alerts acknowledged.", messages.SUCCESS)


@admin.register(BehaviourSnapshot)
class BehaviourSnapshotAdmin(_CourseScopedAdmin):
    list_display = ["student", "course", "as_of", "engagement", "pattern"]
    list_filter = ["course", "pattern"]
    readonly_fields = [f.name for f in BehaviourSnapshot._meta.fields]


# --------------------------------------------------------------- inline SVG charts

W, H, PAD = 520, 180, 28


def _bar_svg(bins: list[dict]) -> dict:
    top = max([b["count"] for b in bins] + [1])
    width = (W - 2 * PAD) / max(1, len(bins))
    bars = []
    for i, b in enumerate(bins):
        h = (H - 2 * PAD) * b["count"] / top
        bars.append(
            {
                "x": PAD + i * width + 1,
                "y": H - PAD - h,
                "w": width - 2,
                "h": h,
                "count": b["count"],
                "label": f"{b['lo']:.0f}",
                "lx": PAD + i * width + width / 2,
            }
        )
    return {"w": W, "h": H, "bars": bars, "base": H - PAD, "pad": PAD, "top": top}


def _trend_svg(points: list[dict]) -> dict:
    n = len(points)
    if n == 0:
        return {"w": W, "h": H, "line": "", "risk_line": "", "points": [], "pad": PAD, "base": H - PAD}
    step = (W - 2 * PAD) / max(1, n - 1)
    top_risk = max([p["at_risk"] or 0 for p in points] + [1])
    pts, risk = [], []
    for i, p in enumerate(points):
        x = PAD + i * step
        y = H - PAD - (H - 2 * PAD) * (p["engagement"] or 0) / 100.0
        pts.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "label": p["as_of"].strftime("%m-%d %H:%M"),
                "value": round(p["engagement"] or 0, 1),
            }
        )
        if p.get("at_risk") is not None:
            risk.append(f"{x:.1f},{H - PAD - (H - 2 * PAD) * p['at_risk'] / top_risk:.1f}")
    return {
        "w": W,
        "h": H,
        "line": " ".join(f"{p['x']},{p['y']}" for p in pts),
        "risk_line": " ".join(risk),
        "points": pts,
        "pad": PAD,
        "base": H - PAD,
        "top_risk": top_risk,
        "first": pts[0]["label"],
        "last": pts[-1]["label"],
    }


# =============================================================================
# Learner model and learning paths (issue 6): skills (prerequisites and assignment
# tags inline), resources, pins, mastery (with a class heat-map per course),
# learning paths with their steps, knowledge-tracing models.
# =============================================================================


class _PrerequisiteFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE") or not form.cleaned_data.get("prerequisite"):
                continue
            try:
                mastery_services.skill_prerequisite_check(
                    skill=self.instance, prerequisite=form.cleaned_data["prerequisite"]
                )
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message) from None


class SkillPrerequisiteInline(admin.TabularInline):
    model = SkillPrerequisite
    fk_name = "skill"
    formset = _PrerequisiteFormSet
    extra = 1
    verbose_name = "prerequisite"
    verbose_name_plural = "prerequisites (must be mastered first)"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "prerequisite":
            course_id = (
                request.resolver_match.kwargs.get("object_id")
                and Skill.objects.filter(pk=request.resolver_match.kwargs["object_id"])
                .values_list("course_id", flat=True)
                .first()
            )
            if course_id:
                kwargs["queryset"] = Skill.objects.filter(course_id=course_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AssignmentSkillInline(admin.TabularInline):
    model = AssignmentSkill
    extra = 1
    verbose_name = "assignment that exercises this skill"
    verbose_name_plural = "assignments that exercise this skill (their graded attempts update mastery)"


@admin.register(Skill)
class SkillAdmin(_CourseScopedAdmin):
    list_display = ["name", "course", "prior", "prerequisite_names", "n_resources"]
    list_filter = ["course"]
    search_fields = ["name", "description"]
    inlines = [SkillPrerequisiteInline, AssignmentSkillInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "prior" in form.changed_data:  # students' mastery is replayed from it
            mastery_services.skill_prior_set(skill=obj, prior=obj.prior)

    @admin.display(description="prerequisites")
    def prerequisite_names(self, obj) -> str:
        return ", ".join(link.prerequisite.name for link in obj.prerequisite_links.select_related("prerequisite"))

    @admin.display(description="resources")
    def n_resources(self, obj) -> int:
        return obj.resources.count()


@admin.register(LearningResource)
class LearningResourceAdmin(_CourseScopedAdmin):
    list_display = ["title", "course", "kind", "difficulty", "duration_minutes", "skill_names", "is_active", "embedded"]
    list_filter = ["course", "kind", "is_active"]
    search_fields = ["title", "description", "transcript"]
    filter_horizontal = ["skills"]
    readonly_fields = [
        "embedding_model",
        "embedding_source_sha",
        "content_error",
        "similar",
        "created_at",
        "updated_at",
    ]
    fields = [
        "course",
        "title",
        "kind",
        "url",
        "file",
        "description",
        "transcript",
        "skills",
        "assignment",
        "difficulty",
        "duration_minutes",
        "is_active",
        "content_error",
        "embedding_model",
        "similar",
        "created_at",
        "updated_at",
    ]
    actions = ["embed_now", "pin_for_course", "exclude_for_course"]

    @admin.display(description="skills")
    def skill_names(self, obj) -> str:
        return ", ".join(s.name for s in obj.skills.all())

    @admin.display(description="embedded", boolean=True)
    def embedded(self, obj) -> bool:
        return bool(obj.embedding)

    @admin.display(description="most similar resources")
    def similar(self, obj) -> str:
        if not obj.pk or not obj.embedding:
            return "(not embedded yet)"
        found = resource_selectors.resources_similar(resource=obj, k=5)
        return "; ".join(f"{r.title} ({s:.2f})" for r, s in found) or "(none)"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        enqueue_on_commit("recommendations.embed_resources", resource_ids=[obj.pk])
        enqueue_on_commit("recommendations.recompute_paths_course", course_id=obj.course_id)

    @admin.action(description="Compute transcripts and embeddings now (worker)")
    def embed_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        enqueue_on_commit("recommendations.embed_resources", resource_ids=ids)
        self.message_user(request, f"{len(ids)} resources queued for embedding.", messages.SUCCESS)

    def _pin(self, request, queryset, action: str) -> None:
        n = 0
        for resource in queryset:
            resource_services.resource_pin_set(resource=resource, action=action, user=request.user)
            n += 1
        self.message_user(request, f"{n} resources: {action} for their whole course.", messages.SUCCESS)

    @admin.action(description="Pin for the whole course (show first)")
    def pin_for_course(self, request, queryset):
        self._pin(request, queryset, ResourcePin.Action.PIN)

    @admin.action(description="Exclude for the whole course (never show)")
    def exclude_for_course(self, request, queryset):
        self._pin(request, queryset, ResourcePin.Action.EXCLUDE)


class _ResourcePinForm(forms.ModelForm):
    class Meta:
        model = ResourcePin
        fields = ["resource", "student", "action", "position", "note"]

    def clean(self):
        data = super().clean()
        resource, student = data.get("resource"), data.get("student")
        if (
            resource
            and student
            and not Enrollment.objects.filter(user=student.user, course_id=resource.course_id).exists()
        ):
            raise forms.ValidationError("That student is not enrolled in the resource's course.")
        return data


@admin.register(ResourcePin)
class ResourcePinAdmin(_CourseScopedAdmin):
    form = _ResourcePinForm
    list_display = ["resource", "course", "student", "action", "position", "note", "created_by", "created_at"]
    list_filter = ["course", "action"]

    def save_model(self, request, obj, form, change):
        """Through the service: course taken from the resource, paths recomputed after commit."""
        pin = resource_services.resource_pin_set(
            resource=obj.resource,
            action=obj.action,
            student=obj.student,
            user=request.user,
            position=obj.position,
            note=obj.note,
        )
        obj.pk, obj.course_id = pin.pk, pin.course_id

    def delete_model(self, request, obj):
        resource_services.resource_pin_remove(pin=obj)


@admin.register(Mastery)
class MasteryAdmin(_CourseScopedAdmin):
    course_path = "skill__course_id"
    list_display = ["student", "skill", "course", "p_mastery_pct", "n_attempts", "model_version", "updated_at"]
    list_filter = ["skill__course", "model_version"]
    list_select_related = ["skill", "skill__course"]
    readonly_fields = [f.name for f in Mastery._meta.fields]

    @admin.display(description="course")
    def course(self, obj):
        return obj.skill.course

    @admin.display(description="P(mastered)", ordering="p_mastery")
    def p_mastery_pct(self, obj) -> str:
        return f"{obj.p_mastery:.0%}"

    def has_add_permission(self, request) -> bool:
        return False

    def get_urls(self):
        extra = [
            path("heatmap/", self.admin_site.admin_view(self.heatmap_index), name="recommendations_heatmaps"),
            path("heatmap/<int:course_id>/", self.admin_site.admin_view(self.heatmap), name="recommendations_heatmap"),
        ]
        return extra + super().get_urls()

    def heatmap_index(self, request):
        courses = (
            Course.objects.all()
            if request.user.is_superuser
            else Course.objects.filter(pk__in=core_staff_course_ids(request.user))
        )
        ctx = {**self.admin_site.each_context(request), "title": "Class mastery heat-maps", "courses": courses}
        return TemplateResponse(request, "admin/recommendations/heatmap_index.html", ctx)

    def heatmap(self, request, course_id: int):
        course = Course.objects.filter(pk=course_id).first()
        if course is None or not is_course_staff(request.user, course_id):
            raise PermissionDenied
        matrix = mastery_selectors.course_mastery_matrix(user=request.user, course_id=course_id)
        rows = [
            {
                "student": r["student"],
                "username": r["username"],
                "cells": [_heat_cell(c, matrix["threshold"]) for c in r["mastery"]],
            }
            for r in matrix["students"]
        ]
        means = [
            _heat_cell(
                {"p_mastery": s["mean"], "mastered": False} if s["mean"] is not None else None,
                matrix["threshold"],
                title=f"mean of {s['students_with_evidence']} students with attempts",
            )
            for s in matrix["skills"]
        ]
        ctx = {
            **self.admin_site.each_context(request),
            "title": f"Class mastery: {course}",
            "course": course,
            "skills": matrix["skills"],
            "rows": rows,
            "means": means,
            "threshold": matrix["threshold"],
            "legend": [_heat_cell({"p_mastery": p / 10, "mastered": False}, 2.0) for p in range(0, 11, 2)],
        }
        return TemplateResponse(request, "admin/recommendations/mastery_heatmap.html", ctx)


def _heat_cell(cell: dict | None, threshold: float, title: str = "") -> dict:
    """Colour from red (0) through yellow to green (1); grey where there is no evidence."""
    if cell is None:
        return {"text": "-", "style": "background:#eee;color:#999", "title": "no graded attempt yet"}
    p = float(cell["p_mastery"])
    style = f"background:hsl({round(120 * p)},70%,{round(78 - 10 * p)}%)"
    if p >= threshold:
        style += ";font-weight:bold"
    title = title or f"{p:.0%} after {cell.get('n_attempts', 0)} attempt(s)" + (" - mastered" if p >= threshold else "")
    return {"text": f"{round(100 * p)}", "style": style, "title": title}


class LearningPathStepInline(admin.TabularInline):
    model = LearningPathStep
    extra = 0
    can_delete = False
    fields = ["position", "resource", "skill", "reason", "expected_gain", "score", "pinned", "status"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LearningPath)
class LearningPathAdmin(_CourseScopedAdmin):
    list_display = ["id", "student", "course", "computed_at", "is_current", "n_steps", "model_version"]
    list_filter = ["course", "is_current"]
    readonly_fields = [
        "student",
        "course",
        "computed_at",
        "model_version",
        "is_current",
        "summary",
        "mastery_snapshot",
        "modality_preference",
    ]
    inlines = [LearningPathStepInline]
    actions = ["recompute"]

    @admin.display(description="steps")
    def n_steps(self, obj) -> int:
        return obj.steps.count()

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Recompute these students' paths")
    def recompute(self, request, queryset):
        n = 0
        for p in queryset.filter(is_current=True).select_related("student", "course"):
            path_services.learning_path_recompute(student=p.student, course=p.course)
            n += 1
        self.message_user(request, f"{n} paths recomputed.", messages.SUCCESS)


@admin.register(KTModelRecord)
class KTModelRecordAdmin(admin.ModelAdmin):
    list_display = ["version", "name", "kind", "heldout_auc", "serving", "created_at"]
    list_filter = ["kind", "serving"]
    readonly_fields = ["name", "kind", "version", "path", "metrics", "training_summary", "serving", "created_at"]
    actions = ["serve"]

    @admin.display(description="held-out AUC")
    def heldout_auc(self, obj):
        return (obj.metrics or {}).get("heldout_auc")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Serve this model (recomputes mastery)")
    def serve(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one model.", messages.ERROR)
            return
        mastery_services.kt_model_serve(record=queryset.first())
        self.message_user(request, "Model now serving; mastery is being recomputed.", messages.SUCCESS)
