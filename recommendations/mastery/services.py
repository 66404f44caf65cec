"""Writes for the learner model: the skill graph, graded attempts as evidence, mastery.

Mastery is P(mastered) per student and skill, replayed from the stored attempts with
online BKT (with forgetting) whenever evidence arrives; re-released or adjusted grades
replace their earlier evidence (attempts are keyed by source). When the deep model
serves, this module still writes the BKT estimate at once and asks a worker
(``recommendations.refresh_mastery``) for the deep one: the web process never loads torch.
A change of mastery recomputes the student's learning path after commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from eduplatform.core.api import ApplicationError, Assignment, LearningEvent, Student, enqueue_on_commit
from grading.api import grade_attempt_for
from multimodal.knowledge_tracing import BKTParams, bkt_replay
from recommendations.mastery import selectors
from recommendations.mastery.rules import find_cycle
from recommendations.models import (
    AssignmentSkill,
    KTModelRecord,
    LearningResource,
    Mastery,
    Skill,
    SkillAttempt,
    SkillPrerequisite,
)
from recommendations.xapi import MASTERY_VERBS, SKILLS_EXT, event_correctness, object_pk, verb_name

log = logging.getLogger(__name__)


class DeepMastery(Protocol):
    """A served deep model as mastery needs it (built on workers, see ``mastery.training``)."""

    version: str

    def mastery(
        self, history: Sequence[tuple[int, float]], skill_ids: Sequence[int], params: Mapping[int, BKTParams]
    ) -> dict[int, float]: ...


# ------------------------------------------------------------------ skill graph


def _check_prior(prior: float | None) -> None:
    if prior is not None and not 0.0 <= float(prior) <= 1.0:
        raise ApplicationError("A prior is a probability between 0 and 1.", field="prior")


def skill_create(*, course, name: str, description: str = "", prior: float | None = None) -> Skill:
    """A knowledge component of ``course`` (names are unique per course). ``prior`` is how
    likely the course thinks a student knows it before any evidence (None: the default)."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("A skill needs a name.", field="name")
    _check_prior(prior)
    if Skill.objects.filter(course=course, name=name).exists():
        raise ApplicationError(f"The course already has a skill named {name!r}.", code="duplicate", field="name")
    return Skill.objects.create(course=course, name=name[:200], description=description, prior=prior)


def skill_prior_set(*, skill: Skill, prior: float | None) -> Skill:
    """Set (or clear, with None) the course's prior for a skill. Mastery is replayed from
    it, so the students' estimates are refreshed and the course's paths recomputed on a
    worker after commit."""
    _check_prior(prior)
    with transaction.atomic():
        Skill.objects.filter(pk=skill.pk).update(prior=prior)
        skill.prior = prior
        enqueue_on_commit("recommendations.refresh_mastery", skill_ids=[skill.pk])
        enqueue_on_commit("recommendations.recompute_paths_course", course_id=skill.course_id)
    return skill


def skill_prerequisite_check(*, skill: Skill, prerequisite: Skill) -> None:
    """Refuse a self-loop, a prerequisite from another course, or an edge closing a cycle."""
    if skill.pk == prerequisite.pk:
        raise ApplicationError("A skill cannot be its own prerequisite.", field="prerequisite")
    if skill.course_id != prerequisite.course_id:
        raise ApplicationError("A prerequisite must be a skill of the same course.", field="prerequisite")
    edges = [
        e for e in selectors.skill_prerequisite_edges(course_id=skill.course_id) if e != (skill.pk, prerequisite.pk)
    ]
    cycle = find_cycle([*edges, (skill.pk, prerequisite.pk)])
    if cycle:
        names = selectors.skill_names(skill_ids=cycle)
        raise ApplicationError(
            "That prerequisite would make a cycle: " + " needs ".join(names[c] for c in cycle) + ".",
            code="prerequisite_cycle",
            field="prerequisite",
        )


def skill_prerequisite_add(*, skill: Skill, prerequisite: Skill) -> SkillPrerequisite:
    with transaction.atomic():
        list(
            Skill.objects.select_for_update().filter(course_id=skill.course_id).values_list("pk")
        )  # one edit at a time
        skill_prerequisite_check(skill=skill, prerequisite=prerequisite)
        link, _ = SkillPrerequisite.objects.get_or_create(skill=skill, prerequisite=prerequisite)
    return link


