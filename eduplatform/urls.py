"""Standalone project URLs. A host project includes ``eduplatform.rest.urls`` under any prefix."""

import secrets

from django.contrib import admin
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView


@never_cache
@require_GET
def healthz(request):
    """For a load balancer or a supervisor (no login; exempt from the HTTPS redirect): 200 while the
    database answers, 503 when it does not. A cache (Redis) outage is "degraded", still 200: pages
    and uploads keep working and grading waits for the broker, losing nothing. No details leak."""
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        database = "ok"
    except DatabaseError:
        database = "unavailable"
    probe = secrets.token_hex(8)
    cache.set("healthz-probe", probe, 10)
    cache_state = "ok" if cache.get("healthz-probe") == probe else "unavailable"
    status = "unavailable" if database != "ok" else ("ok" if cache_state == "ok" else "degraded")
    return JsonResponse(
        {"status": status, "database": database, "cache": cache_state}, status=503 if database != "ok" else 200
    )


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", RedirectView.as_view(pattern_name="eduplatform_workspace:home", permanent=False)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("workspace/", include("eduplatform.workspace.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("eduplatform.rest.urls")),
    path("lti/", include("eduplatform.lti.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI and Redoc from local assets (drf-spectacular-sidecar): nothing from a CDN.
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="eduplatform_core/api_redoc.html"),
        name="redoc",
    ),
]

handler404 = "eduplatform.core.middleware.page_not_found"
handler500 = "eduplatform.core.middleware.server_error"
