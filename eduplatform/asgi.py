"""ASGI entry of the standalone project."""

import os

from django.core.asgi import get_asgi_application

import eduplatform.celery  # noqa: F401  (the standalone project's Celery client)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
application = get_asgi_application()
