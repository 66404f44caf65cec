"""Writes for the LTI app: provisioning from launches and rosters, placements, grade passback.

Network calls to the platform never run inside a database transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from lti_tool.models import (
    LtiContext,
    LtiLaunch,
    LtiLineItem,
    LtiMembership,
    LtiResourceLink,
    LtiUser,
)
from lti_tool.utils import sync_data_from_launch
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade as AgsGrade
from pylti1p3.lineitem import LineItem
from pylti1p3.names_roles import NamesRolesProvisioningService

from eduplatform.core import api as core_services
from eduplatform.core.api import Assignment, Course, Enrollment, Student, Submission
from eduplatform.lti import selectors, tool
from eduplatform.lti.conf import settings
from eduplatform.lti.models import (
    LtiAssignmentLineItem,
    LtiAssignmentLink,
    LtiCourseLink,
    LtiScoreSync,
)
from grading.api import released_submission_ids, submission_id_for_grade

log = logging.getLogger(__name__)

AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
CUSTOM_ASSIGNMENT = "eduplatform_assignment_id"


class LtiTransientError(Exception):
    """A platform call that may work later (network, 5xx, 429, token refused): retry."""


# --- users, courses, enrolments ---------------------------------------------------------------


def user_for_lti_user(*, lti_user: LtiUser):
    """The host user behind an LTI user, created on first sight.

    Users are never matched by e-mail: an LMS could assert any address. An admin links
    an existing account by setting the LTI user's "auth user" in the admin.
    """
    if lti_user.auth_user_id:
        return lti_user.auth_user
    User = get_user_model()
    digest = hashlib.sha256(f"{lti_user.registration_id}|{lti_user.sub}".encode()).hexdigest()[:24]
    username_field = User._meta.get_field(User.USERNAME_FIELD)
    username = f"{settings.USERNAME_PREFIX}{digest}"
    if isinstance(username_field, models.EmailField):
        username = f"{username}@lti.invalid"
    with transaction.atomic():
        lti_user = LtiUser.objects.select_for_update().get(pk=lti_user.pk)
        if lti_user.auth_user_id:
            return lti_user.auth_user
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            user = User(**{User.USERNAME_FIELD: username})
            for field, value in (
                ("first_name", lti_user.given_name),
                ("last_name", lti_user.family_name),
                ("email", lti_user.email),
            ):
                if value and hasattr(user, field) and field != User.USERNAME_FIELD:
                    setattr(user, field, value[:150])
            user.set_unusable_password()
            user.save()
        lti_user.auth_user = user
        lti_user.save(update_fields=["auth_user", "datetime_modified"])
    return user


def course_for_context(*, context: LtiContext) -> Course:
    """The eduplatform course an LMS course is taught in, created on its first launch."""
    course = selectors.course_for_context(context)
    if course is not None:
        return course
    with transaction.atomic():
        context = LtiContext.objects.select_for_update().get(pk=context.pk)
        course = selectors.course_for_context(context)
        if course is None:
            course = core_services.course_create(
                code=f"lti-{context.deployment_id}-{context.pk}",
                title=(context.title or context.label or f"LMS course {context.id_on_platform}")[:255],
            )
            LtiCourseLink.objects.create(context=context, course=course)
    return course


def enrollment_ensure(*, user, course: Course, role: str, external_id: str = "") -> Enrollment:
    """Enrol (or re-enrol, or change the role of) a user; a no-op when nothing changed."""
    current = Enrollment.objects.filter(user=user, course=course).first()
    if current is None or current.role != role or current.unregistered_at is not None:
        current = core_services.enrollment_create(user=user, course=course, role=role)
    if role == Enrollment.Role.STUDENT:
        core_services.student_get_or_create(user=user, external_id=external_id)
    return current


def enrollment_end(*, user, course: Course) -> bool:
    """Mark an enrolment ended (kept, with its submissions and grades)."""
    return bool(
        Enrollment.objects.filter(user=user, course=course, unregistered_at__isnull=True).update(
            unregistered_at=timezone.now()
        )
    )


@dataclass(frozen=True)
class Provisioned:
    user: object
    course: Course
    role: str | None
    context: LtiContext


def launch_provision(*, lti_launch: LtiLaunch) -> Provisioned:
    """Sync django-lti's records from a validated launch, then our user, course and enrolment."""
    if not (lti_launch.context_claim or {}).get("id"):
        raise tool.LaunchRejected(
            "Open the tool from inside an LMS course (the launch names no course).",
            code="lti_no_context",
            status_code=400,
        )
    sync_data_from_launch(lti_launch)
    lti_user = lti_launch.user
    user = user_for_lti_user(lti_user=lti_user)
    context = lti_launch.context
    course = course_for_context(context=context)
    # A launch proves current membership, even if an earlier roster sync had marked it inactive.
    LtiMembership.objects.filter(user=lti_user, context=context, is_active=False).update(is_active=True)
    role = selectors.enrollment_role_for(lti_launch.roles_claim)
    if role is not None:
        enrollment_ensure(user=user, course=course, role=role, external_id=lti_user.sub)
    return Provisioned(user=user, course=course, role=role, context=context)


