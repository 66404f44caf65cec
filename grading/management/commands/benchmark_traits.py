"""Rubric-trait scoring benchmark (MCRMSE, per-trait RMSE / QWK / Pearson) on a trait CSV.

    python manage.py benchmark_traits --csv ../shared/datasets/grading/ell_traits_train.csv --folds 5 \
        --json bench-results/traits.json
    python manage.py benchmark_traits --train TRAIN.csv --test TEST.csv --json OUT.json

CSV columns: ``text_id,full_text,<trait>,<trait>,...`` (every column after ``full_text``
is a trait score). The protocol and metrics are documented in
``multimodal.research.traits_benchmark``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Benchmark analytic rubric-trait scoring: fit on --train and predict --test, or --csv with --folds."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--train", help="trait CSV to fit on")
        parser.add_argument("--test", help="trait CSV to predict and score")
        parser.add_argument("--csv", help="trait CSV for K-fold cross-validation (instead of --train/--test)")
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--limit", type=int, default=None, help="only the first N training texts (quick runs)")
        parser.add_argument("--no-baselines", action="store_true", help="skip the TF-IDF + ridge reference row")
        parser.add_argument("--json", dest="json_out", help="write the full result to this JSON file")

    def handle(self, *args, **opts) -> None:
        from multimodal.research.traits_benchmark import format_trait_report, run_traits_benchmark, write_json

        try:
            result = run_traits_benchmark(
                train=opts["train"],
                test=opts["test"],
                csv_path=opts["csv"],
                folds=opts["folds"],
                seed=opts["seed"],
                limit=opts["limit"],
                baselines=not opts["no_baselines"],
                log=self.stderr.write,
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_trait_report(result))
        if opts["json_out"]:
            write_json(result, opts["json_out"])
            self.stdout.write(f"wrote {opts['json_out']}")
