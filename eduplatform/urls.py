"""Standalone project URLs. A host project includes ``eduplatform.rest.urls`` under any prefix."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
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
