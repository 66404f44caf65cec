"""Writes for what a teacher authors around an assignment: its rubric and its grading policy.

(The assignment itself, with its reference answers and key points, is core's:
``eduplatform.core.api.assignment_update``.) Validation errors are ApplicationError
(400 in the API, form errors in the workspace).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.db import transaction

from eduplatform.core.api import ApplicationError, Assignment
from grading.models import GradingPolicy, Rubric, RubricCriterion

MAX_CRITERIA = 30
MAX_LEVELS = 10


def _points(value, what: str) -> Decimal:
    try:
        d = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        raise ApplicationError(f"{what}: points must be a number.", field="criteria") from None
    if not d.is_finite() or d < 0 or d > 10_000:
        raise ApplicationError(f"{what}: points must be between 0 and 10000.", field="criteria")
    return d


def rubric_set(
    *, assignment: Assignment, criteria: Sequence[dict], title: str = "", analytic: bool = False
) -> list[RubricCriterion]:
    """Replace the assignment's rubric with ``criteria``: [{name, description, points, levels: [{label, points,
    descriptor}]}], in order. Criteria without a name are dropped; an empty list removes the rubric.
    ``analytic``: each criterion is scored on 0..points and the total is their sum (``Rubric.analytic``)."""
    rows = [c for c in criteria if str(c.get("name", "")).strip()]
    if len(rows) > MAX_CRITERIA:
        raise ApplicationError(f"At most {MAX_CRITERIA} rubric criteria.", field="criteria")
    cleaned = []
    for c in rows:
        name = str(c["name"]).strip()[:255]
        points = _points(c.get("points", 1), f"criterion '{name}'")
        levels = []
        for lv in (c.get("levels") or [])[:MAX_LEVELS]:
            label = str(lv.get("label", "")).strip()[:80]
            if not label:
                continue
            lv_points = _points(lv.get("points", 0), f"level '{label}' of '{name}'")
            if lv_points > points:
                raise ApplicationError(
                    f"Level '{label}' of '{name}' gives {lv_points:g} points, more than the criterion's {points:g}.",
                    field="criteria",
                )
            levels.append(
                {"label": label, "points": float(lv_points), "descriptor": str(lv.get("descriptor", "")).strip()[:1000]}
            )
        levels.sort(key=lambda lv: -lv["points"])
        cleaned.append((name, str(c.get("description", "")).strip()[:4000], points, levels))
    with transaction.atomic():
        if not cleaned:
            Rubric.objects.filter(assignment=assignment).delete()
            return []
        rubric, _ = Rubric.objects.update_or_create(
            assignment=assignment, defaults={"title": title[:255], "analytic": bool(analytic)}
        )
        rubric.criteria.all().delete()
        return [
            RubricCriterion.objects.create(
                rubric=rubric, name=name, description=desc, points=points, levels=levels, position=i
            )
            for i, (name, desc, points, levels) in enumerate(cleaned)
        ]


def grading_policy_set(
    *, assignment: Assignment, release: str, auto_release_confidence: float = 0.8, review_sample_rate: float = 0.1
) -> GradingPolicy:
    """How the assignment's grades reach students: released by a person, or auto-released when confident."""
    if release not in GradingPolicy.Release.values:
        raise ApplicationError("release must be 'manual' or 'auto'.", field="release")
    for name, value in (
        ("auto_release_confidence", auto_release_confidence),
        ("review_sample_rate", review_sample_rate),
    ):
        if not 0.0 <= float(value) <= 1.0:
            raise ApplicationError(f"{name.replace('_', ' ')} must be between 0 and 1.", field=name)
    policy, _ = GradingPolicy.objects.update_or_create(
        assignment=assignment,
        defaults={
            "release": release,
            "auto_release_confidence": float(auto_release_confidence),
            "review_sample_rate": float(review_sample_rate),
        },
    )
    return policy
