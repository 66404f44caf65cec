"""Cross-validated accuracy and speed of the grading model on a grading CSV.

    python manage.py benchmark_grading --csv ../shared/datasets/grading/mohler_short_answers.csv \
        --split both --json bench-results/grading.json

CSV columns: ``question_id,question,reference_answer,answer,score,min_score,max_score``
(``reference_answer`` may be empty: essay-style, learned from graded examples only).
The protocol and metrics are documented in ``multimodal.research.grading_benchmark``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Benchmark automated grading (QWK, Pearson r, RMSE, zero-shot r, answers/s) by cross-validation."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--csv", required=True, help="grading CSV (see module docstring)")
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--split", choices=["within-question", "across-question", "both"], default="both")
        parser.add_argument("--json", dest="json_out", help="write the full result to this JSON file")
        parser.add_argument(
            "--limit-questions", type=int, default=None, help="only the first N questions of the file (quick runs)"
        )
        parser.add_argument(
            "--model", default="auto", help="regressor: auto (inner cross-validation) or ridge|svr|hgb|knn|extra_trees"
        )
        parser.add_argument("--quiet", action="store_true", help="omit the per-question table")

    def handle(self, *args, **opts) -> None:
        from multimodal.research.grading_benchmark import (
            format_report,
            run_benchmark,
            write_json,
        )

        try:
            result = run_benchmark(
                opts["csv"],
                folds=opts["folds"],
                seed=opts["seed"],
                split=opts["split"],
                limit_questions=opts["limit_questions"],
                model=opts["model"],
                log=self.stderr.write,
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_report(result, per_question=not opts["quiet"]))
        if opts["json_out"]:
            write_json(result, opts["json_out"])
            self.stdout.write(f"wrote {opts['json_out']}")