# --- placements (resource links, deep linking) ------------------------------------------------


def assignment_for_launch(*, lti_launch: LtiLaunch, course: Course) -> Assignment | None:
    """The assignment a resource-link launch opens, remembered per resource link.

    The placement's custom parameter (set by our Deep Linking response) wins; an
    assignment from another course is refused, whatever the platform sends.
    """
    resource_link: LtiResourceLink = lti_launch.resource_link
    custom = lti_launch.get_claim("https://purl.imsglobal.org/spec/lti/claim/custom") or {}
    wanted = str(custom.get(CUSTOM_ASSIGNMENT, "")).strip()
    if wanted:
        assignment = Assignment.objects.filter(pk=int(wanted) if wanted.isdigit() else None).first()
        if assignment is None or assignment.course_id != course.pk:
            raise tool.LaunchRejected(
                f"Assignment {wanted} is not part of this course.", code="lti_wrong_assignment", status_code=404
            )
        LtiAssignmentLink.objects.update_or_create(resource_link=resource_link, defaults={"assignment": assignment})
        return assignment
    link = LtiAssignmentLink.objects.select_related("assignment").filter(resource_link=resource_link).first()
    if link is None or link.assignment.course_id != course.pk:
        return None
    return link.assignment


def line_item_record(
    *,
    assignment: Assignment,
    context: LtiContext,
    url: str,
    resource_link: LtiResourceLink | None = None,
    label: str = "",
) -> LtiAssignmentLineItem:
    """Remember the gradebook column the platform gave (or created) for an assignment."""
    existing = LtiAssignmentLineItem.objects.filter(assignment=assignment, context=context).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            line_item, _ = LtiLineItem.objects.get_or_create(
                url=url,
                defaults={
                    "context": context,
                    "maximum_score": float(assignment.max_score - assignment.min_score),
                    "label": (label or assignment.title)[:255],
                    "resource_id": _resource_id(assignment),
                    "tag": "eduplatform",
                    "resource_link": resource_link,
                },
            )
            return LtiAssignmentLineItem.objects.create(assignment=assignment, context=context, line_item=line_item)
    except IntegrityError:  # a concurrent launch recorded it first, or the URL belongs to another assignment
        existing = LtiAssignmentLineItem.objects.filter(assignment=assignment, context=context).first()
        if existing is None:
            raise
        return existing


def line_item_from_launch(*, lti_launch: LtiLaunch, assignment: Assignment, context: LtiContext) -> None:
    """A resource-link launch's AGS claim names the link's own line item (created by deep linking)."""
    claim = lti_launch.ags_claim or {}
    if claim.get("lineitem"):
        line_item_record(
            assignment=assignment, context=context, url=claim["lineitem"], resource_link=lti_launch.resource_link
        )


