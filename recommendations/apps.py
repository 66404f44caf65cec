from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"
    label = "eduplatform_recommendations"
    verbose_name = "eduplatform learner model and recommendations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from recommendations import receivers  # noqa: F401  (graded attempts -> mastery)
