"""The standalone project's Celery app (a host LMS uses its own; the tasks are shared_tasks).

Processes (each under a supervisor that restarts it, e.g. systemd ``Restart=always``):

* ``celery -A eduplatform worker -Q gpu -c 1`` per GPU (or CPU grading node): grading and
  model work; a pool process killed by the OOM killer is replaced and reports ready at
  once while its models load in the background;
* ``celery -A eduplatform worker -Q default`` (any node, at least one): the sweeper and
  bookkeeping, never queued behind grading;
* one ``celery -A eduplatform beat`` for the whole deployment.

The worker options (start-up window, memory per child, broker timeouts) are the
``CELERY_*`` settings in ``eduplatform/settings.py``. Loaded by the standalone entry
points (manage.py, wsgi, asgi), never by importing the plugin, so a host's own workers
do not load models they do not serve.
"""

from __future__ import annotations

import importlib
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
    """Load models once per worker process, in the background (see ``eduplatform.core.workers``).

    Imported by name: the web process loads this module for its Celery client but
    never runs this hook, and must not import model code.
    """
    importlib.import_module("eduplatform.core.workers").warm_models_in_background()
