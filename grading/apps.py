from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "grading"
    label = "eduplatform_grading"
    verbose_name = "eduplatform grading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from grading import receivers  # noqa: F401  (connects signal handlers)
