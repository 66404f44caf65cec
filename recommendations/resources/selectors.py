"""Reads for learning resources: similar resources by text embedding, a course's pins."""

from __future__ import annotations

import numpy as np
from django.db.models import QuerySet

from recommendations.models import LearningResource, ResourcePin


def course_pins(*, course_id: int) -> QuerySet[ResourcePin]:
    """Pins and excludes of a course (course-wide and per student), in pin order."""
    return ResourcePin.objects.filter(course_id=course_id)


def resources_similar(*, resource: LearningResource, k: int = 5) -> list[tuple[LearningResource, float]]:
    """The ``k`` resources of the same course whose embeddings are closest (cosine) to
    ``resource``'s, best first, as (resource, similarity). Only embeddings made by the
    same encoder are compared; [] when ``resource`` has no embedding yet."""
    if not resource.embedding:
        return []
    others = list(
        LearningResource.objects.filter(
            course_id=resource.course_id, is_active=True, embedding_model=resource.embedding_model
        )
        .exclude(pk=resource.pk)
        .exclude(embedding=[])
        .order_by("pk")
    )
    others = [o for o in others if o.embedding and len(o.embedding) == len(resource.embedding)]
    if not others:
        return []
    q = np.asarray(resource.embedding, dtype=np.float32)
    m = np.asarray([o.embedding for o in others], dtype=np.float32)
    sims = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q) + 1e-9)
    order = sorted(range(len(others)), key=lambda i: (-float(sims[i]), others[i].pk))[:k]
    return [(others[i], round(float(sims[i]), 4)) for i in order]
