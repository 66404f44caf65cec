"""Grading reads, scoped to the courses a user teaches now (core's one staff rule)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from eduplatform.core.api import NotFound, Submission, display_name, is_course_staff, staff_course_ids
from grading.models import AnswerGroup, Grade, GradingPolicy, Rubric, RubricCriterion

HUMAN_REVIEW_STATES = ("accepted", "adjusted", "overridden")


def grades_for_staff(user) -> QuerySet[Grade]:
    qs = Grade.objects.select_related("submission", "submission__assignment").filter(is_current=True)
    if user.is_superuser:
        return qs
    return qs.filter(submission__assignment__course_id__in=staff_course_ids(user))


def review_queue(user) -> QuerySet[Grade]:
    return grades_for_staff(user).filter(review_state=Grade.Review.PENDING).order_by("confidence", "created_at")


def grade_get_for_staff(*, user, grade_id: int) -> Grade:
    grade = grades_for_staff(user).filter(pk=grade_id).first()
    if grade is None:
        raise NotFound(f"Grade {grade_id} not found.")
    return grade


def grade_get_for_student(*, user, grade_id: int) -> Grade:
    """The student's own current, released grade; 404 otherwise."""
    grade = (
        Grade.objects.select_related("submission__assignment", "submission__student")
        .filter(pk=grade_id, is_current=True, released_at__isnull=False, submission__student__user=user)
        .first()
    )
    if grade is None:
        raise NotFound(f"Grade {grade_id} not found.")
    return grade


def current_grade_for(submission_id: int) -> Grade | None:
    return Grade.objects.filter(submission_id=submission_id, is_current=True).first()


def grade_view_for(*, submission, user, staff: bool | None = None) -> dict | None:
    """The grade as ``user`` may see it: students only once released; staff always.

    Uses ``submission.grades`` when the caller prefetched it (list views), so a page
    of submissions costs no query per row.
    """
    grade = next((g for g in submission.grades.all() if g.is_current), None)
    if grade is None:
        return None
    if staff is None:
        staff = is_course_staff(user, submission.assignment.course_id)
    if not staff and not grade.released:
        return None
    view = {
        "score": grade.effective_score,
        "confidence": grade.confidence,
        "mode": grade.mode,
        "model_version": grade.model_version,
        "criteria": grade.criteria,
        "feedback": grade.feedback,
        "flags": grade.flags,
        "released_at": grade.released_at,
        "reviewed": grade.review_state in HUMAN_REVIEW_STATES,
        "teacher_comment": grade.review_comment,
        # what the machine read from each photo / recording, so a student can contest a misread
        "readings": [
            {"file_id": r.get("file_id"), "kind": r.get("kind"), "text": r.get("text", "")}
            for r in (grade.features or {}).get("readings", [])
        ],
    }
    if staff:
        view.update(
            {
                "grade_id": grade.pk,
                "ai_score": grade.score,
                "explanation": grade.explanation,
                "review_state": grade.review_state,
                "review_reason": grade.review_reason,
            }
        )
    return view


def grade_attempt_for(*, grade_id: int) -> dict | None:
    """A grade as a graded attempt for the learner model, or None when it does not count:
    only the current grade of a submission, with a score, once released to the student or
    confirmed by an instructor. ``fraction`` is the score scaled to 0-1."""
    grade = (
        Grade.objects.select_related("submission", "submission__assignment")
        .filter(pk=grade_id, is_current=True)
        .first()
    )
    if grade is None or grade.effective_score is None:
        return None
    if grade.released_at is None and grade.review_state not in HUMAN_REVIEW_STATES:
        return None
    sub = grade.submission
    a = sub.assignment
    return {
        "grade_id": grade.pk,
        "submission_id": sub.pk,
        "student_id": sub.student_id,
        "assignment_id": a.pk,
        "fraction": a.score_fraction(grade.effective_score),
        "submitted_at": sub.submitted_at,
    }


def submission_id_for_grade(grade_id: int) -> int | None:
    return Grade.objects.filter(pk=grade_id).values_list("submission_id", flat=True).first()


def released_submission_ids(*, since) -> QuerySet:
    """Submissions whose current grade was released at or after ``since`` (a subquery of ids)."""
    return Grade.objects.filter(is_current=True, released_at__gte=since).values("submission_id")


# --- the instructor workspace: queues, progress, neighbours, gradebook -------------------------------

