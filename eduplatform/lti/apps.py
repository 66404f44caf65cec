from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "eduplatform.lti"
    label = "eduplatform_lti"
    verbose_name = "eduplatform LTI"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from eduplatform.lti import receivers

        receivers.connect()
