from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "eduplatform.workspace"
    label = "eduplatform_workspace"
    verbose_name = "eduplatform workspace"
