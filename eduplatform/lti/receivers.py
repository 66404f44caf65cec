"""Signal receivers, connected in ``LtiConfig.ready``."""

from __future__ import annotations

from grading.api import grade_released, grade_withdrawn


def _on_grade_event(sender, grade_id: int, **kwargs) -> None:
    from eduplatform.lti.api import lti_grade_released

    # Sent after commit; the passback sends the released score, or clears one no longer released.
    lti_grade_released(grade_id=grade_id)


def connect() -> None:
    # Every release (auto, bulk, or an instructor's review with release) sends grade_released.
    grade_released.connect(_on_grade_event, dispatch_uid="eduplatform_lti_grade_released")
    # A withdrawn grade leaves the LMS gradebook too (the passback sends "not graded" for it).
    grade_withdrawn.connect(_on_grade_event, dispatch_uid="eduplatform_lti_grade_withdrawn")
