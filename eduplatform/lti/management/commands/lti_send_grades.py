"""(Re)send released grades to LMS gradebooks (AGS): back-fills after linking a course, repairs."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from eduplatform.core.api import Assignment
from eduplatform.lti.services import assignment_scores_send


class Command(BaseCommand):
    help = "Send every released grade of an assignment (or a course's assignments) to the linked LMS gradebooks."

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--assignment", type=int)
        group.add_argument("--course", type=int)

    def handle(self, *args, assignment=None, course=None, **options) -> None:
        qs = Assignment.objects.filter(pk=assignment) if assignment else Assignment.objects.filter(course=course)
        if not qs.exists():
            raise CommandError("No matching assignment.")
        for a in qs:
            result = assignment_scores_send(assignment=a)
            self.stdout.write(f"assignment {a.pk}: sent={result['sent']} not_sent_yet={result['failed']}")
