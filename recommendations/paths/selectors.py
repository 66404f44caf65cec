"""Reads for learning paths: everything the recommender needs for one student, the
current path, and a step as its owner may see it (anyone else: 404)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Q

from eduplatform.core.api import (
    Assignment,
    Course,
    LearningEvent,
    NotFound,
    Student,
    Submission,
    is_course_student,
    settings,
)
from recommendations.mastery.selectors import course_skills, kt_params_for, mastery_rows
from recommendations.models import (
    AssignmentSkill,
    LearningPath,
    LearningPathStep,
    LearningResource,
    ResourcePin,
)
from recommendations.paths.rules import MODALITIES, ModalityActivity, ResourceInfo, SkillInfo, modality_preference
from recommendations.xapi import USE_VERBS, VIEW_WEIGHT, iso_duration_minutes, object_pk, resource_category, verb_name


def current_path(*, student_id: int, course_id: int) -> LearningPath | None:
    return (
        LearningPath.objects.filter(student_id=student_id, course_id=course_id, is_current=True)
        .prefetch_related("steps", "steps__resource", "steps__skill")
        .first()
    )


def path_step_get_for_owner(*, user, step_id: int) -> LearningPathStep:
    """A step of one of the user's own paths in a course they are a current student of;
    404 for anyone else's, and once they have withdrawn (ids do not leak)."""
    step = (
        (
            LearningPathStep.objects.select_related("path", "resource", "skill")
            .filter(pk=step_id, path__student__user=user)
            .first()
        )
        if user.is_authenticated
        else None
    )
    if step is None or not is_course_student(user, step.path.course_id):
        raise NotFound(f"Learning path step {step_id} not found.")
    return step


def path_inputs(*, student: Student, course: Course, now: datetime) -> dict:
    """Everything ``paths.recommend`` needs for one student, read from the database."""
    skills_rows = course_skills(course_id=course.pk)
    params = kt_params_for([s.pk for s, _ in skills_rows])
    skills = [SkillInfo(id=s.pk, name=s.name, prerequisites=pre, learn=params[s.pk].learn) for s, pre in skills_rows]
    stored = mastery_rows(student_id=student.pk, skill_ids=[s.id for s in skills])
    evidence = {sid for sid, m in stored.items() if m.n_attempts > 0}
    mastery = {s.id: (stored[s.id].p_mastery if s.id in evidence else params[s.id].prior) for s in skills}

    # Upcoming, not yet submitted assignments per skill (urgency).
    submitted = set(
        Submission.objects.filter(student=student, assignment__course=course).values_list("assignment_id", flat=True)
    )
    upcoming = {a.pk: a for a in Assignment.objects.filter(course=course, due_at__gte=now).exclude(pk__in=submitted)}
    due_by_skill: dict[int, list] = defaultdict(list)
    for aid, sid in AssignmentSkill.objects.filter(assignment_id__in=upcoming).values_list("assignment_id", "skill_id"):
        due_by_skill[sid].append(upcoming[aid])

    resources = []
    kinds = {}
    durations = {}
    qs = LearningResource.objects.filter(course=course, is_active=True).prefetch_related("skills").order_by("pk")
    for r in qs:
        tagged = {s.pk: 1.0 for s in r.skills.all()}
        linked = [a for sid in tagged for a in due_by_skill.get(sid, ())]
        if r.assignment_id in upcoming:
            linked.append(upcoming[r.assignment_id])
        first = min(linked, key=lambda a: (a.due_at, a.pk)) if linked else None
        resources.append(
            ResourceInfo(
                id=r.pk,
                title=r.title,
                kind=r.kind,
                skills=tagged,
                difficulty=r.difficulty,
                duration_minutes=r.duration_minutes,
                due_at=first.due_at if first else None,
                due_title=first.title if first else "",
            )
        )
        kinds[r.pk] = r.kind
        durations[r.pk] = r.duration_minutes

    # History: steps marked done/skipped, and "completed" statements about resources.
    done: set[int] = set()
    skipped: dict[int, int] = defaultdict(int)
    for rid, status in (
        LearningPathStep.objects.filter(path__student=student, path__course=course)
        .exclude(status=LearningPathStep.Status.PENDING)
        .values_list("resource_id", "status")
    ):
        if status == LearningPathStep.Status.DONE:
            done.add(rid)
        else:
            skipped[rid] += 1
    activity = {m: ModalityActivity() for m in MODALITIES}
    minutes_seen: dict[int, float] = defaultdict(float)
    events = LearningEvent.objects.filter(student=student, course=course).values_list(
        "verb", "object_id", "object_type", "result"
    )
    for verb, object_id, object_type, result in events.iterator(chunk_size=2000):
        name = verb_name(verb)
        if name not in USE_VERBS:
            continue
        minutes = iso_duration_minutes((result or {}).get("duration")) if isinstance(result, dict) else 0.0
        rid = object_pk(object_id, "resource")
        if rid is not None:
            if rid in kinds:
                minutes_seen[rid] += minutes
                if name == "completed":
                    done.add(rid)
            continue
        category = resource_category(object_type)
        if category in activity:
            activity[category].completions += VIEW_WEIGHT
            activity[category].minutes += minutes
    for rid in sorted(done):
        if rid in kinds:
            activity[kinds[rid]].completions += 1
            activity[kinds[rid]].minutes += minutes_seen.get(rid) or durations[rid]
    for rid, n in sorted(skipped.items()):
        if rid in kinds and rid not in done:
            activity[kinds[rid]].skips += n
    skipped = {rid: n for rid, n in skipped.items() if rid not in done}

    # Pins: a student-level choice overrides the course-level one for the same resource.
    choice: dict[int, tuple] = {}
    for pin in (
        ResourcePin.objects.filter(course=course)
        .filter(Q(student__isnull=True) | Q(student=student))
        .order_by("position", "pk")
    ):
        if pin.resource_id in choice and pin.student_id is None:
            continue
        choice[pin.resource_id] = (pin.action, pin.position, pin.student_id is None, pin.pk)
    pinned = [
        rid
        for rid, c in sorted(choice.items(), key=lambda kv: (kv[1][1], kv[1][2], kv[1][3]))
        if c[0] == ResourcePin.Action.PIN
    ]
    excluded = {rid for rid, c in choice.items() if c[0] == ResourcePin.Action.EXCLUDE}
    return {
        "skills": skills,
        "mastery": mastery,
        "resources": resources,
        "preference": modality_preference(activity),
        "done": done,
        "skipped": skipped,
        "pinned": pinned,
        "excluded": excluded,
        "unknown": {s.id for s in skills if s.id not in evidence},
        "now": now,
        "threshold": float(settings.MASTERY_THRESHOLD),
        "max_steps": int(settings.PATH_MAX_STEPS),
        "max_per_skill": int(settings.PATH_MAX_PER_SKILL),
    }
