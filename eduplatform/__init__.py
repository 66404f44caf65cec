"""eduplatform core app: people, courses, enrolments, assignments, submissions, events.

The package also holds the standalone project's settings/urls/celery app.
"""

from eduplatform.celery import app as celery_app

__all__ = ["celery_app"]
