"""Core data: people, courses, enrolments, assignments, submissions, learning events.

Models hold data and constraints only; writes go through ``services.py``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q


def scaled_score(value, lo, hi) -> float | None:
    """``value`` on ``[lo, hi]`` scaled to 0-1 and clipped; None for an empty range or value.

    The one score normalisation every app uses (xAPI ``score.scaled``, mastery
    evidence, behaviour features).
    """
    if value is None or lo is None or hi is None:
        return None
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        return None
    return min(1.0, max(0.0, (float(value) - lo) / (hi - lo)))


class Student(models.Model):
    """A learner. One-to-one with the host's user model so an LMS's users work as-is."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eduplatform_student")
    external_id = models.CharField(
        max_length=255, blank=True, default="", help_text="Id in the host LMS or LTI platform (e.g. the LTI 'sub')."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Student #{self.pk}"  # no names: string forms end up in logs


class Course(models.Model):
    code = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(starts_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="course_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.title}"


class Enrollment(models.Model):
    class Role(models.TextChoices):
        STUDENT = "student", "Student"
        INSTRUCTOR = "instructor", "Instructor"
        TA = "ta", "Teaching assistant"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="eduplatform_enrollments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    registered_at = models.DateTimeField(null=True, blank=True)
    unregistered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course_id", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "course"], name="enrollment_unique_user_course")]
        indexes = [models.Index(fields=["course", "role"])]

    @property
    def is_staff_role(self) -> bool:
        return self.role in (self.Role.INSTRUCTOR, self.Role.TA)


class Modality(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"


class Assignment(models.Model):
    class AnswerFormat(models.TextChoices):
        """What a full answer is: free text, or a maths answer compared by value with ``expected_answer``."""

        TEXT = "text", "Text"
        NUMBER = "number", "Number or fraction"
        EXPRESSION = "expression", "Short expression"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="assignments")
    title = models.CharField(max_length=255)
    instructions = models.TextField(blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True)
    min_score = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    max_score = models.DecimalField(max_digits=7, decimal_places=2, default=10)
    accepts_text = models.BooleanField(default=True)
    accepts_image = models.BooleanField(default=False)
    accepts_audio = models.BooleanField(default=False)
    reference_answers = models.JSONField(default=list, blank=True, help_text="List of model answers (strings).")
    key_points = models.JSONField(default=list, blank=True, help_text="List of points a full answer covers (strings).")
    answer_format = models.CharField(max_length=16, choices=AnswerFormat.choices, default=AnswerFormat.TEXT)
    expected_answer = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="For number/expression answers: the expected value (e.g. 3/4, 0.75, 2x+1); compared by value.",
    )
    max_attempts = models.PositiveIntegerField(default=3)
    external_id = models.CharField(
        max_length=255, blank=True, default="", help_text="Id in an imported source (e.g. OULAD id_assessment)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["course_id", "due_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(max_score__gt=models.F("min_score")), name="assignment_score_range"),
            models.CheckConstraint(
                condition=Q(accepts_text=True) | Q(accepts_image=True) | Q(accepts_audio=True),
                name="assignment_accepts_a_modality",
            ),
            models.CheckConstraint(
                condition=Q(answer_format="text") | ~Q(expected_answer=""),
                name="assignment_maths_answer_has_expected_value",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def score_fraction(self, score) -> float:
        """``score`` scaled to 0-1 on this assignment's range (see ``scaled_score``)."""
        return scaled_score(score, self.min_score, self.max_score) or 0.0

    @property
    def modalities(self) -> list[str]:
        return [
            m
            for m, on in (("text", self.accepts_text), ("image", self.accepts_image), ("audio", self.accepts_audio))
            if on
        ]


class Submission(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        GRADED = "graded", "Graded"
        NEEDS_REVIEW = "needs_review", "Needs review"
        FAILED = "failed", "Failed"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="submissions")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="submissions")
    attempt = models.PositiveIntegerField(default=1)
    text = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    failure_reason = models.TextField(blank=True, default="")
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Work-queue bookkeeping: the row, not the Celery message, is the source of truth.
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claim_count = models.PositiveIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True, default="", db_index=True)
    # Why claims ended without a result. Infrastructure (a worker killed or lost, its lease
    # expired) is counted apart from the model raising on this row when graded alone: only
    # model failures use up the row's tries (EDUPLATFORM_MAX_MODEL_FAILURES).
    lease_losses = models.PositiveIntegerField(default=0)
    model_failures = models.PositiveIntegerField(default=0)
    graded_at = models.DateTimeField(null=True, blank=True)
    # Text the model read from images (OCR) and audio (speech recognition), for
    # instructors, answer groups and retraining.
    extracted_text = models.TextField(blank=True, default="")
    # Pre-graded imports (e.g. OULAD) carry the recorded score here.
    imported_score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "student", "attempt"], name="submission_unique_attempt"),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="submission_attempt_positive"),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"Submission #{self.pk} ({self.status})"


def _submission_upload_to(instance: SubmissionFile, filename: str) -> str:
    # Random names: no student name or original file name ends up on disk.
    ext = {"image": "img", "audio": "audio"}.get(instance.kind, "bin")
    return f"submissions/{instance.submission_id or 'new'}/{uuid.uuid4().hex}.{ext}"


class SubmissionFile(models.Model):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=8, choices=[(Modality.IMAGE, "Image"), (Modality.AUDIO, "Audio")])
    file = models.FileField(upload_to=_submission_upload_to, max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # Decoded facts checked at upload (image width/height, audio duration).
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]


# Timestamps outside these bounds cannot be real learning events, and some cannot even be
# read back (PostgreSQL stores years Python's datetime cannot hold, e.g. "0001-01-01T00:00+14:00"
# is year 0 in UTC). Ingestion refuses them (eduplatform.core.xapi); rows stored before that
# are quarantined by the default manager, so every reader (lists, analytics) skips them.
READABLE_FROM = datetime(2000, 1, 1, tzinfo=UTC)
READABLE_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)


class ReadableEventManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(timestamp__gte=READABLE_FROM, timestamp__lt=READABLE_UNTIL)


class LearningEvent(models.Model):
    """An xAPI-shaped statement. ``statement_id`` makes ingestion idempotent.

    ``objects`` skips rows whose timestamp is out of bounds (see ``ReadableEventManager``);
    ``all_objects`` sees every row (repairs, the admin's quarantine view)."""

    statement_id = models.UUIDField(unique=True)
    student = models.ForeignKey(Student, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    actor = models.JSONField(default=dict)
    verb = models.CharField(
        max_length=255, db_index=True, help_text="Verb IRI, e.g. http://adlnet.gov/expapi/verbs/completed"
    )
    object_id = models.CharField(max_length=512)
    object_type = models.CharField(max_length=64, blank=True, default="Activity")
    result = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField(db_index=True)
    stored_at = models.DateTimeField(auto_now_add=True)

    objects = ReadableEventManager()
    all_objects = models.Manager()

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [models.Index(fields=["student", "course", "timestamp"])]

    @property
    def verb_name(self) -> str:
        return self.verb.rstrip("/").rsplit("/", 1)[-1]
