"""Public Python surface of the LTI app; other apps import only this module."""

from __future__ import annotations

import logging

from django.db import transaction

from eduplatform.core.api import enqueue, enqueue_on_commit
from eduplatform.lti.selectors import assignment_is_lti_linked, lms_sync_states

__all__ = ["lms_sync_states", "lti_grade_released", "lti_roster_sync"]

log = logging.getLogger(__name__)


def lti_grade_released(*, grade_id: int) -> None:
    """Send a just-released grade to the LMS gradebook, after the current transaction commits.

    Every release (auto-release of confident AI grades, bulk release, an instructor's
    review with release) arrives here through ``grading.api.grade_released``. Cheap
    when the course is not taught through an LMS.
    """
    transaction.on_commit(lambda: _enqueue_send(grade_id))


def _enqueue_send(grade_id: int) -> None:
    # enqueue() never raises: the 15-minute sweep resends what was not delivered
    if assignment_is_lti_linked(grade_id=grade_id):
        enqueue("eduplatform.lti_send_grade", grade_id=grade_id)


def lti_roster_sync(*, context_id: int) -> None:
    """Enqueue a roster (NRPS) sync for one LMS course, after commit."""
    enqueue_on_commit("eduplatform.lti_sync_roster", context_id=context_id)
