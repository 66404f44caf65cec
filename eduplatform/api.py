"""Public Python surface of the core app; other apps import only this module."""

from __future__ import annotations

from eduplatform.selectors import is_course_staff, student_for_user
from eduplatform.services import (
    VERB_LOGGED_IN,
    VERB_SCORED,
    VERB_SUBMITTED,
    enrollment_create,
    event_record,
    student_get_or_create,
    submission_create,
)

__all__ = [
    "VERB_LOGGED_IN",
    "VERB_SCORED",
    "VERB_SUBMITTED",
    "enrollment_create",
    "event_record",
    "is_course_staff",
    "student_for_user",
    "student_get_or_create",
    "submission_create",
]
