"""Writes for learning paths: recompute (an upsert of the current path), the student's
feedback on a step, and the recompute of a whole course.

Ranking is ``recommendations.paths.rules`` (no ORM); its inputs come from
``recommendations.paths.selectors``. Recomputes after a change run on a worker
(``recommendations.recompute_path`` / ``recompute_paths_course``, enqueued by name).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from eduplatform.core.api import ApplicationError, Course, Enrollment, Student, enqueue_on_commit, event_record
from recommendations.mastery.selectors import kt_serving_record
from recommendations.mastery.services import mastery_record_attempts
from recommendations.models import LearningPath, LearningPathStep
from recommendations.paths import selectors
from recommendations.paths.rules import RECOMMENDER_VERSION, recommend
from recommendations.xapi import VERB_COMPLETED, VERB_SKIPPED, resource_object_id

log = logging.getLogger(__name__)

_PATH_NAMESPACE = uuid.UUID("6f1c1c9e-7a53-4a44-9a35-3f6f0c1d2b10")  # statement ids of step feedback


def _path_version() -> str:
    record = kt_serving_record()
    return f"{RECOMMENDER_VERSION}/{record.version if record else 'bkt-online:default'}"


def learning_path_recompute(*, student, course, now: datetime | None = None, force: bool = False) -> LearningPath:
    """Compute the student's next-best resources and store them as the current path.

    When the result is the path the student already has (same steps and reasons), the
    current path is kept as is; ``force`` writes a new one anyway.
    """
    now = now or timezone.now()
    inputs = selectors.path_inputs(student=student, course=course, now=now)
    plan = recommend(**inputs)
    version = _path_version()
    with transaction.atomic():
        current = (
            LearningPath.objects.select_for_update().filter(student=student, course=course, is_current=True).first()
        )
        if current is not None and not force and current.model_version == version:
            steps = list(current.steps.order_by("position"))
            same = [(s.resource_id, s.skill_id, s.reason) for s in steps]
            untouched = all(s.status == LearningPathStep.Status.PENDING for s in steps)
            if same == plan.signature() and current.summary == plan.summary and untouched:
                return current  # a step the student marked is history: the same plan again is a new path
        if current is not None:
            LearningPath.objects.filter(pk=current.pk).update(is_current=False)
        path = LearningPath.objects.create(
            student=student,
            course=course,
            computed_at=now,
            model_version=version,
            is_current=True,
            summary=plan.summary,
            mastery_snapshot={str(k): round(v, 4) for k, v in inputs["mastery"].items()},
            modality_preference=plan.preference,
        )
        LearningPathStep.objects.bulk_create(
            [
                LearningPathStep(
                    path=path,
                    position=s.position,
                    resource_id=s.resource_id,
                    skill_id=s.skill_id,
                    reason=s.reason,
                    expected_gain=s.expected_gain,
                    score=s.score,
                    factors=s.factors,
                    pinned=s.pinned,
                )
                for s in plan.steps
            ]
        )
    log.info("learning path %s for student %s in course %s: %d steps", path.pk, student.pk, course.pk, len(plan.steps))
    return path


def learning_path_current_or_compute(*, student, course) -> LearningPath:
    """The current path; computed now when the student has none yet."""
    path = selectors.current_path(student_id=student.pk, course_id=course.pk)
    if path is None:
        try:
            learning_path_recompute(student=student, course=course)
        except IntegrityError:  # a concurrent request created it first
            pass
        path = selectors.current_path(student_id=student.pk, course_id=course.pk)
    return path


def learning_paths_recompute_course(*, course_id: int) -> int:
    """Recompute the paths of every student of a course (after resources or pins change)."""
    course = Course.objects.get(pk=course_id)
    n = 0
    for student in Student.objects.filter(
        user__eduplatform_enrollments__course=course, user__eduplatform_enrollments__role=Enrollment.Role.STUDENT
    ).order_by("pk"):
        learning_path_recompute(student=student, course=course)
        n += 1
    return n


def path_step_mark(*, step: LearningPathStep, status: str, result: float | None = None) -> LearningPathStep:
    """The student did or skipped a step. Done resources are not offered again (practice
    is, while its skill is not mastered) and raise the preference for their modality;
    skipped ones are ranked lower and lower it. The feedback is also stored as an xAPI
    statement (idempotent), and the path recomputed.

    ``result`` (0-1) is what the practice item or quiz that ended the step gave: it is
    evidence for the skills of the step's resource and moves their mastery (marking the
    same step again with a result replaces it). Without a result a step only marks progress.
    """
    status = {"skip": LearningPathStep.Status.SKIPPED}.get(status, status)
    if status not in (LearningPathStep.Status.DONE, LearningPathStep.Status.SKIPPED):
        raise ApplicationError("status must be done or skipped.", field="status")
    if result is not None:
        if status != LearningPathStep.Status.DONE:
            raise ApplicationError("Only a step marked done has a result.", field="status")
        if not 0.0 <= float(result) <= 1.0:
            raise ApplicationError("A result is a score between 0 and 1.", field="score")
    if step.status == status and result is None:
        return step
    now = timezone.now()
    with transaction.atomic():
        path = step.path
        resource = step.resource
        if step.status != status:
            LearningPathStep.objects.filter(pk=step.pk).update(status=status, status_changed_at=now)
            step.status, step.status_changed_at = status, now
            statement_result: dict = {"extensions": {"learning_path_step": step.pk}}
            if result is not None:
                statement_result.update({"score": {"scaled": round(float(result), 4)}, "completion": True})
            event_record(
                student=path.student,
                course=path.course,
                verb=VERB_COMPLETED if status == LearningPathStep.Status.DONE else VERB_SKIPPED,
                object_id=resource_object_id(resource.pk),
                object_type=f"https://w3id.org/eduplatform/xapi/activities/{resource.kind}",
                result=statement_result,
                statement_id=uuid.uuid5(_PATH_NAMESPACE, f"step:{step.pk}:{status}"),
                timestamp=now,
            )
        if result is not None:
            mastery_record_attempts(
                student=path.student,
                skill_weights=dict.fromkeys(
                    resource.skills.filter(course_id=path.course_id).values_list("pk", flat=True), 1.0
                ),
                correct=float(result),
                source=f"step:{step.pk}",
                occurred_at=now,
            )
        enqueue_on_commit("recommendations.recompute_path", student_id=path.student_id, course_id=path.course_id)
    return step