# Where a submission stands for the people who grade it, in the order a teacher works.
STATE_UNGRADED = "ungraded"  # not graded by the machine yet (queued, running or failed)
STATE_REVIEW = "review"  # waiting for a person (flagged, unsure, sampled, or a student's re-check)
STATE_AI = "ai"  # confident AI suggestion nobody has looked at (released only by an auto-release policy)
STATE_REVIEWED = "reviewed"  # a person decided; not released yet
STATE_RELEASED = "released"  # the student sees it
STATES = {
    STATE_UNGRADED: "Not graded yet",
    STATE_REVIEW: "Waiting for review",
    STATE_AI: "AI graded, not reviewed",
    STATE_REVIEWED: "Reviewed, not released",
    STATE_RELEASED: "Released",
}
CONFIDENCE_BANDS = {"low": (0.0, 0.4), "medium": (0.4, 0.7), "high": (0.7, 1.01)}


def confidence_band(confidence: float) -> str:
    return next(name for name, (lo, hi) in CONFIDENCE_BANDS.items() if lo <= confidence < hi)


def grade_state(grade: Grade | None) -> str:
    if grade is None:
        return STATE_UNGRADED
    if grade.released_at is not None and grade.review_state != Grade.Review.PENDING:
        return STATE_RELEASED
    if grade.review_state == Grade.Review.PENDING:
        return STATE_REVIEW
    if grade.review_state in HUMAN_REVIEW_STATES:
        return STATE_REVIEWED
    return STATE_AI


@dataclass
class QueueRow:
    submission_id: int
    grade_id: int | None
    student_id: int
    student_name: str
    attempt: int
    submitted_at: object
    state: str
    ai_score: object
    final_score: object
    confidence: float | None
    band: str | None
    flags: list[str]
    review_reason: str
    group_id: int | None
    locked_by: str
    modalities: list[str]
    recheck: bool

    @property
    def state_label(self) -> str:
        return STATES[self.state]


def _queue_key(row: QueueRow) -> tuple:
    """Flagged (or unscored) first, then students' re-check requests, then least confident; waiting before done."""
    order = [STATE_REVIEW, STATE_AI, STATE_REVIEWED, STATE_UNGRADED, STATE_RELEASED].index(row.state)
    flagged = bool(row.flags) or (row.grade_id is not None and row.ai_score is None)
    return (
        order,
        not flagged,
        not row.recheck,
        row.confidence if row.confidence is not None else 2.0,
        row.submission_id,
    )


def assignment_queue(
    *, user, assignment_id: int, state: str = "", band: str = "", flag: str = "", group: int | None = None, q: str = ""
) -> list[QueueRow]:
    """The assignment's submissions as a review queue, in working order, with the filters of the workspace."""
    course_ids = None if user.is_superuser else staff_course_ids(user)
    subs = (
        Submission.objects.filter(assignment_id=assignment_id)
        .select_related("student__user")
        .prefetch_related("files", "answer_groups")
    )
    if course_ids is not None:
        subs = subs.filter(assignment__course_id__in=course_ids)
    if q:
        subs = subs.filter(
            Q(student__user__username__icontains=q)
            | Q(student__user__first_name__icontains=q)
            | Q(student__user__last_name__icontains=q)
        )
    grades = {
        g.submission_id: g
        for g in Grade.objects.filter(submission__in=subs, is_current=True).select_related("locked_by")
    }
    now = timezone.now()
    rows = []
    for sub in subs:
        g = grades.get(sub.pk)
        groups = [ag.pk for ag in sub.answer_groups.all()]
        locked = g is not None and g.locked_by_id and g.locked_until and g.locked_until > now
        row = QueueRow(
            submission_id=sub.pk,
            grade_id=g.pk if g else None,
            student_id=sub.student_id,
            student_name=display_name(sub.student.user),
            attempt=sub.attempt,
            submitted_at=sub.submitted_at,
            state=grade_state(g),
            ai_score=g.score if g else None,
            final_score=g.effective_score if g else None,
            confidence=g.confidence if g else None,
            band=confidence_band(g.confidence) if g else None,
            flags=list(g.flags) if g else [],
            review_reason=g.review_reason if g else (sub.failure_reason or "queued for the grader"),
            group_id=groups[0] if groups else None,
            locked_by=display_name(g.locked_by) if locked else "",
            modalities=sorted({"text"} if sub.text else set()) + sorted({f.kind for f in sub.files.all()}),
            recheck=bool(g and g.review_reason == "student asked for a re-check"),
        )
        if state and row.state != state:
            continue
        if band and row.band != band:
            continue
        if flag and flag not in row.flags:
            continue
        if group is not None and row.group_id != group:
            continue
        rows.append(row)
    rows.sort(key=_queue_key)
    return rows


