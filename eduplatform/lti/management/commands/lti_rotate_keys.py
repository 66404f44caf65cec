"""Create a new tool signing key and retire old ones.

The new key signs from now on (service tokens, Deep Linking responses). Retired keys
stay published in the JWKS for ``--retire-after`` days, so a platform holding a
token or a cached JWKS from before the rotation keeps working, and are then
deactivated (dropped from the JWKS). Run it from cron, e.g. monthly.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from lti_tool.models import Key


class Command(BaseCommand):
    help = "Rotate the LTI tool's signing keys (JWKS): create a new key, deactivate keys older than N days."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--retire-after",
            type=int,
            default=7,
            help="Deactivate active keys created more than this many days ago (default 7).",
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Only create a key when there is no active one (for first deployment).",
        )

    def handle(self, *args, retire_after: int, if_missing: bool, **options) -> None:
        if if_missing and Key.objects.active().exists():
            self.stdout.write(f"An active key exists: {Key.objects.active().latest()}; nothing to do.")
            return
        cutoff = timezone.now() - timedelta(days=retire_after)
        with transaction.atomic():
            new_key = Key.objects.generate()
            retired = (
                Key.objects.active().exclude(pk=new_key.pk).filter(datetime_created__lt=cutoff).update(is_active=False)
            )
        still = Key.objects.active().exclude(pk=new_key.pk).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"New signing key {new_key} (kid). Deactivated {retired} key(s) older than {retire_after} days; "
                f"{still} older key(s) stay in the JWKS until then."
            )
        )
