"""Learner model: skills, mastery, behaviour/risk estimates, resources, learning paths."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from eduplatform.core.api import Assignment, Course, Student

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
    training_summary = models.JSONField(
        default=dict, blank=True, help_text="Courses, number of students, share at risk, label rule."
    )
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
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Trailing window for activity features; empty = all."
    )
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
            models.UniqueConstraint(
                fields=["student", "course", "as_of", "model_version"], name="risk_estimate_unique"
            ),
            models.CheckConstraint(
                condition=Q(probability__gte=0) & Q(probability__lte=1), name="risk_probability_range"
            ),
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
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-crossed_at", "-id"]
        constraints = [
            # At most one unresolved alert per student and course: the crossing key.
            models.UniqueConstraint(
                fields=["student", "course"],
                condition=Q(resolved_at__isnull=True),
                name="risk_alert_one_open_per_crossing",
            ),
            models.UniqueConstraint(fields=["student", "course", "crossed_at"], name="risk_alert_unique_crossing"),
        ]

    def __str__(self) -> str:
        return f"Risk alert #{self.pk} ({self.status})"


# =============================================================================
# Learner model and learning paths (issue 6): skills with prerequisites, skill tags
# on assignments, resources, per-skill mastery from knowledge tracing, trained KT
# models, and the stored learning paths. Ranking lives in paths.py (no ORM);
# writes in services.py ("Learner model and learning paths" section).
# =============================================================================


class Skill(models.Model):
    """A knowledge component of a course. Its primary key is its id in knowledge tracing."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="skills")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    prior = models.FloatField(
        null=True,
        blank=True,
        help_text="P(mastered) before any evidence, as the course sees its students (0-1); empty = the "
        "trained model's or EDUPLATFORM_KT_DEFAULT_PARAMS' prior. At or above the mastery threshold the skill "
        "counts as known and opens the skills that need it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["course", "name"], name="skill_unique_name_per_course"),
            models.CheckConstraint(
                condition=Q(prior__isnull=True) | (Q(prior__gte=0) & Q(prior__lte=1)), name="skill_prior_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SkillPrerequisite(models.Model):
    """``prerequisite`` must be mastered before ``skill`` is recommended. Cycles are
    refused by ``services.skill_prerequisite_add`` (a self-loop also by the database)."""

    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="prerequisite_links")
    prerequisite = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="dependent_links")

    class Meta:
        ordering = ["skill_id", "prerequisite_id"]
        constraints = [
            models.UniqueConstraint(fields=["skill", "prerequisite"], name="skill_prerequisite_unique"),
            models.CheckConstraint(condition=~Q(skill=models.F("prerequisite")), name="skill_prerequisite_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.prerequisite_id} before {self.skill_id}"


class AssignmentSkill(models.Model):
    """An assignment exercises a skill; its graded attempts update the skill's mastery."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="skill_tags")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="assignment_tags")
    weight = models.FloatField(
        default=1.0,
        help_text="How much of the assignment is about this skill (0-1]; "
        "a graded attempt counts as this much evidence.",
    )

    class Meta:
        ordering = ["assignment_id", "skill_id"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "skill"], name="assignment_skill_unique"),
            models.CheckConstraint(condition=Q(weight__gt=0) & Q(weight__lte=1), name="assignment_skill_weight_range"),
        ]


class ResourceKind(models.TextChoices):
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio"
    TEXT = "text", "Text"
    IMAGE = "image", "Image / slides"
    EXERCISE = "exercise", "Exercise"


def _resource_upload_to(instance: LearningResource, filename: str) -> str:
    import uuid
    from pathlib import PurePath

    ext = PurePath(filename).suffix.lower()[:10]
    return f"resources/{instance.course_id or 'new'}/{uuid.uuid4().hex}{ext}"


class LearningResource(models.Model):
    """Something to learn from: a link or an uploaded file, tagged with skills.

    ``transcript`` holds the speech recogniser's text (audio/video) or OCR text
    (slides), or text the instructor pasted; the embedding is computed from title,
    description and transcript with the text encoder, for similarity search.
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="learning_resources")
    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=ResourceKind.choices, default=ResourceKind.TEXT)
    url = models.URLField(max_length=1000, blank=True, default="")
    file = models.FileField(upload_to=_resource_upload_to, max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    transcript = models.TextField(
        blank=True,
        default="",
        help_text="Transcript (audio/video) or OCR text (slides); filled by the worker from the file when empty.",
    )
    skills = models.ManyToManyField(Skill, related_name="resources", blank=True)
    assignment = models.ForeignKey(
        Assignment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="learning_resources",
        help_text="Optional: the assignment this resource prepares for (its due date counts for urgency).",
    )
    difficulty = models.FloatField(default=0.5, help_text="0 (easy) to 1 (hard).")
    duration_minutes = models.PositiveIntegerField(default=10)
    is_active = models.BooleanField(default=True)
    embedding = models.JSONField(default=list, blank=True, help_text="Unit vector (list of floats).")
    embedding_model = models.CharField(max_length=128, blank=True, default="")
    embedding_source_sha = models.CharField(
        max_length=64, blank=True, default="", help_text="SHA-256 of the embedded text: re-embed only when it changes."
    )
    content_error = models.TextField(blank=True, default="", help_text="Why the file could not be transcribed/read.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course_id", "title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(difficulty__gte=0) & Q(difficulty__lte=1), name="learning_resource_difficulty_range"
            ),
        ]
        indexes = [models.Index(fields=["course", "is_active"])]

    def __str__(self) -> str:
        return self.title


