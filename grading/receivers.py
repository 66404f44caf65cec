"""Grading's reactions to events of the core app and of its own (connected in ``GradingConfig.ready``).

* a submission was stored -> wake a worker (``grading.grade_pending``) by task name;
* instructors graded -> learned graders catch up after every ``EDUPLATFORM_GRADER_RETRAIN_EVERY``
  new human grades (the hourly ``grading.retrain_stale`` beat task picks up what this misses;
  0 leaves retraining to that task alone).
"""

from __future__ import annotations

from django.dispatch import receiver

from eduplatform.core.api import enqueue, settings, submissions_pending
from grading.models import Grade
from grading.services import grader_needs_training, grading_enqueue
from grading.signals import human_grade_saved


@receiver(submissions_pending, dispatch_uid="grading.enqueue_pending")
def _enqueue_pending(sender, submission_ids: list[int], **kwargs) -> None:
    grading_enqueue(submission_ids=submission_ids)


@receiver(human_grade_saved, dispatch_uid="grading.maybe_retrain")
def _maybe_retrain(sender, grade_id: int, **kwargs) -> None:
    assignment_id = Grade.objects.filter(pk=grade_id).values_list("submission__assignment_id", flat=True).first()
    every = int(settings.GRADER_RETRAIN_EVERY)
    if every > 0 and assignment_id and grader_needs_training(assignment_id=assignment_id, every=every):
        enqueue("grading.train_grader", assignment_id=assignment_id)