def assignment_progress(*, assignment_id: int) -> dict[str, int]:
    """How many submissions are in each state (all states present, zeros included)."""
    counts = dict.fromkeys(STATES, 0)
    grades = {
        g.submission_id: g for g in Grade.objects.filter(submission__assignment_id=assignment_id, is_current=True)
    }
    for sub_id in Submission.objects.filter(assignment_id=assignment_id).values_list("pk", flat=True):
        counts[grade_state(grades.get(sub_id))] += 1
    return counts


def queue_neighbours(rows: list[QueueRow], grade_id: int) -> tuple[int | None, int | None]:
    """The grades before and after ``grade_id`` in the queue (for previous / next)."""
    ids = [r.grade_id for r in rows if r.grade_id is not None]
    if grade_id not in ids:
        return None, ids[0] if ids else None
    i = ids.index(grade_id)
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)


def next_to_review(rows: list[QueueRow], after_grade_id: int | None = None) -> int | None:
    """The next grade waiting for a person, after ``after_grade_id`` in queue order (wrapping around)."""
    waiting = [r.grade_id for r in rows if r.state == STATE_REVIEW and r.grade_id is not None]
    if not waiting:
        return None
    if after_grade_id in waiting:
        i = waiting.index(after_grade_id)
        rest = waiting[i + 1 :] + waiting[:i]
        return rest[0] if rest else None
    return waiting[0]


def grade_for_review(*, user, grade_id: int) -> Grade:
    """A grade with everything the review screen shows, for the course's current staff; 404 otherwise."""
    grade = (
        grades_for_staff(user)
        .select_related("submission__student__user", "submission__assignment__course", "reviewer", "locked_by")
        .prefetch_related("submission__files", "decisions__actor")
        .filter(pk=grade_id)
        .first()
    )
    if grade is None:
        raise NotFound(f"Grade {grade_id} not found.")
    return grade


def rubric_for(assignment_id: int) -> list[RubricCriterion]:
    return list(RubricCriterion.objects.filter(rubric__assignment_id=assignment_id).order_by("position", "id"))


def rubric_is_analytic(assignment_id: int) -> bool:
    """Whether the assignment's rubric scores each criterion (``Rubric.analytic``)."""
    return Rubric.objects.filter(assignment_id=assignment_id, analytic=True).exists()


def policy_for(assignment_id: int) -> GradingPolicy | None:
    return GradingPolicy.objects.filter(assignment_id=assignment_id).first()


def answer_groups_for(*, assignment_id: int) -> list[AnswerGroup]:
    return list(
        AnswerGroup.objects.filter(assignment_id=assignment_id)
        .select_related("representative")
        .prefetch_related("members__student__user", "members__files", "members__grades")
    )


@dataclass
class GradebookCell:
    assignment_id: int
    submission_id: int | None
    grade_id: int | None
    score: object
    state: str
    attempts: int

    @property
    def state_label(self) -> str:
        return STATES[self.state] if self.submission_id else "No submission"


def gradebook(*, course_id: int, assignments: list, students: list) -> dict[int, dict[int, GradebookCell]]:
    """Latest attempt per (student, assignment): score a student would see or the teacher's, and its state."""
    latest: dict[tuple[int, int], Submission] = {}
    attempts: dict[tuple[int, int], int] = {}
    for sub in Submission.objects.filter(assignment__course_id=course_id).order_by("attempt"):
        key = (sub.student_id, sub.assignment_id)
        latest[key] = sub
        attempts[key] = attempts.get(key, 0) + 1
    grades = {
        g.submission_id: g
        for g in Grade.objects.filter(submission__in=[s.pk for s in latest.values()], is_current=True)
    }
    table: dict[int, dict[int, GradebookCell]] = {}
    for student in students:
        row = table.setdefault(student.pk, {})
        for a in assignments:
            sub = latest.get((student.pk, a.pk))
            g = grades.get(sub.pk) if sub else None
            row[a.pk] = GradebookCell(
                assignment_id=a.pk,
                submission_id=sub.pk if sub else None,
                grade_id=g.pk if g else None,
                score=g.effective_score if g else None,
                state=grade_state(g),
                attempts=attempts.get((student.pk, a.pk), 0),
            )
    return table


def course_id_of_grade(grade_id: int) -> int | None:
    """The course a grade belongs to (no permission check: callers check the course next)."""
    return Grade.objects.filter(pk=grade_id).values_list("submission__assignment__course_id", flat=True).first()


def course_id_of_group(group_id: int) -> int | None:
    return AnswerGroup.objects.filter(pk=group_id).values_list("assignment__course_id", flat=True).first()


def answer_group_get(*, user, group_id: int) -> AnswerGroup:
    group = AnswerGroup.objects.select_related("assignment").filter(pk=group_id).first()
    if group is None or not is_course_staff(user, group.assignment.course_id):
        raise NotFound(f"Answer group {group_id} not found.")
    return group
