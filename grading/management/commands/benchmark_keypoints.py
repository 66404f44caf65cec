"""Key-point feedback precision on the hand-labelled fixture (what a student is told, and how often it is right).

    python manage.py benchmark_keypoints --json bench-results/keypoints.json
    python manage.py benchmark_keypoints --fixture other_labelled.json

See ``multimodal.research.keypoint_fixture`` for the measures.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

# the checkout's fixture (a host project passes --fixture)
DEFAULT_FIXTURE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "keypoints_labelled.json"


class Command(BaseCommand):
    help = "Precision of covered / not found / contradicted key-point statements on a hand-labelled fixture."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE), help="labelled JSON (tests/fixtures format)")
        parser.add_argument("--json", dest="json_out", help="write the report to this JSON file")

    def handle(self, *args, **opts) -> None:
        from eduplatform.core.workers import models_configure
        from multimodal import registry
        from multimodal.grader import Grader
        from multimodal.research.keypoint_fixture import fixture_judgements, fixture_report, format_fixture_report

        models_configure()
        try:
            pairs = fixture_judgements(Grader(registry.get_text_encoder()), opts["fixture"])
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"{opts['fixture']}: {exc}") from exc
        rep = {"fixture": Path(opts["fixture"]).name, **fixture_report(pairs)}
        self.stdout.write(format_fixture_report(rep))
        if opts["json_out"]:
            Path(opts["json_out"]).parent.mkdir(parents=True, exist_ok=True)
            Path(opts["json_out"]).write_text(json.dumps(rep, indent=2))
            self.stdout.write(f"wrote {opts['json_out']}")
