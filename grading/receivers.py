"""When instructors grade, learned graders catch up: retrain after every RETRAIN_EVERY new human grades.

The hourly ``grading.retrain_stale`` beat task picks up whatever this misses.
"""

from __future__ import annotations

from django.dispatch import receiver

from grading.signals import human_grade_saved

RETRAIN_EVERY = 5


@receiver(human_grade_saved)
def _maybe_retrain(sender, grade_id: int, **kwargs) -> None:
    from grading.models import Grade
    from grading.services import grader_needs_training
    from grading.tasks import train_grader

    assignment_id = Grade.objects.filter(pk=grade_id).values_list("submission__assignment_id", flat=True).first()
    if assignment_id and grader_needs_training(assignment_id=assignment_id, every=RETRAIN_EVERY):
        train_grader.delay(assignment_id=assignment_id)
