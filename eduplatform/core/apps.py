from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "eduplatform.core"
    label = "eduplatform_core"
    verbose_name = "eduplatform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        def _on_login(sender, request, user, **kwargs) -> None:
            from eduplatform.core.services import login_event_record

            login_event_record(user=user)

        user_logged_in.connect(_on_login, dispatch_uid="eduplatform_login_event")
