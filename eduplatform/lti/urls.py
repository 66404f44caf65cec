"""LTI 1.3 tool URLs. The standalone project mounts them under ``lti/``; a host, under any prefix.

Register on the platform: login (OIDC initiation) URL, launch (redirect/target link)
URL, and the JWKS URL; ``registrations/<uuid>/config.json`` lists them all.
"""

from django.urls import path

from eduplatform.lti import views

app_name = "eduplatform_lti"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/<uuid:registration_uuid>/", views.LoginView.as_view(), name="login-registration"),
    path("launch/", views.LaunchView.as_view(), name="launch"),
    path("deep-link/", views.DeepLinkResponseView.as_view(), name="deep-link"),
    path("submit/", views.SubmitView.as_view(), name="submit"),
    path("jwks.json", views.jwks, name="jwks"),
    path("registrations/<uuid:registration_uuid>/config.json", views.tool_configuration, name="tool-config"),
]