def assignment_skill_tag(*, assignment, skill: Skill, weight: float = 1.0) -> AssignmentSkill:
    if assignment.course_id != skill.course_id:
        raise ApplicationError("The skill belongs to another course than the assignment.", field="skill")
    if not 0 < weight <= 1:
        raise ApplicationError("weight must be in (0, 1].", field="weight")
    tag, _ = AssignmentSkill.objects.update_or_create(assignment=assignment, skill=skill, defaults={"weight": weight})
    return tag


# ------------------------------------------------------------------ evidence


def mastery_record_attempts(
    *, student, skill_weights: dict[int, float], correct: float, source: str, occurred_at: datetime
) -> list[Mastery]:
    """Store one graded attempt as evidence for each skill (upsert on the source, so a
    re-released or adjusted grade replaces its earlier evidence) and update mastery."""
    if not skill_weights:
        return []
    correct = min(max(float(correct), 0.0), 1.0)
    with transaction.atomic():
        for sid, weight in sorted(skill_weights.items()):
            SkillAttempt.objects.update_or_create(
                student=student,
                skill_id=sid,
                source=source[:80],
                defaults={"correct": correct, "weight": float(weight), "occurred_at": occurred_at},
            )
        return mastery_recompute(student=student, skill_ids=list(skill_weights))


def mastery_update_from_attempt(
    *, student, assignment, correct: float | bool, source: str = "", occurred_at: datetime | None = None
) -> list[Mastery]:
    """A graded attempt at ``assignment`` (``correct``: True/False or a score fraction 0-1)
    updates the mastery of every skill tagged on it. ``source`` identifies the attempt
    (default: a new one each call); calling again with the same source replaces it."""
    weights = dict(AssignmentSkill.objects.filter(assignment=assignment).values_list("skill_id", "weight"))
    return mastery_record_attempts(
        student=student,
        skill_weights=weights,
        correct=float(correct),
        source=source or f"attempt:{uuid.uuid4().hex}",
        occurred_at=occurred_at or timezone.now(),
    )


def mastery_update_from_grade(*, grade_id: int) -> list[Mastery]:
    """A released or instructor-confirmed grade is a graded attempt at its assignment."""
    attempt = grade_attempt_for(grade_id=grade_id)
    if attempt is None:
        return []
    student = Student.objects.get(pk=attempt["student_id"])
    assignment = Assignment.objects.get(pk=attempt["assignment_id"])
    return mastery_update_from_attempt(
        student=student,
        assignment=assignment,
        correct=attempt["fraction"],
        source=f"submission:{attempt['submission_id']}",
        occurred_at=attempt["submitted_at"],
    )


def mastery_update_from_event(*, event_id: int) -> list[Mastery]:
    """An xAPI "answered"/"scored" statement with ``result.success`` (or a score) about an
    assignment (``assignment:<id>``), an exercise resource (``resource:<id>``) or listing
    skill ids in the context extension ``SKILLS_EXT`` updates those skills' mastery."""
    event = LearningEvent.objects.filter(pk=event_id).select_related("student").first()
    if event is None or event.student is None or event.course_id is None:
        return []
    if verb_name(event.verb) not in MASTERY_VERBS:
        return []
    correct = event_correctness(event.result)
    if correct is None:
        return []
    weights: dict[int, float] = {}
    aid = object_pk(event.object_id, "assignment")
    rid = object_pk(event.object_id, "resource")
    if aid is not None:
        weights.update(
            AssignmentSkill.objects.filter(assignment_id=aid, assignment__course_id=event.course_id).values_list(
                "skill_id", "weight"
            )
        )
    if rid is not None:
        weights.update(
            {
                sid: 1.0
                for sid in LearningResource.skills.through.objects.filter(
                    learningresource_id=rid, learningresource__course_id=event.course_id
                ).values_list("skill_id", flat=True)
            }
        )
    ext = (event.context or {}).get("extensions") if isinstance(event.context, dict) else None
    listed = ext.get(SKILLS_EXT) if isinstance(ext, dict) else None
    if isinstance(listed, list):
        ids = [int(x) for x in listed if isinstance(x, int) or (isinstance(x, str) and x.isdigit())]
        weights.update(
            {
                sid: 1.0
                for sid in Skill.objects.filter(pk__in=ids, course_id=event.course_id).values_list("pk", flat=True)
            }
        )
    ext_result = (event.result or {}).get("extensions") or {}
    sub_id = ext_result.get("submission_id") if isinstance(ext_result, dict) else None
    source = f"submission:{sub_id}" if isinstance(sub_id, int) else f"event:{event.statement_id}"
    return mastery_record_attempts(
        student=event.student, skill_weights=weights, correct=correct, source=source, occurred_at=event.timestamp
    )


