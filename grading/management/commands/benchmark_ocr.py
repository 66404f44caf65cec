"""Character/word error rate (or maths recognition) of the OCR path on a labelled folder.

    python manage.py benchmark_ocr --dir ../shared/datasets/handwriting/csafe_pages --json ocr.json
    python manage.py benchmark_ocr --dir ../shared/datasets/handwriting/csafe_pages --vocabulary label
    python manage.py benchmark_ocr --dir ../shared/datasets/handwriting/crohme2014 --math --json maths.json

The folder holds ``labels.csv`` (``image,text``). See ``multimodal/research/ocr_eval.py``
for the normalisation, the vocabulary modes and the maths measures.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "OCR a folder with labels.csv and report CER/WER (or, with --math, maths recognition)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dir", required=True, help="folder with labels.csv (image,text) and the images")
        parser.add_argument("--json", dest="json_out", help="write results to this JSON file")
        parser.add_argument("--math", action="store_true", help="LaTeX labels: maths recogniser and equivalence")
        parser.add_argument(
            "--vocabulary",
            default="none",
            choices=["none", "label", "others"],
            help="correction vocabulary: none; label (each image's own label text, an upper bound); "
            "others (all other labels' words, a control)",
        )
        parser.add_argument("--limit", type=int, default=None, help="only the first N images")
        parser.add_argument("--batch-size", type=int, default=8, help="images read together")
        parser.add_argument("--per-image", action="store_true", help="print every image")

    def handle(self, *args, **opts) -> None:
        from eduplatform.core.workers import models_configure
        from multimodal.research.ocr_eval import benchmark_maths, benchmark_ocr

        models_configure()
        load_before = os.getloadavg()[0]
        try:
            if opts["math"]:
                result = benchmark_maths(opts["dir"], limit=opts["limit"], batch_size=max(opts["batch_size"], 1))
            else:
                result = benchmark_ocr(
                    opts["dir"],
                    vocabulary=opts["vocabulary"],
                    limit=opts["limit"],
                    batch_size=max(opts["batch_size"], 1),
                )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        result["dir"] = str(opts["dir"])
        result["machine"] = f"{platform.machine()} {os.cpu_count()} cores"
        result["loadavg_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}

        if opts["per_image"]:
            for p in result["per_image"]:
                self.stdout.write(f"{p['image']:<40} {p.get('cer', p.get('exact'))!s:>7} {p['hyp']!r}")
        if opts["math"]:
            keys = [
                "n",
                "expression_rate",
                "n_final_answers",
                "final_answer_equivalent",
                "final_answer_judged",
                "judged_precision",
                "n_numeric_final_answers",
                "numeric_final_equivalent",
                "numeric_judged_precision",
                "in_vocabulary",
                "expression_rate_in_vocabulary",
                "seconds_per_image",
                "model",
            ]
        else:
            keys = [
                "n",
                "cer",
                "wer",
                "seconds_per_image",
                "vocabulary",
                "cer_before_correction",
                "low_confidence_share",
                "cer_confident",
                "cer_low_confidence",
                "model",
            ]
        for key in keys:
            self.stdout.write(f"{key:<30}{result[key]}")
        self.stdout.write(f"{'loadavg_1min':<30}{result['loadavg_1min']}")
        if opts["json_out"]:
            out = Path(opts["json_out"])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2))
            self.stdout.write(f"wrote {out}")
