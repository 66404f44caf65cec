from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The standalone project's demo data and `manage.py demo` (not needed by a host LMS)."""

    name = "eduplatform.demo"
    label = "eduplatform_demo"
    verbose_name = "eduplatform demo"
