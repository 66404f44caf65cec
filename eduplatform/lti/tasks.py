"""Thin Celery shells around LTI services. Ids in, counts out; idempotent, retried with backoff."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from eduplatform.lti.services import LtiTransientError

SEND_GRADE_SOFT_TIME_LIMIT = 60
SEND_GRADE_TIME_LIMIT = 90
SWEEP_TIME_LIMIT = 900
ROSTER_SOFT_TIME_LIMIT = 300
ROSTER_TIME_LIMIT = 330


@shared_task(name="eduplatform.lti_send_grade", bind=True, acks_late=True,
             autoretry_for=(LtiTransientError, OperationalError), retry_backoff=True, retry_backoff_max=3600,
             max_retries=10, soft_time_limit=SEND_GRADE_SOFT_TIME_LIMIT, time_limit=SEND_GRADE_TIME_LIMIT)
def lti_send_grade(self, *, grade_id: int) -> int:
    """Send the released score behind ``grade_id`` to the LMS gradebook(s); no-op if already there."""
    from eduplatform.lti.services import grade_passback

    return grade_passback(grade_id=grade_id)


@shared_task(name="eduplatform.lti_sweep_grades", acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=3, time_limit=SWEEP_TIME_LIMIT)
def lti_sweep_grades() -> dict:
    """Periodic (celery beat): resend recently released grades that are not in the LMS yet."""
    from eduplatform.lti.services import scores_resend_recent

    return scores_resend_recent()


@shared_task(name="eduplatform.lti_sync_roster", bind=True, acks_late=True,
             autoretry_for=(LtiTransientError, OperationalError), retry_backoff=True, max_retries=5,
             soft_time_limit=ROSTER_SOFT_TIME_LIMIT, time_limit=ROSTER_TIME_LIMIT)
def lti_sync_roster(self, *, context_id: int) -> dict:
    """Make the enrolments of the course behind an LTI context match the LMS roster (NRPS)."""
    from lti_tool.models import LtiContext

    from eduplatform.lti.services import roster_sync

    context = LtiContext.objects.select_related("deployment__registration").filter(pk=context_id).first()
    if context is None:
        return {"members": 0}
    return roster_sync(context=context)
