"""Admin: at-risk models, estimates, alerts, and a per-course behaviour dashboard.

Instructors who are not superusers see only the courses they teach. Charts are
server-rendered SVG (no JavaScript, no CDN).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from eduplatform.models import Course
from eduplatform.selectors import is_course_staff, staff_course_ids
from recommendations import selectors, services
from recommendations.models import BehaviourSnapshot, RiskAlert, RiskEstimate, RiskModel


class _CourseScopedAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(course_id__in=staff_course_ids(request.user))


@admin.register(RiskModel)
class RiskModelAdmin(admin.ModelAdmin):
    list_display = ["version", "cutoff_day", "accepted", "eval_auc", "students", "created_at"]
    list_filter = ["accepted", "cutoff_day"]
    readonly_fields = ["version", "kind", "cutoff_day", "feature_names", "params", "metrics", "guardrail",
                       "training_summary", "accepted", "created_at"]

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
    list_display = ["student", "course", "as_of", "shown_probability", "at_risk", "pattern", "engagement",
                    "model_version", "shown", "hidden_reason"]
    list_filter = ["course", "shown", "at_risk", "pattern", "hidden_reason"]
    readonly_fields = [f.name for f in RiskEstimate._meta.fields]

    @admin.display(description="Probability")
    def shown_probability(self, obj):
        return f"{obj.probability:.2f}" if obj.shown else "hidden"

    def get_urls(self):
        extra = [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_index), name="recommendations_dashboards"),
            path("dashboard/<int:course_id>/", self.admin_site.admin_view(self.dashboard),
                 name="recommendations_dashboard"),
            path("dashboard/<int:course_id>/student/<int:student_id>/",
                 self.admin_site.admin_view(self.student_detail), name="recommendations_student"),
        ]
        return extra + super().get_urls()

    def _course(self, request, course_id: int) -> Course:
        course = Course.objects.filter(pk=course_id).first()
        if course is None or not is_course_staff(request.user, course_id):
            raise PermissionDenied
        return course

    def dashboard_index(self, request):
        courses = Course.objects.all() if request.user.is_superuser else \
            Course.objects.filter(pk__in=staff_course_ids(request.user))
        ctx = {**self.admin_site.each_context(request), "title": "Behaviour dashboards", "courses": courses}
        return TemplateResponse(request, "admin/recommendations/dashboard_index.html", ctx)

    def dashboard(self, request, course_id: int):
        course = self._course(request, course_id)
        pattern = request.GET.get("pattern") or None
        only_risk = request.GET.get("at_risk") == "1"
        rows = selectors.course_behaviour(user=request.user, course_id=course_id, pattern=pattern,
                                          at_risk=True if only_risk else None)
        all_rows = selectors.course_behaviour(user=request.user, course_id=course_id)
        hist = selectors.engagement_histogram([r["engagement"] for r in all_rows])
        trend = selectors.course_trend(course_id=course_id)
        patterns = {}
        for r in all_rows:
            patterns[r["pattern"]] = patterns.get(r["pattern"], 0) + 1
        hidden = sum(1 for r in all_rows if r["risk"] and not r["risk"]["shown"])
        ctx = {**self.admin_site.each_context(request), "title": f"Behaviour: {course}", "course": course,
               "rows": rows, "hist_svg": _bar_svg(hist), "trend_svg": _trend_svg(trend), "patterns": patterns,
               "pattern": pattern or "", "only_risk": only_risk, "hidden": hidden,
               "confidence_threshold": selectors.risk_setting("RISK_CONFIDENCE_THRESHOLD"),
               "alert_threshold": selectors.risk_setting("RISK_ALERT_THRESHOLD"),
               "open_alerts": RiskAlert.objects.filter(course=course, resolved_at__isnull=True).count(),
               "pattern_choices": ["active", "passive", "struggling", "disengaged", "unknown"]}
        return TemplateResponse(request, "admin/recommendations/dashboard.html", ctx)

    def student_detail(self, request, course_id: int, student_id: int):
        course = self._course(request, course_id)
        body = selectors.student_risk(user=request.user, course_id=course_id, student_id=student_id)
        history = list(reversed(body["history"]))
        ctx = {**self.admin_site.each_context(request), "title": f"Student #{student_id} in {course.code}",
               "course": course, "body": body,
               "events": selectors.student_timeline(course_id=course_id, student_id=student_id),
               "alerts": RiskAlert.objects.filter(course=course, student_id=student_id),
               "engagement_svg": _trend_svg([{"as_of": h["as_of"], "engagement": h["engagement"], "at_risk": None}
                                             for h in history])}
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
            services.risk_alert_acknowledge(alert=alert, user=request.user)
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
        bars.append({"x": PAD + i * width + 1, "y": H - PAD - h, "w": width - 2, "h": h, "count": b["count"],
                     "label": f"{b['lo']:.0f}", "lx": PAD + i * width + width / 2})
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
        pts.append({"x": round(x, 1), "y": round(y, 1), "label": p["as_of"].strftime("%m-%d %H:%M"),
                    "value": round(p["engagement"] or 0, 1)})
        if p.get("at_risk") is not None:
            risk.append(f"{x:.1f},{H - PAD - (H - 2 * PAD) * p['at_risk'] / top_risk:.1f}")
    return {"w": W, "h": H, "line": " ".join(f"{p['x']},{p['y']}" for p in pts), "risk_line": " ".join(risk),
            "points": pts, "pad": PAD, "base": H - PAD, "top_risk": top_risk,
            "first": pts[0]["label"], "last": pts[-1]["label"]}
