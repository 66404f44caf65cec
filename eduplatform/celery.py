"""The Celery app. Workers: `celery -A eduplatform worker -Q gpu` (GPU nodes) / `-Q default`."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

app = Celery("eduplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _warm_models(**_kwargs) -> None:
    """Load models once per worker process, not per task (see DESIGN.md)."""
    queues = os.environ.get("EDUPLATFORM_WARM_MODELS", "text")
    if not queues or queues == "none":
        return
    from multimodal import registry

    registry.warm_up(tuple(m for m in queues.split(",") if m))
