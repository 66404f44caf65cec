"""Thin Celery shells around LTI services. Ids in, counts out; idempotent, retried with backoff."""

from __future__ import annotations

from lti_tool.models import LtiContext

from eduplatform.core.api import task
from eduplatform.lti.services import LtiTransientError, grade_passback, roster_sync, scores_resend_recent

SEND_GRADE_TIME_LIMIT = 90
SWEEP_TIME_LIMIT = 900
ROSTER_TIME_LIMIT = 330


@task(
    "eduplatform.lti_send_grade", time_limit=SEND_GRADE_TIME_LIMIT, max_retries=10, autoretry_for=(LtiTransientError,)
)
def lti_send_grade(*, grade_id: int) -> int:
    """Send the released score behind ``grade_id`` to the LMS gradebook(s); no-op if already there."""
    return grade_passback(grade_id=grade_id)


@task("eduplatform.lti_sweep_grades", time_limit=SWEEP_TIME_LIMIT, max_retries=3)
def lti_sweep_grades() -> dict:
    """Periodic (celery beat): resend recently released grades that are not in the LMS yet."""
    return scores_resend_recent()


@task("eduplatform.lti_sync_roster", time_limit=ROSTER_TIME_LIMIT, autoretry_for=(LtiTransientError,))
def lti_sync_roster(*, context_id: int) -> dict:
    """Make the enrolments of the course behind an LTI context match the LMS roster (NRPS)."""
    context = LtiContext.objects.select_related("deployment__registration").filter(pk=context_id).first()
    if context is None:
        return {"members": 0}
    return roster_sync(context=context)
