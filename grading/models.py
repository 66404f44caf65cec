"""Rubrics, AI grades (one per submission and model version), human review and release."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from eduplatform.core.api import Assignment, Submission


class Rubric(models.Model):
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="rubric")
    title = models.CharField(max_length=255, blank=True, default="")
    # Checklist (False): criteria are checked like key points (covered / partly / missing) and the
    # grade is holistic. Analytic (True): each criterion is scored on its own 0..points range, the
    # grader learns each from the teacher's per-criterion decisions and the total is their sum.
    analytic = models.BooleanField(
        default=False,
        help_text="Score each criterion on its own points; the total is the sum of the criteria.",
    )

    def __str__(self) -> str:
        return self.title or f"Rubric for {self.assignment}"


class RubricCriterion(models.Model):
    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="", help_text="What a full-credit answer shows.")
    points = models.DecimalField(max_digits=6, decimal_places=2, default=1)
    levels = models.JSONField(
        default=list, blank=True, help_text='Optional levels: [{"label": "Good", "points": 2, "descriptor": "..."}]'
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.CheckConstraint(condition=Q(points__gte=0), name="criterion_points_nonneg")]


class GradingPolicy(models.Model):
    """Per-assignment release policy (defaults apply when no row exists)."""

    class Release(models.TextChoices):
        AUTO = "auto", "Auto-release confident grades"
        MANUAL = "manual", "Release manually"

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="grading_policy")
    release = models.CharField(max_length=8, choices=Release.choices, default=Release.MANUAL)
    auto_release_confidence = models.FloatField(default=0.8)
    review_sample_rate = models.FloatField(default=0.1, help_text="Share of confident grades also sent to review.")


class Grade(models.Model):
    """An AI grade, keyed by (submission, model version) so regrading is an idempotent upsert."""

    class Review(models.TextChoices):
        NOT_NEEDED = "not_needed", "Not needed"
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        ADJUSTED = "adjusted", "Adjusted"
        OVERRIDDEN = "overridden", "Overridden"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="grades")
    model_version = models.CharField(max_length=128)
    mode = models.CharField(max_length=32, help_text="zero-shot, learned, ...")
    score = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="AI score; empty when the answer was flagged and not scored.",
    )
    confidence = models.FloatField(default=0.0)
    criteria = models.JSONField(default=list, blank=True)
    flags = models.JSONField(default=list, blank=True)
    feedback = models.TextField(blank=True, default="", help_text="Shown to the student once released.")
    explanation = models.TextField(blank=True, default="", help_text="For the instructor.")
    features = models.JSONField(default=dict, blank=True)
    is_current = models.BooleanField(default=True, help_text="The grade shown for this submission.")
    review_state = models.CharField(max_length=16, choices=Review.choices, default=Review.NOT_NEEDED, db_index=True)
    review_reason = models.CharField(max_length=255, blank=True, default="")
    final_score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True, default="")
    released_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The teacher's per-criterion decisions ([{"name", "points", "level"}]); the AI's are in ``criteria``.
    final_criteria = models.JSONField(default=list, blank=True)
    # A soft lock so two graders do not review the same answer at once (expires by itself).
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "model_version"], name="grade_unique_submission_version"),
            models.UniqueConstraint(
                fields=["submission"], condition=Q(is_current=True), name="grade_one_current_per_submission"
            ),
            models.CheckConstraint(condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="grade_confidence_0_1"),
        ]

    def __str__(self) -> str:
        return f"Grade #{self.pk} for submission #{self.submission_id}"

    @property
    def released(self) -> bool:
        return self.released_at is not None

    @property
    def effective_score(self):
        return self.final_score if self.final_score is not None else self.score


class GradeDecision(models.Model):
    """Every human decision on a grade, kept: who, when, what it was before and after."""

    class Action(models.TextChoices):
        ACCEPT = "accept", "Accepted the AI score"
        ADJUST = "adjust", "Adjusted the score"
        OVERRIDE = "override", "Entered a score"
        COMMENT = "comment", "Commented"
        RELEASE = "release", "Released to the student"
        WITHDRAW = "withdraw", "Withdrew the release"
        GROUP = "group", "Graded with an answer group"
        RECHECK = "recheck", "Student asked for a re-check"

    grade = models.ForeignKey(Grade, on_delete=models.CASCADE, related_name="decisions")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    score_before = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    score_after = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    released_before = models.BooleanField(default=False)
    released_after = models.BooleanField(default=False)
    comment = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on grade #{self.grade_id}"


class GraderModel(models.Model):
    """A learned grader trained on instructor-graded answers, saved as a versioned artifact."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="grader_models")
    version = models.CharField(max_length=128)
    path = models.CharField(max_length=512, help_text="Artifact folder (grader.joblib + metadata.json).")
    n_examples = models.PositiveIntegerField()
    n_examples_this_assignment = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"], condition=Q(is_active=True), name="grader_one_active_per_assignment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.n_examples} examples)"


class AnswerGroup(models.Model):
    """Similar answers an instructor grades once (Gradescope-style answer groups)."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="answer_groups")
    representative = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="+")
    members = models.ManyToManyField(Submission, related_name="answer_groups")
    size = models.PositiveIntegerField(default=1)
    # Estimated share of members a teacher would grade like the representative (from the grouping model).
    purity = models.FloatField(null=True, blank=True)
    graded_score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["assignment_id", "-size", "id"]