def _resource_id(assignment: Assignment) -> str:
    return f"eduplatform-assignment-{assignment.pk}"


def deep_link_response_html(*, lti_launch: LtiLaunch, assignments: Sequence[Assignment], launch_url: str) -> str:
    """The auto-submitting form that returns the chosen assignments to the LMS, signed with our key.

    Each item is an LTI resource link to our launch URL that carries the assignment id
    as a custom parameter and asks the platform to create a gradebook column for it.
    """
    from pylti1p3.deep_link_resource import DeepLinkResource

    tool.key_ensure_active()
    resources = []
    for assignment in assignments:
        line_item = (
            LineItem()
            .set_label(assignment.title[:255])
            .set_tag("eduplatform")
            .set_resource_id(_resource_id(assignment))
            .set_score_maximum(float(assignment.max_score - assignment.min_score))
        )
        resources.append(
            DeepLinkResource()
            .set_url(launch_url)
            .set_title(assignment.title[:255])
            .set_custom_params({CUSTOM_ASSIGNMENT: str(assignment.pk)})
            .set_lineitem(line_item)
        )
    return lti_launch.get_message_launch().get_deep_link().output_response_form(resources)


# --- grade passback (AGS) ---------------------------------------------------------------------


def _ags(target: selectors.ScoreTarget) -> AssignmentsGradesService:
    context = target.context
    scopes = [AGS_SCORE]
    if context.can_manage_lineitems:
        scopes.append(AGS_LINEITEM)
    elif context.can_query_lineitems:
        scopes.append(AGS_LINEITEM_READ)
    data = {"scope": scopes, "lineitems": context.lineitems_url}
    if target.line_item is not None:
        data["lineitem"] = target.line_item.line_item.url
    return AssignmentsGradesService(tool.service_connector(context.deployment.registration), data)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, requests.RequestException):
        return True
    if isinstance(exc, LtiServiceException):
        status = exc.response.status_code
        return status >= 500 or status in (401, 408, 429)
    return False


def _line_item_ensure(
    *, ags: AssignmentsGradesService, assignment: Assignment, target: selectors.ScoreTarget
) -> LtiAssignmentLineItem:
    """Find our column in the LMS course by resourceId, or create it (needs the lineitem scope)."""
    wanted = (
        LineItem()
        .set_label(assignment.title[:255])
        .set_tag("eduplatform")
        .set_resource_id(_resource_id(assignment))
        .set_score_maximum(float(assignment.max_score - assignment.min_score))
    )
    found = ags.find_or_create_lineitem(wanted, find_by="resource_id")
    return line_item_record(
        assignment=assignment, context=target.context, url=found.get_id(), label=found.get_label() or ""
    )


def scores_send(*, assignment: Assignment, student: Student) -> int:
    """Send a student's released score for an assignment to every linked LMS gradebook.

    Returns how many gradebooks accepted it. Raises LtiTransientError when a platform
    may accept it later (the task retries); permanent refusals are recorded on the
    LtiScoreSync row and logged.
    """
    if not settings.SEND_GRADES:
        return 0
    score = selectors.gradebook_score(assignment=assignment, student=student)
    sent, transient = 0, None
    for target in selectors.score_targets(assignment=assignment, user=student.user):
        try:
            if score is None:  # nothing released (any more): take back a score the gradebook still shows
                sent += _score_clear_one(target=target)
            else:
                sent += _score_send_one(assignment=assignment, score=score, target=target)
        except LtiTransientError as exc:
            transient = exc
    if transient is not None:
        raise transient
    return sent


