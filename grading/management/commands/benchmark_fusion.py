"""Compare attention, concatenation and weighted fusion on a grading CSV.

    python manage.py benchmark_fusion --csv ../shared/datasets/grading/mohler_short_answers.csv \
        --folds 5 --seed 0 --max-epochs 40 --json bench-results/fusion.json

Cross-validated (across-question GroupKFold and within-question KFold) Pearson r,
RMSE, QWK and training time per fusion kind, next to a Ridge on the concatenated
tokens, the product's learned grader and the constant baseline, plus a
missing-reference robustness check. The protocol is documented in
``multimodal.research.fusion_benchmark``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Benchmark fusion models (attention/concat/weighted) against ridge, the grader and a "
        "constant baseline by cross-validation; prints the table, optionally writes JSON."
    )

    def add_arguments(self, parser) -> None:
        from multimodal.research.fusion_benchmark import (
            DEFAULT_MAX_EPOCHS,
            DEFAULT_MEMBERS,
            DEFAULT_PATIENCE,
        )

        parser.add_argument("--csv", required=True, help="grading CSV (question_id,question,...)")
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS)
        parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE, help="early-stopping patience in epochs")
        parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS, help="ensemble members per fusion model")
        parser.add_argument(
            "--drop-fraction",
            type=float,
            default=0.5,
            help="share of test rows whose reference is dropped in the robustness check",
        )
        parser.add_argument("--no-grader", action="store_true", help="skip the product grader row (faster)")
        parser.add_argument(
            "--limit-questions", type=int, default=None, help="only the first N questions of the file (quick runs)"
        )
        parser.add_argument("--json", dest="json_out", help="write the full result to this JSON file")

    def handle(self, *args, **opts) -> None:
        from multimodal.research.fusion_benchmark import (
            format_report,
            run_fusion_benchmark,
            write_json,
        )

        try:
            result = run_fusion_benchmark(
                opts["csv"],
                folds=opts["folds"],
                seed=opts["seed"],
                max_epochs=opts["max_epochs"],
                patience=opts["patience"],
                members=opts["members"],
                drop_fraction=opts["drop_fraction"],
                with_grader=not opts["no_grader"],
                limit_questions=opts["limit_questions"],
                log=self.stderr.write,
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_report(result))
        if opts["json_out"]:
            write_json(result, opts["json_out"])
            self.stdout.write(f"wrote {opts['json_out']}")
