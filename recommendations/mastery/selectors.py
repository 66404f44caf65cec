"""Reads for the learner model: skills, attempts, mastery, the serving knowledge-tracing
model's parameters, and the permission-scoped views behind the mastery API.

Students read only their own mastery; course staff read the class matrix of their
courses; everyone else gets 404. Only the BKT side of knowledge tracing is reached from
here (numpy): the deep model is served by workers (``recommendations.mastery.training``).
"""

from __future__ import annotations

import functools
import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from eduplatform.core.api import Course, Enrollment, Student, course_get, course_student_get, settings
from multimodal.knowledge_tracing import BKTModel, BKTParams
from recommendations.mastery.rules import mastery_state
from recommendations.models import KTModelRecord, Mastery, Skill, SkillAttempt, SkillPrerequisite

log = logging.getLogger(__name__)

#: Trained BKT tables kept per process (a new training is a new version; old ones fall out).
BKT_CACHE_SIZE = 4


# ------------------------------------------------------------------ knowledge-tracing models


def kt_serving_record() -> KTModelRecord | None:
    return KTModelRecord.objects.filter(serving=True).first()


@functools.lru_cache(maxsize=BKT_CACHE_SIZE)
def _bkt_load(version: str, path: str) -> BKTModel:
    """One trained BKT table per (version, artifact path), loaded once per process.

    A bounded LRU rather than ``multimodal.registry.cached``: the registry also builds
    the encoders (transformers, faster-whisper, OCR) and web-process code must not reach
    them, while this BKT table is needed by web requests too."""
    return BKTModel.load(path)


def kt_bkt_model() -> BKTModel | None:
    """The trained BKT model whose per-skill parameters drive online updates: the serving
    one, else the newest one (trained next to a serving deep model); None = defaults."""
    record = kt_serving_record()
    if record is None or record.kind != KTModelRecord.Kind.BKT:
        record = KTModelRecord.objects.filter(kind=KTModelRecord.Kind.BKT).first()
    if record is None:
        return None
    try:
        return _bkt_load(record.version, record.path)
    except (OSError, ValueError) as exc:
        log.warning("BKT model %s unreadable at %s (%s); using default parameters", record.version, record.path, exc)
        return None


def kt_params_for(skill_ids: Iterable[int]) -> dict[int, BKTParams]:
    """BKT parameters per skill id: fitted ones where a trained model knows the skill,
    else the configured defaults; the prior is the skill's own when its course set one."""
    skill_ids = list(skill_ids)
    default = BKTParams.from_mapping(settings.KT_DEFAULT_PARAMS)
    model = kt_bkt_model()
    priors = dict(Skill.objects.filter(pk__in=skill_ids, prior__isnull=False).values_list("pk", "prior"))
    out = {}
    for sid in skill_ids:
        fitted = model is not None and 0 < sid < model.params.shape[0] and not math.isnan(model.params[sid, 0])
        params = model.params_for(sid) if fitted else default
        out[sid] = replace(params, prior=float(priors[sid])) if sid in priors else params
    return out


# ------------------------------------------------------------------ skills and attempts


def course_skills(*, course_id: int) -> list[tuple[Skill, tuple[int, ...]]]:
    """Skills of a course with their prerequisites (ordered by id)."""
    prereqs: dict[int, list[int]] = defaultdict(list)
    for sid, pid in SkillPrerequisite.objects.filter(skill__course_id=course_id).values_list(
        "skill_id", "prerequisite_id"
    ):
        prereqs[sid].append(pid)
    return [(s, tuple(sorted(prereqs.get(s.pk, ())))) for s in Skill.objects.filter(course_id=course_id).order_by("pk")]


def skill_prerequisite_edges(*, course_id: int) -> list[tuple[int, int]]:
    """(skill id, prerequisite id) pairs of a course."""
    return list(SkillPrerequisite.objects.filter(skill__course_id=course_id).values_list("skill_id", "prerequisite_id"))


def skill_names(*, skill_ids: Iterable[int]) -> dict[int, str]:
    return dict(Skill.objects.filter(pk__in=list(skill_ids)).values_list("pk", "name"))


def skill_courses(*, skill_ids: Iterable[int]) -> dict[int, int]:
    """Skill id -> course id (unknown ids are left out)."""
    return dict(Skill.objects.filter(pk__in=list(skill_ids)).values_list("pk", "course_id"))


def attempts_by_skill(
    *, student_id: int, skill_ids: Iterable[int]
) -> tuple[dict[int, list[tuple[float, float]]], dict[int, datetime]]:
    """The student's (correct, weight) attempts per skill in time order, and the last attempt's time."""
    attempts: dict[int, list[tuple[float, float]]] = defaultdict(list)
    last_at: dict[int, datetime] = {}
    for sid, correct, weight, at in (
        SkillAttempt.objects.filter(student_id=student_id, skill_id__in=list(skill_ids))
        .order_by("occurred_at", "pk")
        .values_list("skill_id", "correct", "weight", "occurred_at")
    ):
        attempts[sid].append((correct, weight))
        last_at[sid] = at
    return attempts, last_at


