"""Sync LMS rosters (LTI Names and Role Provisioning) into course enrolments."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from lti_tool.models import LtiContext
from pylti1p3.exception import LtiException
from requests import RequestException

from eduplatform.core.api import ApplicationError
from eduplatform.lti.services import LtiTransientError, roster_sync


class Command(BaseCommand):
    help = "Fetch LMS rosters over NRPS and update enrolments (one context, one course, or all)."

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--context", type=int, help="lti_tool LtiContext id")
        group.add_argument("--course", type=int, help="eduplatform Course id (all its LMS courses)")
        group.add_argument("--all", action="store_true", help="every LMS course with a roster URL")
        parser.add_argument("--queue", action="store_true", help="enqueue Celery tasks instead of running here")

    def handle(self, *args, context=None, course=None, all=False, queue=False, **options) -> None:
        contexts = (
            LtiContext.objects.exclude(memberships_url="")
            .filter(deployment__is_active=True, deployment__registration__is_active=True)
            .select_related("deployment__registration")
        )
        if context is not None:
            contexts = contexts.filter(pk=context)
        elif course is not None:
            contexts = contexts.filter(eduplatform_course_link__course=course)
        if not contexts.exists():
            raise CommandError("No LMS course with a roster (NRPS) URL matches; launch the tool from it first.")
        failed = 0
        for ctx in contexts:
            if queue:
                from eduplatform.lti.tasks import lti_sync_roster

                lti_sync_roster.delay(context_id=ctx.pk)
                self.stdout.write(f"context {ctx.pk}: queued")
                continue
            try:
                counts = roster_sync(context=ctx)
            except (ApplicationError, LtiTransientError, LtiException, RequestException) as exc:  # report, go on
                failed += 1
                self.stderr.write(f"context {ctx.pk} ({ctx}): failed: {exc}")
                continue
            self.stdout.write(f"context {ctx.pk} ({ctx}): " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        if failed:
            raise CommandError(f"{failed} roster(s) could not be synced.")