# ------------------------------------------------------------------ mastery


def _bkt_version(record: KTModelRecord | None) -> str:
    return f"bkt-online:{record.version}" if record and record.kind == KTModelRecord.Kind.BKT else "bkt-online:default"


def mastery_recompute(
    *, student, skill_ids: list[int], deep: DeepMastery | None = None, defer_deep: bool = True
) -> list[Mastery]:
    """Recompute P(mastered) of these skills from the stored attempts with the serving
    model and write it with its version; enqueue path recomputes where it changed.

    When the deep model serves, ``deep`` (a worker passes it) gives its estimate; without
    it the BKT estimate is written now and, if ``defer_deep``, a worker is asked to
    replace it with the deep one after commit. A deep model that fails leaves BKT's."""
    params = selectors.kt_params_for(skill_ids)
    record = selectors.kt_serving_record()
    bkt_version = _bkt_version(record)
    attempts, last_at = selectors.attempts_by_skill(student_id=student.pk, skill_ids=skill_ids)
    deep_p: dict[int, float] = {}
    if record is not None and record.kind == KTModelRecord.Kind.DEEP:
        if deep is not None and deep.version == record.version:
            try:
                history = selectors.attempt_history(student_id=student.pk)
                deep_p = deep.mastery(history, sorted(skill_ids), params)
            except Exception as exc:  # noqa: BLE001 - a broken artifact: BKT keeps mastery up to date
                log.warning("deep KT model %s unusable (%s); using BKT", record.version, exc)
        elif defer_deep:
            enqueue_on_commit("recommendations.refresh_mastery", student_id=student.pk, skill_ids=sorted(skill_ids))
    existing = selectors.mastery_rows(student_id=student.pk, skill_ids=skill_ids)
    courses = selectors.skill_courses(skill_ids=skill_ids)
    changed_courses: set[int] = set()
    out = []
    for sid in sorted(skill_ids):
        if sid not in courses:
            continue
        if sid in deep_p:
            p, version = deep_p[sid], record.version
        else:
            p, version = bkt_replay(attempts.get(sid, ()), params[sid]), bkt_version
        p = min(1.0, max(0.0, float(p)))
        old = existing.get(sid)
        m, _ = Mastery.objects.update_or_create(
            student=student,
            skill_id=sid,
            defaults={
                "p_mastery": p,
                "n_attempts": len(attempts.get(sid, ())),
                "model_version": version,
                "last_attempt_at": last_at.get(sid),
            },
        )
        if old is None or abs(old.p_mastery - p) > 1e-9:
            changed_courses.add(courses[sid])
        out.append(m)
    for course_id in sorted(changed_courses):
        enqueue_on_commit("recommendations.recompute_path", student_id=student.pk, course_id=course_id)
    return out


def mastery_refresh(
    *, student_ids: Sequence[int] | None = None, skill_ids: Sequence[int] | None = None, deep: DeepMastery | None = None
) -> int:
    """Recompute the mastery of these students (default: everyone with attempts) with the
    serving model, on these skills (default: every skill they attempted). Used after a
    model switch and by the worker that replaces BKT estimates with the deep model's."""
    by_student = selectors.attempted_skills_by_student()
    wanted = sorted(by_student) if student_ids is None else sorted(set(student_ids) & set(by_student))
    n = 0
    for student in Student.objects.filter(pk__in=wanted).order_by("pk"):
        skills = by_student[student.pk] if skill_ids is None else sorted(set(skill_ids) & set(by_student[student.pk]))
        with transaction.atomic():
            n += len(mastery_recompute(student=student, skill_ids=skills, deep=deep, defer_deep=False))
    return n


def kt_model_serve(*, record: KTModelRecord) -> KTModelRecord:
    """An instructor/admin override: serve this model and recompute mastery with it (worker)."""
    with transaction.atomic():
        KTModelRecord.objects.filter(serving=True).exclude(pk=record.pk).update(serving=False)
        KTModelRecord.objects.filter(pk=record.pk).update(serving=True)
        record.serving = True
        enqueue_on_commit("recommendations.refresh_mastery")
    return record
