"""Delivery criteria (pace, pausing, clarity) under controlled changes of the shared speech clips.

    python manage.py benchmark_speaking --dir ../shared/datasets/speech --json speaking.json

See ``multimodal/research/speaking_eval.py`` for what this can and cannot show.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Check that delivery criteria respond to slowed, sped-up, paused and noisy versions of real clips."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dir", required=True, help="folder with transcripts.tsv and WAVs")
        parser.add_argument("--limit", type=int, default=10, help="clips to use (each is decoded 5 times)")
        parser.add_argument("--json", dest="json_out")

    def handle(self, *args, **opts) -> None:
        from eduplatform.core.workers import models_configure
        from multimodal.research.speaking_eval import benchmark_speaking

        models_configure()
        try:
            result = benchmark_speaking(opts["dir"], limit=opts["limit"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        result["loadavg_1min"] = round(os.getloadavg()[0], 2)
        header = (
            f"{'variant':<8} {'criterion':<9} {'n':>3} {'moved':>6} {'changed':>8} {'others':>7} {'orig':>8} {'var':>8}"
        )
        self.stdout.write(header)
        for name, s in result["summary"].items():
            self.stdout.write(
                f"{name:<8} {s['criterion']:<9} {s['n']:>3} {s['feature_moved_as_expected']!s:>6} "
                f"{s['criterion_level_changed']!s:>8} {s['other_criteria_unchanged']!s:>7} "
                f"{s['mean_feature_original']!s:>8} {s['mean_feature_variant']!s:>8}"
            )
        for key in ("can_show", "cannot_show", "fusion"):
            self.stdout.write(f"{key}: {result[key]}")
        if opts["json_out"]:
            out = Path(opts["json_out"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2))
            self.stdout.write(f"wrote {out}")