def _score_send_one(*, assignment: Assignment, score: selectors.GradebookScore, target: selectors.ScoreTarget) -> int:
    ags = _ags(target)
    try:
        line_item = target.line_item or _line_item_ensure(ags=ags, assignment=assignment, target=target)
    except (LtiException, requests.RequestException) as exc:
        if _is_transient(exc):
            raise LtiTransientError(str(exc)) from exc
        log.warning(
            "LTI: no gradebook column for assignment %s in context %s: %s", assignment.pk, target.context.pk, exc
        )
        return 0
    sync, _ = LtiScoreSync.objects.get_or_create(
        line_item=line_item,
        lti_user=target.lti_user,
        defaults={
            "score_given": score.score_given,
            "score_maximum": score.score_maximum,
            "timestamp": score.timestamp,
            "submission": score.submission,
            "grade_id": score.grade_id,
        },
    )
    if (
        sync.status == LtiScoreSync.Status.SENT
        and not sync.cleared
        and sync.score_given == score.score_given
        and sync.timestamp == score.timestamp
    ):
        return 0  # already in the gradebook
    sync.score_given, sync.score_maximum, sync.timestamp = score.score_given, score.score_maximum, score.timestamp
    sync.submission, sync.grade_id = score.submission, score.grade_id
    sync.attempts += 1
    grade = (
        AgsGrade()
        .set_score_given(float(score.score_given))
        .set_score_maximum(float(score.score_maximum))
        .set_timestamp(score.timestamp.isoformat(timespec="milliseconds"))
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_user_id(target.lti_user.sub)
    )
    if settings.SEND_FEEDBACK and score.comment:
        grade.set_comment(score.comment[:4000])
    try:
        ags.put_grade(grade, LineItem({"id": line_item.line_item.url}))
    except (LtiException, requests.RequestException) as exc:
        sync.status, sync.last_error = LtiScoreSync.Status.FAILED, str(exc)[:2000]
        sync.save()
        if _is_transient(exc):
            raise LtiTransientError(str(exc)) from exc
        log.warning("LTI: platform refused score for line item %s: %s", line_item.pk, exc)
        return 0
    sync.status, sync.last_error, sync.sent_at, sync.cleared = LtiScoreSync.Status.SENT, "", timezone.now(), False
    sync.save()
    return 1


def _score_clear_one(*, target: selectors.ScoreTarget) -> int:
    """A withdrawn grade: the gradebook column shows "not graded" again (AGS: no scoreGiven,
    gradingProgress NotReady), so the LMS never keeps a score the student can no longer see."""
    syncs = LtiScoreSync.objects.filter(
        lti_user=target.lti_user, line_item__context=target.context, status=LtiScoreSync.Status.SENT, cleared=False
    ).select_related("line_item")
    if target.line_item is not None:
        syncs = syncs.filter(line_item=target.line_item)
    done, ags = 0, None
    for sync in syncs:
        ags = ags or _ags(target)
        now = timezone.now()
        grade = (
            AgsGrade()
            .set_timestamp(now.isoformat(timespec="milliseconds"))
            .set_activity_progress("Initialized")
            .set_grading_progress("NotReady")
            .set_user_id(target.lti_user.sub)
        )
        sync.attempts += 1
        try:
            ags.put_grade(grade, LineItem({"id": sync.line_item.line_item.url}))
        except (LtiException, requests.RequestException) as exc:
            sync.last_error = f"clearing the withdrawn score: {exc}"[:2000]
            sync.save()
            if _is_transient(exc):
                raise LtiTransientError(str(exc)) from exc
            log.warning("LTI: platform refused to clear the score for line item %s: %s", sync.line_item.pk, exc)
            continue
        sync.cleared, sync.timestamp, sync.sent_at, sync.last_error = True, now, now, ""
        sync.save()
        done += 1
    return done


def grade_passback(*, grade_id: int) -> int:
    """Send the gradebook score of the submission this grade belongs to (after its release)."""
    submission = (
        Submission.objects.select_related("assignment__course", "student__user")
        .filter(pk=submission_id_for_grade(grade_id))
        .first()
    )
    if submission is None:
        return 0
    return scores_send(assignment=submission.assignment, student=submission.student)