def attempt_history(*, student_id: int) -> list[tuple[int, float]]:
    """Every (skill id, correct) attempt of a student in time order (what a deep model reads)."""
    return list(
        SkillAttempt.objects.filter(student_id=student_id)
        .order_by("occurred_at", "pk")
        .values_list("skill_id", "correct")
    )


def attempted_skills_by_student() -> dict[int, list[int]]:
    """Student id -> the skill ids they have attempts at (for a recompute of everyone)."""
    by_student: dict[int, list[int]] = defaultdict(list)
    for st, sk in (
        SkillAttempt.objects.values_list("student_id", "skill_id").distinct().order_by("student_id", "skill_id")
    ):
        by_student[st].append(sk)
    return dict(by_student)


def mastery_rows(*, student_id: int, skill_ids: Iterable[int]) -> dict[int, Mastery]:
    return {m.skill_id: m for m in Mastery.objects.filter(student_id=student_id, skill_id__in=list(skill_ids))}


# ------------------------------------------------------------------ scoped views


def student_course_get(*, user, course_id: int) -> tuple[Student, Course]:
    """The user's Student row and a course they are a *current* student of; 404 otherwise
    (core's rule: a withdrawn student, another role or an unknown id get the same answer)."""
    return course_student_get(user=user, course_id=course_id)


@dataclass(frozen=True)
class SkillMastery:
    """One skill as a student sees it: by name, with no number until there is evidence."""

    skill_id: int
    skill: str
    p_mastery: float | None  # None while the state is unknown
    state: str  # MasteryState: unknown / learning / mastered
    evidence_count: int  # graded attempts, practice and quiz results counted
    prerequisites: list[str]  # names of the skills it builds on
    updated_at: datetime | None


@dataclass(frozen=True)
class CourseMastery:
    course: int
    threshold: float
    results: list[SkillMastery]


def student_mastery(*, student: Student, course: Course) -> list[SkillMastery]:
    """A student's mastery of every skill of a course, in skill order (no permission check:
    callers decide who may see it; see ``my_mastery``)."""
    skills = course_skills(course_id=course.pk)
    names = {s.pk: s.name for s, _ in skills}
    rows = mastery_rows(student_id=student.pk, skill_ids=list(names))
    threshold = float(settings.MASTERY_THRESHOLD)
    out = []
    for s, prereqs in skills:
        m = rows.get(s.pk)
        n = m.n_attempts if m else 0
        p = round(m.p_mastery, 4) if m and n > 0 else None
        out.append(
            SkillMastery(
                skill_id=s.pk,
                skill=s.name,
                p_mastery=p,
                state=mastery_state(p, n, threshold),
                evidence_count=n,
                prerequisites=[names[q] for q in prereqs if q in names],
                updated_at=m.updated_at if m else None,
            )
        )
    return out


def my_mastery(*, user, course_id: int) -> CourseMastery:
    """The requesting student's mastery per skill of a course, by skill name; NotFound
    unless ``user`` is a student of the course."""
    student, course = student_course_get(user=user, course_id=course_id)
    return CourseMastery(
        course=course.pk,
        threshold=float(settings.MASTERY_THRESHOLD),
        results=student_mastery(student=student, course=course),
    )


def course_mastery_matrix(*, user, course_id: int) -> dict:
    """Class x skill mastery for course staff: one row per enrolled student, one value per
    skill (None where the student has no graded attempt at it yet)."""
    course = course_get(user=user, course_id=course_id, staff=True)
    skills = [s for s, _ in course_skills(course_id=course.pk)]
    students = list(
        Student.objects.filter(
            user__eduplatform_enrollments__course=course, user__eduplatform_enrollments__role=Enrollment.Role.STUDENT
        )
        .select_related("user")
        .order_by("pk")
        .distinct()
    )
    cells = {(m.student_id, m.skill_id): m for m in Mastery.objects.filter(skill__course=course, student__in=students)}
    threshold = float(settings.MASTERY_THRESHOLD)
    rows = []
    for st in students:
        values = []
        for sk in skills:
            m = cells.get((st.pk, sk.pk))
            values.append(
                None
                if m is None
                else {
                    "p_mastery": round(m.p_mastery, 4),
                    "n_attempts": m.n_attempts,
                    "mastered": m.p_mastery >= threshold,
                }
            )
        rows.append({"student": st.pk, "username": st.user.get_username(), "mastery": values})
    summary = []
    for j, sk in enumerate(skills):
        ps = [r["mastery"][j]["p_mastery"] for r in rows if r["mastery"][j] is not None]
        summary.append(
            {
                "skill": sk.pk,
                "name": sk.name,
                "mean": round(sum(ps) / len(ps), 4) if ps else None,
                "students_with_evidence": len(ps),
                "mastered": sum(1 for r in rows if r["mastery"][j] and r["mastery"][j]["mastered"]),
            }
        )
    return {"course": course.pk, "threshold": threshold, "skills": summary, "students": rows}
