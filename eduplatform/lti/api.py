"""Public Python surface of the LTI app; other apps import only this module."""

from __future__ import annotations

import logging

from django.db import transaction

__all__ = ["lti_grade_released", "lti_roster_sync"]

log = logging.getLogger(__name__)


def lti_grade_released(*, grade_id: int) -> None:
    """Send a just-released grade to the LMS gradebook, after the current transaction commits.

    Grades released by an instructor's review arrive here through
    ``grading.signals.human_grade_saved``; code that releases grades another way
    (auto-release of confident AI grades, bulk release) calls this. Cheap when the
    course is not taught through an LMS.
    """
    transaction.on_commit(lambda: _enqueue_send(grade_id))


def _enqueue_send(grade_id: int) -> None:
    from eduplatform.lti.selectors import assignment_is_lti_linked
    from eduplatform.lti.tasks import lti_send_grade

    if not assignment_is_lti_linked(grade_id=grade_id):
        return
    try:
        lti_send_grade.delay(grade_id=grade_id)
    except Exception:  # never fail the grading request; LtiScoreSync keeps what was not sent
        log.exception("LTI: could not send grade %s to the LMS", grade_id)


def lti_roster_sync(*, context_id: int) -> None:
    """Enqueue a roster (NRPS) sync for one LMS course, after commit."""
    from eduplatform.lti.tasks import lti_sync_roster

    transaction.on_commit(lambda: lti_sync_roster.delay(context_id=context_id))
