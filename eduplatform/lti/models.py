"""Links between django-lti's records (platform side) and eduplatform's (our side).

django-lti (``lti_tool``) already keeps registrations, deployments, contexts (LMS
courses), resource links, line items and LTI users; ``LtiUser.auth_user`` is the
(registration, sub) -> user link. These models add what eduplatform needs on top:
which course a context is, which assignment a placed link opens, which gradebook
column an assignment's grades go to, and an outbox row per score sent.
"""

from __future__ import annotations

from django.db import models

from eduplatform.core.api import Assignment, Course, Submission


class LtiCourseLink(models.Model):
    """An LMS course (LTI context) and the eduplatform course it is taught in."""

    context = models.OneToOneField(
        "lti_tool.LtiContext", on_delete=models.CASCADE, related_name="eduplatform_course_link"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lti_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI course link"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"LTI context #{self.context_id} -> course #{self.course_id}"


class LtiAssignmentLink(models.Model):
    """A link placed in the LMS (LTI resource link) and the assignment it opens."""

    resource_link = models.OneToOneField(
        "lti_tool.LtiResourceLink", on_delete=models.CASCADE, related_name="eduplatform_assignment_link"
    )
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="lti_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI assignment link"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"LTI resource link #{self.resource_link_id} -> assignment #{self.assignment_id}"


class LtiAssignmentLineItem(models.Model):
    """The LMS gradebook column (AGS line item) that one assignment's grades go to, per LMS course."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="lti_line_items")
    context = models.ForeignKey("lti_tool.LtiContext", on_delete=models.CASCADE, related_name="+")
    line_item = models.OneToOneField(
        "lti_tool.LtiLineItem", on_delete=models.CASCADE, related_name="eduplatform_assignment"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI assignment line item"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "context"], name="lti_one_line_item_per_assignment_context")
        ]

    def __str__(self) -> str:
        return f"Line item #{self.line_item_id} for assignment #{self.assignment_id}"


class LtiScoreSync(models.Model):
    """The last score sent (or tried) for one LTI user in one gradebook column.

    An outbox and audit row: sending is idempotent (an unchanged score with the same
    timestamp is not sent twice) and a failure is visible here with its reason.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    line_item = models.ForeignKey(LtiAssignmentLineItem, on_delete=models.CASCADE, related_name="score_syncs")
    lti_user = models.ForeignKey("lti_tool.LtiUser", on_delete=models.CASCADE, related_name="+")
    submission = models.ForeignKey(Submission, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    grade = models.ForeignKey(
        "eduplatform_grading.Grade", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score_given = models.DecimalField(max_digits=9, decimal_places=2)
    score_maximum = models.DecimalField(max_digits=9, decimal_places=2)
    timestamp = models.DateTimeField(help_text="The score's timestamp as sent to the platform.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    # The score was taken back (grade withdrawn): the gradebook was sent "not graded" instead.
    cleared = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "LTI score sync"
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["line_item", "lti_user"], name="lti_one_score_per_user_line_item")
        ]

    def __str__(self) -> str:
        return f"Score {self.score_given}/{self.score_maximum} ({self.status})"
