"""Public Python surface of the core app: the only core module the apps above import.

Besides the write/read functions it re-exports the core models (other apps query
and reference them), the one error type family, the settings wrapper and the
signal that announces new submissions.
"""

from __future__ import annotations

from eduplatform.core.conf import artifact_dir, settings
from eduplatform.core.errors import ApplicationError, Conflict, NotFound, PayloadTooLarge, error_body
from eduplatform.core.filters import IdFilter
from eduplatform.core.limits import json_value_problem, text_problem
from eduplatform.core.lrs import statement_json
from eduplatform.core.models import (
    Assignment,
    Course,
    Enrollment,
    LearningEvent,
    Modality,
    Student,
    Submission,
    SubmissionFile,
    scaled_score,
)
from eduplatform.core.selectors import (
    STAFF_ROLES,
    assignment_get,
    assignments_visible_to,
    course_get,
    course_student_get,
    course_students,
    courses_visible_to,
    display_name,
    events_visible_to,
    is_course_staff,
    is_course_student,
    staff_course_ids,
    staff_courses,
    student_course_ids,
    student_for_user,
    submission_get,
    submissions_visible_to,
)
from eduplatform.core.services import (
    VERB_LOGGED_IN,
    VERB_SCORED,
    VERB_SUBMITTED,
    assignment_create,
    assignment_update,
    course_create,
    enrollment_create,
    event_record,
    events_ingest,
    student_get_or_create,
    submission_create,
)
from eduplatform.core.signals import submissions_pending
from eduplatform.core.tasking import enqueue, enqueue_on_commit, task
from eduplatform.core.xapi import COURSE_EXT

__all__ = [
    "COURSE_EXT",
    "STAFF_ROLES",
    "VERB_LOGGED_IN",
    "VERB_SCORED",
    "VERB_SUBMITTED",
    "ApplicationError",
    "Assignment",
    "Conflict",
    "Course",
    "Enrollment",
    "IdFilter",
    "LearningEvent",
    "Modality",
    "NotFound",
    "PayloadTooLarge",
    "Student",
    "Submission",
    "SubmissionFile",
    "artifact_dir",
    "assignment_create",
    "assignment_get",
    "assignment_update",
    "assignments_visible_to",
    "course_create",
    "course_get",
    "course_student_get",
    "course_students",
    "courses_visible_to",
    "display_name",
    "enqueue",
    "error_body",
    "enqueue_on_commit",
    "enrollment_create",
    "event_record",
    "events_ingest",
    "events_visible_to",
    "is_course_staff",
    "is_course_student",
    "json_value_problem",
    "settings",
    "staff_course_ids",
    "staff_courses",
    "scaled_score",
    "statement_json",
    "student_course_ids",
    "student_for_user",
    "student_get_or_create",
    "submission_create",
    "submission_get",
    "submissions_pending",
    "submissions_visible_to",
    "task",
    "text_problem",
]
