"""WSGI entry of the standalone project: ``gunicorn eduplatform.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

import eduplatform.celery  # noqa: F401  (the standalone project's Celery client: tasks go to Redis)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eduplatform.settings")
application = get_wsgi_application()
