"""Grading writes: claim pending rows, run the model per batch, upsert grades, sweep.

The Submission row is the source of truth; Celery messages are wake-ups only.
Claiming uses SELECT ... FOR UPDATE SKIP LOCKED where the database has it and a
conditional UPDATE with a claim token everywhere, so two workers never grade the
same row and a worker whose lease was taken back cannot write its stale result.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from eduplatform.core.api import (
    VERB_SCORED,
    ApplicationError,
    Submission,
    enqueue,
    enqueue_on_commit,
    event_record,
    settings,
)
from grading import signals
from grading.models import AnswerGroup, Grade, GraderModel, GradingPolicy

log = logging.getLogger(__name__)
S = Submission.Status
HUMAN_STATES = (Grade.Review.ACCEPTED, Grade.Review.ADJUSTED, Grade.Review.OVERRIDDEN)


def submissions_claim(*, limit: int, hint_ids: list[int] | None = None) -> tuple[str, list[int]]:
    """Move up to ``limit`` pending rows to running under a fresh claim token."""
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        qs = Submission.objects.filter(status=S.PENDING).order_by("submitted_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids: list[int] = []
        if hint_ids:
            ids = list(qs.filter(pk__in=hint_ids).values_list("pk", flat=True)[:limit])
        if len(ids) < limit:
            ids += list(qs.exclude(pk__in=ids).values_list("pk", flat=True)[: limit - len(ids)])
        if not ids:
            return token, []
        Submission.objects.filter(pk__in=ids, status=S.PENDING).update(
            status=S.RUNNING,
            claim_token=token,
            claimed_at=now,
            claim_count=F("claim_count") + 1,
            lease_expires_at=now + timedelta(seconds=settings.GRADING_LEASE_SECONDS),
        )
    claimed = list(Submission.objects.filter(claim_token=token, status=S.RUNNING).values_list("pk", flat=True))
    return token, claimed


def _needs_review(result, policy: GradingPolicy | None) -> str:
    if result.score is None:
        return "not scored: " + (", ".join(result.flags) or result.error or "no model")
    if result.flags:
        return "flagged: " + ", ".join(result.flags)
    if result.confidence < settings.REVIEW_CONFIDENCE_THRESHOLD:
        return f"confidence {result.confidence:.2f} below {settings.REVIEW_CONFIDENCE_THRESHOLD:.2f}"
    rate = policy.review_sample_rate if policy else 0.0
    digest = int(hashlib.sha256(f"review-sample:{result.submission_id}".encode()).hexdigest()[:8], 16)
    if rate > 0 and digest % 10_000 < rate * 10_000:  # deterministic, so a regrade keeps the decision
        return f"quality sample ({rate:.0%} of confident grades are checked)"
    return ""


def grade_write(*, token: str, result) -> bool:
    """Upsert one result, keyed by (submission, model version), if we still hold the claim."""
    with transaction.atomic():
        sub = (
            Submission.objects.select_for_update()
            .select_related("assignment")
            .filter(pk=result.submission_id, claim_token=token, status=S.RUNNING)
            .first()
        )
        if sub is None:
            log.warning("submission %s: claim lost before write; result dropped", result.submission_id)
            return False
        policy = GradingPolicy.objects.filter(assignment_id=sub.assignment_id).first()
        reason = _needs_review(result, policy)
        Grade.objects.filter(submission=sub, is_current=True).exclude(model_version=result.model_version).update(
            is_current=False
        )
        now = timezone.now()
        auto_release = (
            not reason
            and policy is not None
            and policy.release == GradingPolicy.Release.AUTO
            and result.confidence >= policy.auto_release_confidence
        )
        existing = Grade.objects.filter(submission=sub, model_version=result.model_version).first()
        human = existing is not None and existing.review_state in HUMAN_STATES
        defaults = {
            "mode": result.mode,
            "score": None if result.score is None else Decimal(str(round(result.score, 2))),
            "confidence": float(min(1.0, max(0.0, result.confidence))),
            "criteria": result.criteria,
            "flags": result.flags,
            "feedback": result.feedback,
            "explanation": result.explanation or result.error,
            "features": result.features,
            "is_current": True,
            "review_state": Grade.Review.PENDING if reason else Grade.Review.NOT_NEEDED,
            "review_reason": reason,
            "released_at": now if auto_release else None,
        }
        if human:  # a regrade never undoes an instructor's decision
            for key in ("review_state", "review_reason", "released_at"):
                defaults.pop(key)
            reason = ""
        grade, _ = Grade.objects.update_or_create(submission=sub, model_version=result.model_version, defaults=defaults)
        if defaults.get("released_at"):
            transaction.on_commit(lambda: _after_release(grade.pk))
        sub.status = S.NEEDS_REVIEW if reason else S.GRADED
        sub.graded_at = now
        sub.lease_expires_at = None
        sub.claim_token = ""
        sub.failure_reason = ""
        sub.extracted_text = getattr(result, "extracted_text", "")
        sub.save(
            update_fields=[
                "status",
                "graded_at",
                "lease_expires_at",
                "claim_token",
                "failure_reason",
                "extracted_text",
                "updated_at",
            ]
        )
    return True


def submission_fail(*, submission_id: int, token: str, reason: str) -> None:
    Submission.objects.filter(pk=submission_id, claim_token=token).update(
        status=S.FAILED, failure_reason=reason[:2000], lease_expires_at=None, claim_token=""
    )


def claims_release(*, token: str, ids: list[int]) -> int:
    """Give claimed rows back (pending) after a failure, so a retry or the sweeper takes them."""
    return Submission.objects.filter(pk__in=ids, claim_token=token, status=S.RUNNING).update(
        status=S.PENDING, claim_token="", lease_expires_at=None
    )


def answer_text(sub: Submission) -> str:
    """What was answered: typed text plus the text read from photos and recordings."""
    return "\n".join(t for t in (sub.text, sub.extracted_text) if t)


def grading_enqueue(*, submission_ids: list[int]) -> None:
    """Wake a worker for these rows after commit (the rows are the truth; the sweeper covers a lost message)."""
    if submission_ids:
        enqueue_on_commit("grading.grade_pending", submission_ids=list(submission_ids))


def submissions_sweep() -> dict:
    """Take back expired leases and re-enqueue pending rows whose wake-up was lost."""
    now = timezone.now()
    expired = Submission.objects.filter(status=S.RUNNING, lease_expires_at__lt=now)
    gave_up = expired.filter(claim_count__gte=settings.MAX_GRADING_ATTEMPTS).update(
        status=S.FAILED,
        claim_token="",
        lease_expires_at=None,
        failure_reason=f"Grading did not finish after {settings.MAX_GRADING_ATTEMPTS} attempts.",
    )
    reclaimed = expired.update(status=S.PENDING, claim_token="", lease_expires_at=None)
    stale = list(
        Submission.objects.filter(
            status=S.PENDING, updated_at__lt=now - timedelta(seconds=settings.PENDING_REQUEUE_SECONDS)
        ).values_list("pk", flat=True)[:10_000]
    )
    ids = stale + list(
        Submission.objects.filter(status=S.PENDING, claim_count__gt=0, claim_token="")
        .exclude(pk__in=stale)
        .values_list("pk", flat=True)[:10_000]
    )
    if ids:
        grading_enqueue(submission_ids=ids)
    if reclaimed or gave_up or ids:
        log.info("sweeper: reclaimed=%d failed=%d requeued=%d", reclaimed, gave_up, len(ids))
    return {"reclaimed": reclaimed, "failed": gave_up, "requeued": len(ids)}


def grade_review(
    *, grade: Grade, reviewer, action: str, score: float | None = None, comment: str = "", release: bool = True
) -> Grade:
    """An instructor accepts, adjusts or overrides an AI grade; optionally releases it.

    Adjusted/overridden scores become training examples for the learned grader.
    """
    assignment = grade.submission.assignment
    if action not in ("accept", "adjust", "override"):
        raise ApplicationError("action must be accept, adjust or override.", field="action")
    if action == "accept":
        if grade.score is None:
            raise ApplicationError("This grade has no AI score to accept; give a score (override).", field="score")
        final = grade.score
        state = Grade.Review.ACCEPTED
    else:
        if score is None:
            raise ApplicationError(f"{action} needs a score.", field="score")
        final = Decimal(str(score))
        if not assignment.min_score <= final <= assignment.max_score:
            raise ApplicationError(
                f"score must be between {assignment.min_score} and {assignment.max_score}.", field="score"
            )
        state = Grade.Review.ADJUSTED if action == "adjust" else Grade.Review.OVERRIDDEN
    with transaction.atomic():
        grade = Grade.objects.select_for_update().get(pk=grade.pk)
        grade.final_score = final
        grade.review_state = state
        grade.reviewer = reviewer
        grade.reviewed_at = timezone.now()
        grade.review_comment = comment
        if release and grade.released_at is None:
            grade.released_at = timezone.now()
        grade.save()
        Submission.objects.filter(pk=grade.submission_id).update(status=S.GRADED)
        transaction.on_commit(lambda: _after_human_grade(grade.pk))
        if grade.released_at is not None:  # new or changed score the student (and the LMS) sees
            transaction.on_commit(lambda: _after_release(grade.pk))
    return grade


def _after_human_grade(grade_id: int) -> None:
    """Hook for consumers of human grades (retraining, LMS grade passback)."""
    signals.human_grade_saved.send(sender=Grade, grade_id=grade_id)


def _after_release(grade_id: int) -> None:
    """Tell the learner model (xAPI "scored") and listeners (LMS passback) a grade is visible."""

    grade = Grade.objects.select_related("submission__assignment", "submission__student").filter(pk=grade_id).first()
    if grade is not None and grade.effective_score is not None:
        a = grade.submission.assignment
        raw = float(grade.effective_score)
        event_record(
            student=grade.submission.student,
            course=a.course,
            verb=VERB_SCORED,
            object_id=f"assignment:{a.pk}",
            object_type="Assignment",
            statement_id=uuid.uuid5(uuid.NAMESPACE_URL, f"eduplatform:grade:{grade.pk}:{raw}"),
            result={
                "score": {
                    "raw": raw,
                    "min": float(a.min_score),
                    "max": float(a.max_score),
                    "scaled": round(a.score_fraction(raw), 4),
                },
                "extensions": {"submission_id": grade.submission_id, "grade_id": grade.pk},
            },
        )
    signals.grade_released.send(sender=Grade, grade_id=grade_id)


def grades_release(*, grades) -> int:
    """Release grades that have a score; each released one is announced after commit (LMS passback)."""
    now = timezone.now()
    n = 0
    with transaction.atomic():
        for grade in grades:
            if grade.released_at is None and (grade.score is not None or grade.final_score is not None):
                if Grade.objects.filter(pk=grade.pk, released_at__isnull=True).update(released_at=now):
                    transaction.on_commit(lambda pk=grade.pk: _after_release(pk))
                    n += 1
    return n


def assignment_regrade(*, assignment_id: int, only_failed: bool = False) -> int:
    """Put an assignment's submissions back to pending and wake workers.

    Idempotent: results are upserted per (submission, model version), and human
    review decisions on a grade are kept.
    """
    statuses = [S.FAILED] if only_failed else [S.GRADED, S.NEEDS_REVIEW, S.FAILED]
    with transaction.atomic():
        ids = list(
            Submission.objects.filter(assignment_id=assignment_id, status__in=statuses).values_list("pk", flat=True)
        )
        Submission.objects.filter(pk__in=ids).update(
            status=S.PENDING, claim_token="", lease_expires_at=None, claim_count=0, failure_reason=""
        )
        transaction.on_commit(lambda: grading_enqueue(submission_ids=ids))
    return len(ids)


# --- learned graders --------------------------------------------------------------


def submissions_regrade_unreviewed(*, assignment_id: int) -> int:
    """Regrade rows whose grade no human has confirmed (after a new model is trained)."""
    reviewed = Grade.objects.filter(
        submission__assignment_id=assignment_id, is_current=True, review_state__in=HUMAN_STATES
    ).values("submission_id")
    with transaction.atomic():
        ids = list(
            Submission.objects.filter(assignment_id=assignment_id, status__in=[S.GRADED, S.NEEDS_REVIEW])
            .exclude(pk__in=reviewed)
            .values_list("pk", flat=True)
        )
        Submission.objects.filter(pk__in=ids).update(
            status=S.PENDING, claim_token="", lease_expires_at=None, claim_count=0
        )
        transaction.on_commit(lambda: grading_enqueue(submission_ids=ids))
    return len(ids)


MIN_EXAMPLES_TO_LEARN = 10  # instructor-graded answers of an assignment before learned mode


def grader_needs_training(*, assignment_id: int, every: int = 1) -> bool:
    """Enough human grades, and ``every`` more than the active model was trained on."""
    n = Grade.objects.filter(
        submission__assignment_id=assignment_id, review_state__in=HUMAN_STATES, is_current=True
    ).count()
    last = GraderModel.objects.filter(assignment_id=assignment_id, is_active=True).first()
    return n >= MIN_EXAMPLES_TO_LEARN and (last is None or n >= last.n_examples_this_assignment + every)


def graders_retrain_stale() -> list[int]:
    """Assignments with new human grades since their last model (periodic; beat)."""
    stale = []
    for assignment_id in (
        Grade.objects.filter(review_state__in=HUMAN_STATES, is_current=True)
        .values_list("submission__assignment_id", flat=True)
        .distinct()
    ):
        if grader_needs_training(assignment_id=assignment_id):
            stale.append(assignment_id)
            enqueue("grading.train_grader", assignment_id=assignment_id)
    return stale


# --- answer groups -----------------------------------------------------------------


def answer_group_grade(*, group: AnswerGroup, reviewer, score: float, comment: str = "", release: bool = True) -> int:
    """Apply one instructor score to every member of a group (as an override of each grade)."""
    with transaction.atomic():
        n = 0
        for sub in group.members.all():
            grade = Grade.objects.filter(submission=sub, is_current=True).first()
            if grade is None:
                grade = Grade.objects.create(submission=sub, model_version="human", mode="human", confidence=1.0)
            grade_review(
                grade=grade,
                reviewer=reviewer,
                action="override",
                score=score,
                comment=comment or f"Graded as answer group #{group.pk}",
                release=release,
            )
            n += 1
        group.graded_score = Decimal(str(score))
        group.save(update_fields=["graded_score"])
    return n
