"""Admin: platform registration (django-lti's, plus the URLs to give the LMS) and our links.

Registering a platform: add an LTI registration (issuer, client_id, the platform's
auth/token/JWKS URLs), save, then activate the deployment(s) listed inline (an
unknown deployment is recorded, inactive, on its first launch).
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from lti_tool.admin import LtiRegistrationAdmin
from lti_tool.models import LtiRegistration

from eduplatform.lti.models import (
    LtiAssignmentLineItem,
    LtiAssignmentLink,
    LtiCourseLink,
    LtiScoreSync,
)


def _path(name: str, **kwargs) -> str:
    try:
        return reverse(f"eduplatform_lti:{name}", kwargs=kwargs or None)
    except NoReverseMatch:
        return "(LTI URLs are not mounted in this project's urls.py)"


class RegistrationAdmin(LtiRegistrationAdmin):
    readonly_fields = ["tool_urls"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.insert(0, ("Give these to the LMS", {"fields": ["tool_urls"]}))
        return fieldsets

    @admin.display(description="Tool URLs")
    def tool_urls(self, obj: LtiRegistration) -> str:
        rows = [
            ("OIDC login / initiation URL", _path("login-registration", registration_uuid=obj.uuid)),
            ("Launch / redirect / target link URI", _path("launch")),
            ("Deep Linking URL", _path("launch")),
            ("Public keyset (JWKS) URL", _path("jwks")),
            ("All of it as JSON", _path("tool-config", registration_uuid=obj.uuid)),
        ]
        return format_html(
            "<table>{}</table><p>Prefix each path with this site's https origin.</p>",
            format_html_join("", "<tr><th>{}</th><td><code>{}</code></td></tr>", rows),
        )


if admin.site.is_registered(LtiRegistration):
    admin.site.unregister(LtiRegistration)
admin.site.register(LtiRegistration, RegistrationAdmin)


@admin.register(LtiCourseLink)
class LtiCourseLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "context", "course", "created_at"]
    list_select_related = ["context", "course"]
    raw_id_fields = ["context", "course"]
    search_fields = ["context__title", "context__id_on_platform", "course__code", "course__title"]


@admin.register(LtiAssignmentLink)
class LtiAssignmentLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "resource_link", "assignment", "created_at"]
    list_select_related = ["resource_link", "assignment"]
    raw_id_fields = ["resource_link", "assignment"]


@admin.register(LtiAssignmentLineItem)
class LtiAssignmentLineItemAdmin(admin.ModelAdmin):
    list_display = ["id", "assignment", "context", "line_item", "created_at"]
    list_select_related = ["assignment", "context", "line_item"]
    raw_id_fields = ["assignment", "context", "line_item"]


@admin.register(LtiScoreSync)
class LtiScoreSyncAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "line_item",
        "lti_user",
        "score_given",
        "score_maximum",
        "status",
        "attempts",
        "sent_at",
        "updated_at",
    ]
    list_filter = ["status"]
    readonly_fields = [f.name for f in LtiScoreSync._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
