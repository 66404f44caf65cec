"""Signals other parts of the product listen to (LTI grade passback, retraining)."""

from django.dispatch import Signal

human_grade_saved = Signal()  # kwargs: grade_id
grade_released = Signal()  # kwargs: grade_id; sent after commit when a grade becomes visible to the student
grade_withdrawn = Signal()  # kwargs: grade_id; a released grade was taken back from the student
