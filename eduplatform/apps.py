from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "eduplatform"
    label = "eduplatform_core"
    verbose_name = "eduplatform"
    default_auto_field = "django.db.models.BigAutoField"
