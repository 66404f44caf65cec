"""Writes for learning resources: creation, and instructors' pins and excludes.

A new or changed resource is transcribed/embedded on a worker
(``recommendations.embed_resources``) and the course's paths are recomputed
(``recommendations.recompute_paths_course``), both enqueued by name after commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from eduplatform.core.api import ApplicationError, Enrollment, enqueue_on_commit
from recommendations.models import LearningResource, ResourceKind, ResourcePin, Skill


def _paths_recompute_later(*, course_id: int, student_id: int | None = None) -> None:
    if student_id is None:
        enqueue_on_commit("recommendations.recompute_paths_course", course_id=course_id)
    else:
        enqueue_on_commit("recommendations.recompute_path", student_id=student_id, course_id=course_id)


def resource_create(
    *,
    course,
    title: str,
    kind: str = ResourceKind.TEXT,
    skills: Iterable[Skill] = (),
    description: str = "",
    url: str = "",
    difficulty: float = 0.5,
    duration_minutes: int = 10,
    assignment=None,
) -> LearningResource:
    """A resource of ``course`` tagged with ``skills`` (of the same course); embedded on a
    worker and offered in the course's paths after commit."""
    title = (title or "").strip()
    if not title:
        raise ApplicationError("A resource needs a title.", field="title")
    if kind not in ResourceKind.values:
        raise ApplicationError(f"kind must be one of {', '.join(ResourceKind.values)}.", field="kind")
    if not 0 <= difficulty <= 1:
        raise ApplicationError("difficulty must be in [0, 1].", field="difficulty")
    skills = list(skills)
    if any(s.course_id != course.pk for s in skills):
        raise ApplicationError("Every skill must belong to the resource's course.", field="skills")
    if assignment is not None and assignment.course_id != course.pk:
        raise ApplicationError("The assignment belongs to another course.", field="assignment")
    with transaction.atomic():
        resource = LearningResource.objects.create(
            course=course,
            title=title[:255],
            kind=kind,
            description=description,
            url=url,
            difficulty=difficulty,
            duration_minutes=max(1, int(duration_minutes)),
            assignment=assignment,
        )
        resource.skills.set(skills)
        enqueue_on_commit("recommendations.embed_resources", resource_ids=[resource.pk])
        _paths_recompute_later(course_id=course.pk)
    return resource


def resource_pin_set(
    *, resource: LearningResource, action: str, student=None, user=None, position: int = 0, note: str = ""
) -> ResourcePin:
    """Pin or exclude a resource for its course (``student=None``) or one student; upsert.
    The affected learning paths are recomputed after commit."""
    if action not in ResourcePin.Action.values:
        raise ApplicationError("action must be pin or exclude.", field="action")
    if student is not None and not Enrollment.objects.filter(user=student.user, course_id=resource.course_id).exists():
        raise ApplicationError("That student is not enrolled in the resource's course.", field="student")
    with transaction.atomic():
        pin, _ = ResourcePin.objects.update_or_create(
            resource=resource,
            student=student,
            defaults={
                "course_id": resource.course_id,
                "action": action,
                "position": position,
                "note": note,
                "created_by": user,
            },
        )
        _paths_recompute_later(course_id=resource.course_id, student_id=student.pk if student else None)
    return pin


def resource_pin_remove(*, pin: ResourcePin) -> None:
    course_id, student_id = pin.course_id, pin.student_id
    with transaction.atomic():
        pin.delete()
        _paths_recompute_later(course_id=course_id, student_id=student_id)
