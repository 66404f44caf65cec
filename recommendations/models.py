"""Learner model: skills, mastery, behaviour/risk estimates, resources, learning paths."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from eduplatform.models import Course, Student

# =============================================================================
# Behaviour analysis: engagement snapshots, at-risk model and estimates, alerts
# (issue 5). Computation lives in behaviour.py (no ORM) and services.py.
# =============================================================================


class BehaviourPattern(models.TextChoices):
    ACTIVE = "active", "Active"
    PASSIVE = "passive", "Passive"
    STRUGGLING = "struggling", "Struggling"
    DISENGAGED = "disengaged", "Disengaged"
    UNKNOWN = "unknown", "Not enough data"


class RiskModel(models.Model):
    """A trained at-risk model: parameters (JSON, no pickles), metrics and guardrail verdict.

    Only ``accepted`` models (Moodle's rule: evaluation score >= 0.7 with std-dev <=
    0.05 over 10 runs) produce estimates that are shown to anyone.
    """

    version = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=32, default="logreg")
    cutoff_day = models.PositiveIntegerField(help_text="Trained on what was known by this day of the course.")
    feature_names = models.JSONField(default=list)
    params = models.JSONField(default=dict, help_text="Model parameters (behaviour.RiskModel.to_dict()).")
    metrics = models.JSONField(default=dict, blank=True)
    guardrail = models.JSONField(default=dict, blank=True, help_text="Scores of the evaluation runs and verdict.")
    training_summary = models.JSONField(default=dict, blank=True,
                                        help_text="Courses, number of students, share at risk, label rule.")
    accepted = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["cutoff_day", "accepted", "created_at"])]

    def __str__(self) -> str:
        return f"{self.version} ({'accepted' if self.accepted else 'rejected'})"


class BehaviourSnapshot(models.Model):
    """Features, engagement and behaviour pattern of one student in one course at one time."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="behaviour_snapshots")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="behaviour_snapshots")
    as_of = models.DateTimeField(db_index=True)
    course_day = models.FloatField(help_text="Days since the course start at as_of.")
    window_days = models.PositiveIntegerField(null=True, blank=True,
                                              help_text="Trailing window for activity features; empty = all.")
    features = models.JSONField(default=dict)
    engagement = models.FloatField(help_text="0-100.")
    pattern = models.CharField(max_length=16, choices=BehaviourPattern.choices)
    pattern_drivers = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "student_id"]
        constraints = [models.UniqueConstraint(fields=["student", "course", "as_of"], name="behaviour_snapshot_unique")]
        indexes = [models.Index(fields=["course", "as_of"])]


class RiskEstimate(models.Model):
    """An at-risk probability with its reasons. ``shown`` is False when the model was not
    accepted or the confidence is under the threshold; ``hidden_reason`` says which."""

    class Hidden(models.TextChoices):
        NONE = "", "Shown"
        LOW_CONFIDENCE = "low_confidence", "Confidence under the threshold"
        MODEL_NOT_ACCEPTED = "model_not_accepted", "Model failed the acceptance guardrail"

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="risk_estimates")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="risk_estimates")
    as_of = models.DateTimeField(db_index=True)
    course_day = models.FloatField()
    probability = models.FloatField()
    confidence = models.FloatField()
    at_risk = models.BooleanField(help_text="probability >= the alert threshold")
    pattern = models.CharField(max_length=16, choices=BehaviourPattern.choices, default=BehaviourPattern.UNKNOWN)
    engagement = models.FloatField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    model = models.ForeignKey(RiskModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="estimates")
    model_version = models.CharField(max_length=128)
    shown = models.BooleanField(default=False, db_index=True)
    hidden_reason = models.CharField(max_length=32, choices=Hidden.choices, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-probability"]
        constraints = [
            models.UniqueConstraint(fields=["student", "course", "as_of", "model_version"],
                                    name="risk_estimate_unique"),
            models.CheckConstraint(condition=Q(probability__gte=0) & Q(probability__lte=1),
                                   name="risk_probability_range"),
            models.CheckConstraint(condition=Q(shown=False) | Q(hidden_reason=""), name="risk_shown_not_hidden"),
        ]
        indexes = [models.Index(fields=["course", "as_of"])]


class RiskAlert(models.Model):
    """Raised for instructors when a student crosses into at-risk; one per crossing.

    An alert stays open until an estimate shows the student below the threshold
    again (then it is resolved); only then can a new crossing raise a new alert.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved (back under the threshold)"

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="risk_alerts")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="risk_alerts")
    estimate = models.ForeignKey(RiskEstimate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    crossed_at = models.DateTimeField(help_text="as_of of the estimate that crossed the threshold.")
    probability = models.FloatField()
    reasons = models.JSONField(default=list, blank=True)
    pattern = models.CharField(max_length=16, choices=BehaviourPattern.choices, default=BehaviourPattern.UNKNOWN)
    model_version = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-crossed_at", "-id"]
        constraints = [
            # At most one unresolved alert per student and course: the crossing key.
            models.UniqueConstraint(fields=["student", "course"], condition=Q(resolved_at__isnull=True),
                                    name="risk_alert_one_open_per_crossing"),
            models.UniqueConstraint(fields=["student", "course", "crossed_at"], name="risk_alert_unique_crossing"),
        ]

    def __str__(self) -> str:
        return f"Risk alert #{self.pk} ({self.status})"


# =============================================================================
# Knowledge tracing and learning paths (added separately).
# =============================================================================