class ResourcePin(models.Model):
    """An instructor pins (shows first) or excludes (never shows) a resource, for the
    whole course or for one student. A student-level choice overrides the course's."""

    class Action(models.TextChoices):
        PIN = "pin", "Pin (show first)"
        EXCLUDE = "exclude", "Exclude (never show)"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="resource_pins")
    resource = models.ForeignKey(LearningResource, on_delete=models.CASCADE, related_name="pins")
    student = models.ForeignKey(
        Student,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="resource_pins",
        help_text="Empty = everyone in the course.",
    )
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.PIN)
    position = models.PositiveIntegerField(default=0, help_text="Order among pins (lowest first).")
    note = models.CharField(max_length=255, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource"], condition=Q(student__isnull=True), name="resource_pin_unique_course_wide"
            ),
            models.UniqueConstraint(
                fields=["resource", "student"],
                condition=Q(student__isnull=False),
                name="resource_pin_unique_per_student",
            ),
        ]


class SkillAttempt(models.Model):
    """One graded attempt at a skill: the evidence knowledge tracing replays.

    Keyed by (student, skill, source) -- ``submission:<id>`` for grades, ``event:<uuid>``
    for xAPI answers -- so a re-released or instructor-adjusted grade replaces its
    earlier evidence instead of counting twice.
    """

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="skill_attempts")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="attempts")
    source = models.CharField(max_length=80)
    correct = models.FloatField(help_text="1 = correct, 0 = wrong; a score fraction in between.")
    weight = models.FloatField(default=1.0)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["student", "skill", "source"], name="skill_attempt_unique_source"),
            models.CheckConstraint(condition=Q(correct__gte=0) & Q(correct__lte=1), name="skill_attempt_correct_range"),
        ]
        indexes = [models.Index(fields=["student", "skill", "occurred_at"])]


class Mastery(models.Model):
    """P(student has mastered skill), from the serving knowledge-tracing model."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="masteries")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="masteries")
    p_mastery = models.FloatField()
    n_attempts = models.PositiveIntegerField(default=0)
    model_version = models.CharField(max_length=128)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["student_id", "skill_id"]
        verbose_name_plural = "masteries"
        constraints = [
            models.UniqueConstraint(fields=["student", "skill"], name="mastery_unique_student_skill"),
            models.CheckConstraint(condition=Q(p_mastery__gte=0) & Q(p_mastery__lte=1), name="mastery_p_range"),
        ]


class KTModelRecord(models.Model):
    """A knowledge-tracing model trained on the school's history, with held-out metrics.

    At most one is ``serving``: the better of BKT and the deep model on held-out students.
    """

    class Kind(models.TextChoices):
        BKT = "bkt", "Bayesian knowledge tracing"
        DEEP = "deep", "Deep sequence model"

    name = models.CharField(max_length=32, help_text="knowledge_tracing model name, e.g. bkt_forget, dkt.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    version = models.CharField(max_length=128, unique=True)
    path = models.CharField(max_length=500, help_text="Artifact on the workers' shared disk.")
    metrics = models.JSONField(default=dict, blank=True, help_text="Held-out AUC/accuracy and training time.")
    training_summary = models.JSONField(default=dict, blank=True)
    serving = models.BooleanField(default=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "knowledge-tracing model"
        constraints = [
            models.UniqueConstraint(fields=["serving"], condition=Q(serving=True), name="kt_model_one_serving")
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (serving)' if self.serving else ''}"


class LearningPath(models.Model):
    """An ordered list of next-best resources for one student in one course.

    Each recompute that changes the path writes a new one and makes it current; older
    ones stay for the record (and for the steps a mobile app may still mark).
    """

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="learning_paths")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="learning_paths")
    computed_at = models.DateTimeField()
    model_version = models.CharField(max_length=160, help_text="Recommender and mastery model versions.")
    is_current = models.BooleanField(default=True)
    summary = models.TextField(blank=True, default="")
    mastery_snapshot = models.JSONField(default=dict, blank=True, help_text="skill id -> P(mastered) used.")
    modality_preference = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-computed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "course"], condition=Q(is_current=True), name="learning_path_one_current"
            )
        ]
        indexes = [models.Index(fields=["student", "course", "is_current"])]

    def __str__(self) -> str:
        return f"Path #{self.pk} (student #{self.student_id})"


class LearningPathStep(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"

    path = models.ForeignKey(LearningPath, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    resource = models.ForeignKey(LearningResource, on_delete=models.CASCADE, related_name="path_steps")
    skill = models.ForeignKey(Skill, on_delete=models.SET_NULL, null=True, blank=True, related_name="path_steps")
    reason = models.TextField(help_text="Why this step, in words the student reads.")
    expected_gain = models.FloatField(default=0.0, help_text="Expected rise in P(mastered) of the skill.")
    score = models.FloatField(default=0.0)
    factors = models.JSONField(default=dict, blank=True)
    pinned = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["path_id", "position"]
        constraints = [models.UniqueConstraint(fields=["path", "position"], name="learning_path_step_unique_position")]
