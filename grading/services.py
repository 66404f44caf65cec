"""Grading writes: claim pending rows, run the model per batch, upsert grades, sweep.

The Submission row is the source of truth; Celery messages are wake-ups only.
Claiming uses SELECT ... FOR UPDATE SKIP LOCKED where the database has it and a
conditional UPDATE with a claim token everywhere, so two workers never grade the
same row and a worker whose lease was taken back cannot write its stale result.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from eduplatform.core.api import (
    VERB_SCORED,
    ApplicationError,
    Conflict,
    NotFound,
    Submission,
    enqueue,
    enqueue_on_commit,
    event_record,
    settings,
)
from grading import signals
from grading.models import AnswerGroup, Grade, GradeDecision, GraderModel, GradingPolicy, RubricCriterion

log = logging.getLogger(__name__)
S = Submission.Status
HUMAN_STATES = (Grade.Review.ACCEPTED, Grade.Review.ADJUSTED, Grade.Review.OVERRIDDEN)
# What a person decided on a grade; carried to the new grade when a new model version regrades.
HUMAN_DECISION_FIELDS = (
    "final_score",
    "final_criteria",
    "review_state",
    "reviewer",
    "reviewed_at",
    "review_comment",
    "released_at",
)


def _batch_cap(limit: int, lease_losses: int) -> int:
    """How many rows may share a batch with a row whose worker was lost ``lease_losses`` times.

    Halved per loss (32, 16, 8, ... 1): a batch that crashes its worker is split on each
    retry, so one row that kills the process (a file that exhausts memory) ends up alone
    and stops taking the others down with it.
    """
    return max(1, limit >> min(lease_losses, 30))


#: A regrade starts the row's claim bookkeeping afresh (a new try, not a continuation).
CLAIM_RESET = {
    "status": S.PENDING,
    "claim_token": "",
    "lease_expires_at": None,
    "claim_count": 0,
    "lease_losses": 0,
    "model_failures": 0,
}


def _lease_until(now):
    return now + timedelta(seconds=settings.GRADING_LEASE_SECONDS)


def submissions_claim(
    *, limit: int, hint_ids: list[int] | None = None, exclude_ids: list[int] | None = None
) -> tuple[str, list[int]]:
    """Move up to ``limit`` pending rows (oldest first, ``hint_ids`` preferred) to running under a fresh token.

    Rows that were in a batch whose worker died come in smaller batches (``_batch_cap``).
    ``exclude_ids``: rows this worker just gave back after a model error, left for a
    later try instead of being retried at once.
    """
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        qs = Submission.objects.filter(status=S.PENDING).order_by("submitted_at", "id")
        if exclude_ids:
            qs = qs.exclude(pk__in=exclude_ids)
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        candidates: list[tuple[int, int]] = []
        if hint_ids:
            candidates = list(qs.filter(pk__in=hint_ids).values_list("pk", "lease_losses")[:limit])
        if len(candidates) < limit:
            taken = [pk for pk, _ in candidates]
            candidates += list(qs.exclude(pk__in=taken).values_list("pk", "lease_losses")[: limit - len(candidates)])
        ids: list[int] = []
        cap = limit
        for pk, losses in candidates:
            row_cap = min(cap, _batch_cap(limit, losses))
            if len(ids) < row_cap:
                ids.append(pk)
                cap = row_cap
        if not ids:
            return token, []
        Submission.objects.filter(pk__in=ids, status=S.PENDING).update(
            status=S.RUNNING,
            claim_token=token,
            claimed_at=now,
            claim_count=F("claim_count") + 1,
            lease_expires_at=_lease_until(now),
        )
    claimed = list(Submission.objects.filter(claim_token=token, status=S.RUNNING).values_list("pk", flat=True))
    return token, claimed


def claims_extend(*, token: str) -> int:
    """Renew the lease of the rows still held under ``token`` (the worker's heartbeat while a batch runs).

    Returns how many rows are still held: 0 means the claim was taken back (or is done)
    and the heartbeat can stop. Rows the batch itself has locked to write their results
    are skipped, not waited for: the heartbeat never blocks on (or deadlocks with) the
    writes of its own batch, and those rows are moments from done.
    """
    held = Submission.objects.filter(claim_token=token, status=S.RUNNING)
    with transaction.atomic():
        free = held
        if connection.features.has_select_for_update_skip_locked:
            free = held.select_for_update(skip_locked=True)
        ids = list(free.values_list("pk", flat=True))
        if ids:
            held.filter(pk__in=ids).update(lease_expires_at=_lease_until(timezone.now()))
    return len(ids) or held.count()


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
    """Upsert one result, keyed by (submission, model version), if we still hold the claim
    (``grades_write`` for a batch of one: the same rules in one place)."""
    return grades_write(token=token, results=[result]) == 1


def grades_write(*, token: str, results: Sequence) -> int:
    """Write a claimed batch's results in one transaction with a fixed number of queries.

    Per result: the claim must still be held, the review reason decides the queue,
    auto-release follows the policy, and a person's decision survives a regrade by a new
    model version; rows whose claim was lost are skipped. Why: one
    transaction and ~6 queries per *result* was most of a worker's time on text answers.
    Returns how many results were written.
    """
    results = list(results)
    if not results:
        return 0
    with transaction.atomic():
        subs = {
            s.pk: s
            for s in Submission.objects.select_for_update()
            .select_related("assignment")
            .filter(pk__in=[r.submission_id for r in results], claim_token=token, status=S.RUNNING)
            .order_by("pk")
        }
        lost = [r.submission_id for r in results if r.submission_id not in subs]
        if lost:
            log.warning("submissions %s: claim lost before write; results dropped", lost)
        results = [r for r in results if r.submission_id in subs]
        if not results:
            return 0
        policies = {
            p.assignment_id: p
            for p in GradingPolicy.objects.filter(assignment_id__in={s.assignment_id for s in subs.values()})
        }
        current: dict[int, Grade] = {}
        versions: dict[tuple[int, str], Grade] = {}
        for g in Grade.objects.filter(submission_id__in=list(subs)).filter(
            Q(is_current=True) | Q(model_version__in={r.model_version for r in results})
        ):
            if g.is_current:
                current[g.submission_id] = g
            versions[(g.submission_id, g.model_version)] = g
        # the grades shown so far by another model version stop being current (one UPDATE per version)
        by_version: dict[str, list[int]] = {}
        for r in results:
            by_version.setdefault(r.model_version, []).append(r.submission_id)
        for version, ids in by_version.items():
            Grade.objects.filter(submission_id__in=ids, is_current=True).exclude(model_version=version).update(
                is_current=False
            )
        now = timezone.now()
        new_grades, changed, released = [], [], []
        for r in results:
            sub = subs[r.submission_id]
            policy = policies.get(sub.assignment_id)
            reason = _needs_review(r, policy)
            shown = current.get(sub.pk)
            prior_human = (
                shown
                if shown is not None and shown.model_version != r.model_version and shown.review_state in HUMAN_STATES
                else None
            )
            auto_release = (
                not reason
                and policy is not None
                and policy.release == GradingPolicy.Release.AUTO
                and r.confidence >= policy.auto_release_confidence
            )
            existing = versions.get((sub.pk, r.model_version))
            human = existing is not None and existing.review_state in HUMAN_STATES
            values = {
                "mode": r.mode,
                "score": None if r.score is None else Decimal(str(round(r.score, 2))),
                "confidence": float(min(1.0, max(0.0, r.confidence))),
                "criteria": r.criteria,
                "flags": r.flags,
                "feedback": r.feedback,
                "explanation": r.explanation or r.error,
                "features": r.features,
                "is_current": True,
                "review_state": Grade.Review.PENDING if reason else Grade.Review.NOT_NEEDED,
                "review_reason": reason,
                "released_at": now if auto_release else None,
            }
            if human:  # a regrade never undoes an instructor's decision
                for key in ("review_state", "review_reason", "released_at"):
                    values.pop(key)
                reason = ""
            elif prior_human is not None:
                values.update({k: getattr(prior_human, k) for k in HUMAN_DECISION_FIELDS})
                values["review_reason"] = ""
                auto_release, reason = False, ""
            if existing is None:
                grade = Grade(submission=sub, model_version=r.model_version, **values)
                new_grades.append(grade)
            else:
                grade = existing
                for key, value in values.items():
                    setattr(grade, key, value)
                changed.append((grade, list(values)))
            if auto_release and not human:
                released.append(grade)
            sub.status = S.NEEDS_REVIEW if reason else S.GRADED
            sub.graded_at = now
            sub.lease_expires_at = None
            sub.claim_token = ""
            sub.failure_reason = ""
            sub.extracted_text = getattr(r, "extracted_text", "")
            sub.updated_at = now
        Grade.objects.bulk_create(new_grades)
        for grade, fields in changed:
            grade.save(update_fields=fields)
        for grade in released:
            _decision(
                grade,
                None,
                GradeDecision.Action.RELEASE,
                before_score=grade.effective_score,
                before_released=False,
                comment="released by the assignment's auto-release policy",
            )
            transaction.on_commit(lambda pk=grade.pk: _after_release(pk))
        Submission.objects.bulk_update(
            [subs[r.submission_id] for r in results],
            [
                "status",
                "graded_at",
                "lease_expires_at",
                "claim_token",
                "failure_reason",
                "extracted_text",
                "updated_at",
            ],
        )
    return len(results)


def submission_fail(*, submission_id: int, token: str, reason: str) -> None:
    """The submission itself cannot be graded (a file that cannot be read): failed at once, with the reason."""
    Submission.objects.filter(pk=submission_id, claim_token=token).update(
        status=S.FAILED, failure_reason=reason[:2000], lease_expires_at=None, claim_token=""
    )


def submission_model_failed(*, submission_id: int, token: str) -> str:
    """The model raised on this row graded alone: count it; fail the row after ``MAX_MODEL_FAILURES``.

    Below the limit the row goes back to pending for a later try (the sweeper wakes a
    worker). Only this counts against a submission's tries: lost workers and expired
    leases are counted in ``lease_losses`` instead. Returns the new status ("" if the
    claim was lost).
    """
    limit = max(1, int(settings.MAX_MODEL_FAILURES))
    with transaction.atomic():
        sub = Submission.objects.select_for_update().filter(pk=submission_id, claim_token=token, status=S.RUNNING)
        sub = sub.first()
        if sub is None:
            return ""
        sub.model_failures += 1
        if sub.model_failures >= limit:
            sub.status = S.FAILED
            sub.failure_reason = (
                f"The grading model could not process this submission ({sub.model_failures} tries). "
                "Your instructor can grade it by hand or have it regraded."
            )
            log.error("submission %s: failed after %d model errors", sub.pk, sub.model_failures)
        else:
            sub.status = S.PENDING
        sub.claim_token = ""
        sub.lease_expires_at = None
        sub.save(update_fields=["status", "model_failures", "failure_reason", "claim_token", "lease_expires_at"])
    return sub.status


def claims_release(*, token: str, ids: list[int], lost: bool = False) -> int:
    """Give claimed rows back (pending) so a retry or the sweeper takes them.

    ``lost=True`` when the batch ended for a reason that may lie in the batch itself but
    cannot be pinned on one row (it ran past its time limit): counted as a lease loss, so
    the rows are retried in smaller batches.
    """
    changes = {"status": S.PENDING, "claim_token": "", "lease_expires_at": None}
    if lost:
        changes["lease_losses"] = F("lease_losses") + 1
    return Submission.objects.filter(pk__in=ids, claim_token=token, status=S.RUNNING).update(**changes)


def answer_text(sub: Submission) -> str:
    """What was answered: typed text plus the text read from photos and recordings."""
    return "\n".join(t for t in (sub.text, sub.extracted_text) if t)


def grading_enqueue(*, submission_ids: list[int]) -> None:
    """Wake a worker for these rows after commit (the rows are the truth; the sweeper covers a lost message)."""
    if submission_ids:
        enqueue_on_commit("grading.grade_pending", submission_ids=list(submission_ids))


def submissions_sweep() -> dict:
    """Take back expired leases and re-enqueue pending rows whose wake-up was lost.

    An expired lease means its worker died (killed, out of memory, machine lost): the
    heartbeat renews leases while a batch runs. That is counted in ``lease_losses``, not
    as a grading try; such rows are retried in smaller batches (``_batch_cap``), logged as
    errors from ``LEASE_LOSS_ALERT`` losses on and failed only at ``MAX_LEASE_LOSSES``.
    """
    now = timezone.now()
    expired_q = {"status": S.RUNNING, "lease_expires_at__lt": now}
    expired = list(Submission.objects.filter(**expired_q).values_list("pk", flat=True)[:10_000])
    gave_up = 0
    max_losses = int(settings.MAX_LEASE_LOSSES or 0)
    if expired and max_losses:
        gave_up = Submission.objects.filter(pk__in=expired, lease_losses__gte=max_losses - 1, **expired_q).update(
            status=S.FAILED,
            claim_token="",
            lease_expires_at=None,
            lease_losses=F("lease_losses") + 1,
            failure_reason=(
                f"Grading stopped its worker {max_losses} times, also when this submission was graded alone; "
                "your instructor can grade it by hand."
            ),
        )
    # The WHERE is checked again row by row: a lease the heartbeat renewed meanwhile is kept.
    reclaimed = Submission.objects.filter(pk__in=expired, **expired_q).update(
        status=S.PENDING, claim_token="", lease_expires_at=None, lease_losses=F("lease_losses") + 1
    )
    suspects = list(
        Submission.objects.filter(pk__in=expired, lease_losses__gte=settings.LEASE_LOSS_ALERT).values_list(
            "pk", "lease_losses", "status"
        )
    )
    for pk, losses, status in suspects:
        log.error(
            "submission %s: its worker was lost %d times while grading it (now %s); "
            "if it keeps happening this file may crash the worker",
            pk,
            losses,
            status,
        )
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
    return {"reclaimed": reclaimed, "failed": gave_up, "requeued": len(ids), "suspects": [pk for pk, *_ in suspects]}


# --- human review and release: the rules that protect students, in one place ---------------------
#
# A grade reaches a student only when a person reviewed it, or when the assignment's
# policy auto-releases confident, unflagged grades. Saving a score never releases by
# itself; every decision is recorded (GradeDecision). The workspace pages, the admin
# and the REST API all call these functions.

LOCK_MINUTES = 10
REVIEW_ACTIONS = ("accept", "adjust", "override")


def release_blocker(grade: Grade, policy: GradingPolicy | None = None) -> str:
    """Why ``grade`` may not reach the student now, in words; "" when it may."""
    if grade.effective_score is None:
        return "no score yet: a teacher has to enter one"
    if grade.review_state in HUMAN_STATES:
        return ""
    if grade.review_state == Grade.Review.PENDING:
        return f"waiting for review ({grade.review_reason or 'the model is unsure'})"
    if policy is None:
        policy = GradingPolicy.objects.filter(assignment_id=grade.submission.assignment_id).first()
    if policy is None or policy.release != GradingPolicy.Release.AUTO:
        return "not reviewed by a person (this assignment releases grades manually)"
    if grade.flags:
        return "flagged: " + ", ".join(grade.flags)
    if grade.confidence < policy.auto_release_confidence:
        return f"confidence {grade.confidence:.2f} is below the auto-release level {policy.auto_release_confidence:.2f}"
    return ""


def _num(value) -> str:
    """5.00 -> "5", 2.50 -> "2.5": scores as a teacher writes them."""
    return format(Decimal(str(value)).normalize(), "f")


def score_check(assignment, score) -> Decimal:
    """A score a teacher entered, as a Decimal within the assignment's range; a clear 400 otherwise."""
    lo, hi = assignment.min_score, assignment.max_score
    try:
        value = Decimal(str(score).strip()).quantize(Decimal("0.01"))
    except (ArithmeticError, ValueError, TypeError):
        raise ApplicationError(f"The score must be a number from {_num(lo)} to {_num(hi)}.", field="score") from None
    if not value.is_finite() or not lo <= value <= hi:
        raise ApplicationError(
            f"The score must be from {_num(lo)} to {_num(hi)} for this assignment (you entered {_num(value)}).",
            code="score_out_of_range",
            field="score",
        )
    return value


def _decision(grade: Grade, actor, action: str, *, before_score, before_released: bool, comment: str = "") -> None:
    GradeDecision.objects.create(
        grade=grade,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        score_before=before_score,
        score_after=grade.effective_score,
        released_before=before_released,
        released_after=grade.released_at is not None,
        comment=comment[:4000],
    )


def _lock_holder(grade: Grade, user) -> object | None:
    """The other user holding a live soft lock on ``grade``, if any."""
    if grade.locked_by_id and grade.locked_by_id != getattr(user, "pk", None):
        if grade.locked_until and grade.locked_until > timezone.now():
            return grade.locked_by
    return None


def grade_lock(*, grade: Grade, user, take_over: bool = False) -> Grade:
    """Take (or renew) the soft review lock; raises 409 when another grader holds it unless ``take_over``."""
    with transaction.atomic():
        grade = Grade.objects.select_for_update().select_related("locked_by").get(pk=grade.pk)
        holder = _lock_holder(grade, user)
        if holder is not None and not take_over:
            raise Conflict(
                "Another grader is reviewing this answer right now.", code="locked", extra={"locked_by": holder.pk}
            )
        grade.locked_by = user
        grade.locked_until = timezone.now() + timedelta(minutes=LOCK_MINUTES)
        grade.save(update_fields=["locked_by", "locked_until", "updated_at"])
    return grade


def grade_unlock(*, grade: Grade, user) -> None:
    Grade.objects.filter(pk=grade.pk, locked_by=user).update(locked_by=None, locked_until=None)


def criteria_check(assignment, criteria: list[dict]) -> list[dict]:
    """A teacher's per-criterion decisions: each names one of the assignment's rubric criteria, at most
    once, with points from 0 to that criterion's points (the pages, the admin and the API alike)."""
    top = {c.name: float(c.points) for c in RubricCriterion.objects.filter(rubric__assignment=assignment)}
    seen, out = set(), []
    for c in criteria:
        name = c.get("name") if isinstance(c, dict) else None
        if name not in top or name in seen:
            raise ApplicationError(f"{name!r} is not a criterion of this rubric (or is given twice).", field="criteria")
        seen.add(name)
        try:
            points = float(c.get("points"))
        except (TypeError, ValueError):
            points = math.nan
        if not (math.isfinite(points) and 0 <= points <= top[name]):
            raise ApplicationError(
                f"'{name}' takes from 0 to {top[name]:g} points.", code="score_out_of_range", field="criteria"
            )
        out.append({**c, "points": points})
    return out


def grade_review(
    *,
    grade: Grade,
    reviewer,
    action: str,
    score=None,
    comment: str = "",
    release: bool = False,
    criteria: list[dict] | None = None,
    recorded_as: str | None = None,
) -> Grade:
    """A teacher accepts the AI score, or adjusts/overrides it with their own; the score is saved, not released.

    ``release=True`` releases in the same step (the decision itself makes the grade
    eligible). Accepting a grade the AI could not score (flagged, no score) is refused:
    the teacher enters a score. Adjusted/overridden scores become training examples.
    """
    if action not in REVIEW_ACTIONS:
        raise ApplicationError("action must be accept, adjust or override.", field="action")
    assignment = grade.submission.assignment
    if action == "accept":
        if grade.score is None:
            raise ApplicationError(
                "The AI did not score this answer (" + (", ".join(grade.flags) or "no suggestion") + "): "
                "enter a score instead of accepting.",
                code="nothing_to_accept",
                field="score",
            )
        final, state = grade.score, Grade.Review.ACCEPTED
    else:
        if score is None or score == "":
            raise ApplicationError(f"{action} needs a score.", field="score")
        final = score_check(assignment, score)
        state = Grade.Review.ADJUSTED if action == "adjust" else Grade.Review.OVERRIDDEN
    if criteria is not None:
        criteria = criteria_check(assignment, criteria)
    with transaction.atomic():
        grade = Grade.objects.select_for_update().select_related("submission__assignment", "locked_by").get(pk=grade.pk)
        if _lock_holder(grade, reviewer) is not None:
            raise Conflict(
                "Another grader is reviewing this answer right now; reload to see their decision.", code="locked"
            )
        before_score, before_released = grade.effective_score, grade.released_at is not None
        grade.final_score = final
        grade.review_state = state
        grade.review_reason = ""
        grade.reviewer = reviewer
        grade.reviewed_at = timezone.now()
        grade.review_comment = comment
        if criteria is not None:
            grade.final_criteria = criteria
        grade.save()
        _decision(
            grade,
            reviewer,
            recorded_as or action,
            before_score=before_score,
            before_released=before_released,
            comment=comment,
        )
        Submission.objects.filter(pk=grade.submission_id).update(status=S.GRADED)
        transaction.on_commit(lambda: _after_human_grade(grade.pk))
        if before_released and before_score != grade.effective_score:  # the student (and the LMS) see the change
            transaction.on_commit(lambda: _after_release(grade.pk))
    if release:
        grade = grade_release(grade=grade, user=reviewer)
    return grade


def grade_release(*, grade: Grade, user) -> Grade:
    """Release one grade to its student, if the rules allow; 409 with the reason otherwise."""
    with transaction.atomic():
        grade = Grade.objects.select_for_update().select_related("submission__assignment").get(pk=grade.pk)
        if grade.released_at is not None:
            return grade
        blocker = release_blocker(grade)
        if blocker:
            raise Conflict(f"Not released: {blocker}.", code="not_releasable")
        grade.released_at = timezone.now()
        grade.save(update_fields=["released_at", "updated_at"])
        _decision(grade, user, GradeDecision.Action.RELEASE, before_score=grade.effective_score, before_released=False)
        transaction.on_commit(lambda: _after_release(grade.pk))
    return grade


@dataclass
class ReleaseReport:
    released: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (grade id, why)

    def summary(self) -> str:
        text = f"{len(self.released)} grade{'s' if len(self.released) != 1 else ''} released"
        if self.skipped:
            reasons: dict[str, int] = {}
            for _, why in self.skipped:
                key = why.split(" (")[0]
                reasons[key] = reasons.get(key, 0) + 1
            text += "; not released: " + "; ".join(f"{n} {why}" for why, n in reasons.items())
        return text + "."


def grades_release(*, grades, user=None) -> ReleaseReport:
    """Bulk release: only grades the rules allow; the report says what was skipped and why."""
    report = ReleaseReport()
    policies: dict[int, GradingPolicy | None] = {}
    for grade in grades:
        if grade.released_at is not None:
            continue
        aid = grade.submission.assignment_id
        if aid not in policies:
            policies[aid] = GradingPolicy.objects.filter(assignment_id=aid).first()
        blocker = release_blocker(grade, policies[aid])
        if blocker:
            report.skipped.append((grade.pk, blocker))
            continue
        with transaction.atomic():
            if Grade.objects.filter(pk=grade.pk, released_at__isnull=True).update(released_at=timezone.now()):
                grade.released_at = timezone.now()
                _decision(
                    grade, user, GradeDecision.Action.RELEASE, before_score=grade.effective_score, before_released=False
                )
                transaction.on_commit(lambda pk=grade.pk: _after_release(pk))
                report.released.append(grade.pk)
    return report


def grade_withdraw(*, grade: Grade, user, reason: str = "") -> Grade:
    """Take a released grade back from the student (it stays reviewed); recorded with the reason."""
    with transaction.atomic():
        grade = Grade.objects.select_for_update().get(pk=grade.pk)
        if grade.released_at is None:
            return grade
        grade.released_at = None
        grade.save(update_fields=["released_at", "updated_at"])
        _decision(
            grade,
            user,
            GradeDecision.Action.WITHDRAW,
            before_score=grade.effective_score,
            before_released=True,
            comment=reason,
        )
        transaction.on_commit(lambda: signals.grade_withdrawn.send(sender=Grade, grade_id=grade.pk))
    return grade


def grade_comment(*, grade: Grade, user, comment: str) -> Grade:
    """A teacher's comment to the student without changing the score."""
    comment = (comment or "").strip()
    if not comment:
        raise ApplicationError("Write a comment first.", field="comment")
    with transaction.atomic():
        grade = Grade.objects.select_for_update().get(pk=grade.pk)
        grade.review_comment = comment
        grade.save(update_fields=["review_comment", "updated_at"])
        _decision(
            grade,
            user,
            GradeDecision.Action.COMMENT,
            before_score=grade.effective_score,
            before_released=grade.released_at is not None,
            comment=comment,
        )
    return grade


def grade_recheck_request(*, grade: Grade, user, reason: str) -> Grade:
    """A student asks for a re-check of their released grade: it goes back to the teacher's queue."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("Say briefly what you would like your teacher to look at again.", field="reason")
    if len(reason) > 2000:
        raise ApplicationError("Keep the request under 2,000 characters.", field="reason")
    with transaction.atomic():
        grade = Grade.objects.select_for_update().select_related("submission__student").get(pk=grade.pk)
        if grade.submission.student.user_id != user.pk or grade.released_at is None:
            raise NotFound("Grade not found.")
        if grade.decisions.filter(
            action=GradeDecision.Action.RECHECK, at__gt=grade.reviewed_at or grade.created_at
        ).exists():
            raise Conflict(
                "You already asked for a re-check of this grade; your teacher will look at it.", code="recheck_pending"
            )
        grade.review_state = Grade.Review.PENDING
        grade.review_reason = "student asked for a re-check"
        grade.save(update_fields=["review_state", "review_reason", "updated_at"])
        _decision(
            grade,
            user,
            GradeDecision.Action.RECHECK,
            before_score=grade.effective_score,
            before_released=True,
            comment=reason,
        )
        Submission.objects.filter(pk=grade.submission_id).update(status=S.NEEDS_REVIEW)
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
        Submission.objects.filter(pk__in=ids).update(failure_reason="", **CLAIM_RESET)
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
        Submission.objects.filter(pk__in=ids).update(**CLAIM_RESET)
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


@dataclass
class GroupGradeReport:
    graded: list[int] = field(default_factory=list)  # submission ids given the group's score
    kept: list[int] = field(default_factory=list)  # already decided by a person: left alone
    release: ReleaseReport | None = None


def answer_group_grade(
    *, group: AnswerGroup, reviewer, score, comment: str = "", release: bool = False
) -> GroupGradeReport:
    """Give every member of a group the teacher's score, except answers a person already decided.

    Never releases unless asked (and then only what the release rules allow); the
    group's score is recorded on each member's decision history.
    """
    value = score_check(group.assignment, score)
    report = GroupGradeReport()
    with transaction.atomic():
        for sub in group.members.select_related("assignment").order_by("id"):
            grade = Grade.objects.filter(submission=sub, is_current=True).first()
            if grade is not None and grade.review_state in HUMAN_STATES:
                report.kept.append(sub.pk)
                continue
            if grade is None:
                grade = Grade.objects.create(submission=sub, model_version="human", mode="human", confidence=1.0)
            grade_review(
                grade=grade,
                reviewer=reviewer,
                action="override",
                score=value,
                comment=comment or f"Graded with answer group #{group.pk}",
                recorded_as=GradeDecision.Action.GROUP,
            )
            report.graded.append(sub.pk)
        group.graded_score = value
        group.save(update_fields=["graded_score"])
    if release:
        grades = Grade.objects.filter(submission_id__in=report.graded, is_current=True).select_related(
            "submission__assignment"
        )
        report.release = grades_release(grades=grades, user=reviewer)
    return report


def answer_group_remove_members(*, group: AnswerGroup, submission_ids: list[int]) -> AnswerGroup:
    """Take answers out of a group (they are graded one by one)."""
    with transaction.atomic():
        group.members.remove(*group.members.filter(pk__in=submission_ids))
        _group_refresh(group)
    return group


def answer_group_split(*, group: AnswerGroup, submission_ids: list[int]) -> AnswerGroup:
    """Move the chosen members into a new group of their own; returns the new group."""
    with transaction.atomic():
        moving = list(group.members.filter(pk__in=submission_ids).order_by("id"))
        if not moving:
            raise ApplicationError("Choose at least one answer to split off.", field="members")
        if len(moving) == group.members.count():
            raise ApplicationError("Keep at least one answer in the original group.", field="members")
        new = AnswerGroup.objects.create(assignment=group.assignment, representative=moving[0], size=len(moving))
        new.members.set(moving)
        group.members.remove(*moving)
        _group_refresh(group)
    return new


def answer_group_merge(*, group: AnswerGroup, into: AnswerGroup) -> AnswerGroup:
    """Move every member of ``group`` into ``into`` (same assignment, neither graded yet)."""
    if group.assignment_id != into.assignment_id or group.pk == into.pk:
        raise ApplicationError("Merge groups of the same assignment.", field="into")
    if group.graded_score is not None or into.graded_score is not None:
        raise Conflict("A graded group cannot be merged.", code="group_graded")
    with transaction.atomic():
        into.members.add(*group.members.all())
        _group_refresh(into)
        group.delete()
    return into


def _group_refresh(group: AnswerGroup) -> None:
    group.size = group.members.count()
    if group.size == 0:
        group.delete()
        return
    if not group.members.filter(pk=group.representative_id).exists():
        group.representative = group.members.order_by("id").first()
    group.save(update_fields=["size", "representative"])