def scores_resend_recent(*, days: int = 14) -> dict:
    """Sweeper: make sure every grade released in the last ``days`` is in the LMS gradebooks.

    Covers lost wake-ups and sends that ran out of retries. Cheap when all is sent:
    an unchanged score already marked sent makes no network call.
    """
    since = timezone.now() - timedelta(days=days)
    pairs = (
        Submission.objects.filter(
            assignment__course__lti_links__isnull=False, pk__in=released_submission_ids(since=since)
        )
        .values_list("assignment_id", "student_id")
        .distinct()
    )
    result = {"checked": 0, "sent": 0, "failed": 0}
    for assignment_id, student_id in pairs:
        result["checked"] += 1
        try:
            result["sent"] += scores_send(
                assignment=Assignment.objects.get(pk=assignment_id),
                student=Student.objects.select_related("user").get(pk=student_id),
            )
        except LtiTransientError as exc:
            log.warning("LTI sweep: score for student %s not sent yet: %s", student_id, exc)
            result["failed"] += 1
    return result


def assignment_scores_send(*, assignment: Assignment) -> dict:
    """(Re)send every student's released score for an assignment; for back-fills and repairs."""
    result = {"sent": 0, "failed": 0}
    for student in Student.objects.filter(submissions__assignment=assignment).distinct():
        try:
            result["sent"] += scores_send(assignment=assignment, student=student)
        except LtiTransientError as exc:
            log.warning("LTI: score for student %s not sent yet: %s", student.pk, exc)
            result["failed"] += 1
    return result


# --- roster (NRPS) ----------------------------------------------------------------------------


def roster_sync(*, context: LtiContext) -> dict:
    """Fetch the LMS course roster (all pages) and make our enrolments match it.

    Members no longer listed, or listed as Inactive/Deleted, get their enrolment
    ended (kept with their work), never deleted.
    """
    if not context.memberships_url:
        raise tool.LaunchRejected(
            "The platform gave no roster (NRPS) URL for this course; launch the tool "
            "from the course once, or enable Names and Roles in the LMS.",
            code="lti_no_nrps",
            status_code=400,
        )
    nrps = NamesRolesProvisioningService(
        tool.service_connector(context.deployment.registration), {"context_memberships_url": context.memberships_url}
    )
    try:
        members = nrps.get_members()
    except (LtiException, requests.RequestException) as exc:
        if _is_transient(exc):
            raise LtiTransientError(str(exc)) from exc
        raise
    return _roster_apply(context=context, members=members)


def _roster_apply(*, context: LtiContext, members: Iterable[dict]) -> dict:
    members = [m for m in members if m.get("user_id")]
    context.update_memberships(
        [{**m, "roles": m.get("roles", []), "status": m.get("status", "Active")} for m in members]
    )
    course = course_for_context(context=context)
    counts = {"members": len(members), "enrolled": 0, "ended": 0, "no_role": 0}
    listed = set()
    for member in members:
        lti_user = LtiUser.objects.get(registration=context.deployment.registration_id, sub=member["user_id"])
        listed.add(lti_user.pk)
        user = user_for_lti_user(lti_user=lti_user)
        role = selectors.enrollment_role_for(member.get("roles"))
        if member.get("status", "Active") != "Active" or role is None:
            counts["ended"] += enrollment_end(user=user, course=course)
            counts["no_role"] += role is None
            continue
        enrollment_ensure(user=user, course=course, role=role, external_id=lti_user.sub)
        counts["enrolled"] += 1
    gone = LtiMembership.objects.filter(context=context).exclude(user__in=listed).select_related("user")
    for membership in gone:
        membership.is_active = False
        membership.save(update_fields=["is_active", "datetime_modified"])
        if membership.user.auth_user_id:
            counts["ended"] += enrollment_end(user=membership.user.auth_user, course=course)
    return counts
