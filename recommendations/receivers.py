"""Graded attempts update the learner model.

* A grade an instructor confirmed (``human_grade_saved``) is a graded attempt at every
  skill tagged on its assignment. A release needs no receiver of its own: every release
  records an xAPI "scored" statement carrying the submission id, handled below with the
  same attempt source, so one attempt is processed once per event, not once per signal.
* An xAPI "answered"/"scored" statement with a result (``result.success`` or a score)
  is one too.

Receivers only wake ``recommendations.update_mastery`` by name, after commit (ids, not
instances); the task does the work on a worker and recomputes the learning path when
mastery changed.
"""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from eduplatform.core.api import LearningEvent, enqueue, enqueue_on_commit
from grading.api import human_grade_saved
from recommendations.xapi import MASTERY_VERBS, verb_name


@receiver(human_grade_saved, dispatch_uid="recommendations.mastery_on_human_grade")
def _grade_to_mastery(sender, grade_id: int, **kwargs) -> None:
    enqueue("recommendations.update_mastery", grade_id=grade_id)  # the signal is sent after commit already


@receiver(post_save, sender=LearningEvent, dispatch_uid="recommendations.mastery_on_answer")
def _answer_to_mastery(sender, instance: LearningEvent, created: bool, **kwargs) -> None:
    if not created or instance.student_id is None or verb_name(instance.verb) not in MASTERY_VERBS:
        return
    result = instance.result if isinstance(instance.result, dict) else {}
    if "success" not in result and "score" not in result:
        return
    enqueue_on_commit("recommendations.update_mastery", event_id=instance.pk)
