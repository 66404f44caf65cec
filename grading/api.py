"""Public Python surface of the grading app; the apps above import only this module."""

from __future__ import annotations

from grading.models import Grade
from grading.selectors import (
    current_grade_for,
    grade_attempt_for,
    grade_view_for,
    released_submission_ids,
    submission_id_for_grade,
)
from grading.services import (
    HUMAN_STATES,
    answer_text,
    assignment_regrade,
    grade_comment,
    grade_lock,
    grade_recheck_request,
    grade_release,
    grade_review,
    grade_unlock,
    grade_withdraw,
    grades_release,
    grading_enqueue,
    release_blocker,
    score_check,
)
from grading.signals import grade_released, human_grade_saved

__all__ = [
    "HUMAN_STATES",
    "Grade",
    "answer_text",
    "assignment_regrade",
    "current_grade_for",
    "grade_comment",
    "grade_lock",
    "grade_recheck_request",
    "grade_release",
    "grade_review",
    "grade_unlock",
    "grade_withdraw",
    "grades_release",
    "release_blocker",
    "score_check",
    "grade_attempt_for",
    "grade_released",
    "grade_view_for",
    "grading_enqueue",
    "human_grade_saved",
    "released_submission_ids",
    "submission_id_for_grade",
]
