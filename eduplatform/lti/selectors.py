"""Reads for the LTI app: role mapping, the score an LMS gradebook should show, where to send it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from lti_tool.models import LtiContext, LtiUser

from eduplatform.core.api import Assignment, Enrollment, Student, Submission
from eduplatform.lti.models import LtiAssignmentLineItem, LtiCourseLink
from grading.api import current_grade_for, submission_id_for_grade

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
_INSTRUCTOR = {f"{LIS}membership#Instructor", f"{LIS}membership#Administrator", "Instructor", "Administrator"}
_LEARNER = {f"{LIS}membership#Learner", "Learner"}


def enrollment_role_for(lti_roles: Iterable[str] | None) -> str | None:
    """Map LTI context roles to an enrolment role; None when the roles give no access.

    TeachingAssistant is an Instructor sub-role (sent alongside Instructor), so it is
    checked first. Institution and system roles alone (e.g. a site admin who is not
    in the course) grant nothing here.
    """
    roles = set(lti_roles or ())
    if any(r.endswith(("#TeachingAssistant", "/TeachingAssistant")) or r == "TeachingAssistant" for r in roles):
        return Enrollment.Role.TA
    if roles & _INSTRUCTOR:
        return Enrollment.Role.INSTRUCTOR
    if roles & _LEARNER:
        return Enrollment.Role.STUDENT
    return None


def course_for_context(context: LtiContext):
    link = LtiCourseLink.objects.select_related("course").filter(context=context).first()
    return link.course if link else None


@dataclass(frozen=True)
class GradebookScore:
    submission: Submission
    grade_id: int
    score_given: Decimal
    score_maximum: Decimal
    comment: str
    timestamp: datetime


def gradebook_score(*, assignment: Assignment, student: Student) -> GradebookScore | None:
    """The score the LMS gradebook should show: the latest attempt with a released grade.

    Scores are shifted so that the assignment's min_score is 0 (AGS scores run from 0
    to scoreMaximum). The timestamp is the grade's last change, so a re-reviewed grade
    replaces the earlier one in the LMS and a retry of the same send is a no-op there.
    """
    for submission in Submission.objects.filter(assignment=assignment, student=student).order_by("-attempt"):
        grade = current_grade_for(submission.pk)
        if grade is None or grade.released_at is None or grade.effective_score is None:
            continue
        return GradebookScore(
            submission=submission,
            grade_id=grade.pk,
            score_given=max(Decimal(0), Decimal(grade.effective_score) - assignment.min_score),
            score_maximum=assignment.max_score - assignment.min_score,
            # what the student reads on the tool's page: the teacher's words first, then the feedback
            comment="\n\n".join(t for t in (grade.review_comment.strip(), (grade.feedback or "").strip()) if t),
            timestamp=max(grade.updated_at, grade.released_at),
        )
    return None


@dataclass(frozen=True)
class ScoreTarget:
    context: LtiContext
    lti_user: LtiUser
    line_item: LtiAssignmentLineItem | None  # None: found or created through AGS when sending


def score_targets(*, assignment: Assignment, user) -> list[ScoreTarget]:
    """Gradebooks (LMS course + LTI user) that should receive this user's score.

    Only LMS courses linked to the assignment's course, on active registrations and
    deployments, whose platform granted the AGS score scope, and where this user is
    an active member (seen in a launch or a roster sync).
    """
    contexts = (
        LtiContext.objects.filter(
            eduplatform_course_link__course=assignment.course_id,
            can_publish_scores=True,
            deployment__is_active=True,
            deployment__registration__is_active=True,
            memberships__user__auth_user=user,
            memberships__is_active=True,
        )
        .select_related("deployment__registration")
        .distinct()
    )
    targets = []
    for context in contexts:
        lti_user = LtiUser.objects.filter(registration=context.deployment.registration_id, auth_user=user).first()
        line_item = (
            LtiAssignmentLineItem.objects.select_related("line_item")
            .filter(assignment=assignment, context=context)
            .first()
        )
        if lti_user is None or (line_item is None and not context.lineitems_url):
            continue
        targets.append(ScoreTarget(context=context, lti_user=lti_user, line_item=line_item))
    return targets


def assignment_is_lti_linked(*, submission_id: int | None = None, grade_id: int | None = None) -> bool:
    """Cheap check before enqueueing passback work: is the course taught in any LMS course?"""
    qs = Submission.objects.filter(assignment__course__lti_links__isnull=False)
    if submission_id is not None:
        qs = qs.filter(pk=submission_id)
    if grade_id is not None:
        qs = qs.filter(pk=submission_id_for_grade(grade_id))
    return qs.exists()


def lms_sync_states(*, assignment_ids: list[int], student_ids: list[int]) -> dict[tuple[int, int], str]:
    """{(assignment id, student id): "Sent" / "Failed: reason" / "Pending"} for the gradebook; absent = not linked."""
    from eduplatform.lti.models import LtiScoreSync

    out: dict[tuple[int, int], str] = {}
    rows = (
        LtiScoreSync.objects.filter(line_item__assignment_id__in=assignment_ids, submission__student_id__in=student_ids)
        .select_related("line_item", "submission")
        .order_by("updated_at")
    )
    for sync in rows:
        key = (sync.line_item.assignment_id, sync.submission.student_id)
        text = sync.get_status_display()
        if sync.status == LtiScoreSync.Status.FAILED and sync.last_error:
            text += ": " + sync.last_error[:80]
        out[key] = text
    return out
