"""Accuracy and speed of the grading model on a grading CSV: cross-validation or train -> test.

    python manage.py benchmark_grading --csv ../shared/datasets/grading/mohler_short_answers.csv \
        --split both --json bench-results/grading.json
    python manage.py benchmark_grading --train TRAIN.csv --test TEST.csv --json OUT.json

CSV columns: ``question_id,question,reference_answer,answer,score,min_score,max_score``
(``reference_answer`` may be empty: essay-style, learned from graded examples only),
optionally ``label`` (3-way class, SemEval: also reported as classification, per
``split`` column value) and ``all_reference_answers`` (every reference, "|||"-joined).
The protocol and metrics are documented in ``multimodal.research.grading_benchmark``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Benchmark automated grading (QWK, Pearson r, RMSE, auto-release share, 3-way labels, answer groups): "
        "--csv with --folds (cross-validation) or --train with --test."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--csv", help="grading CSV for cross-validation (see module docstring)")
        parser.add_argument("--train", help="grading CSV to fit on (with --test)")
        parser.add_argument("--test", help="grading CSV to grade and score (with --train)")
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
        parser.add_argument("--no-groups", action="store_true", help="skip the answer-group report")
        parser.add_argument("--quiet", action="store_true", help="omit the per-question table")

    def handle(self, *args, **opts) -> None:
        from multimodal.research.grading_benchmark import format_report, run_benchmark, run_train_test, write_json

        train_test = opts["train"] or opts["test"]
        if train_test and not (opts["train"] and opts["test"]):
            raise CommandError("--train and --test go together")
        if bool(train_test) == bool(opts["csv"]):
            raise CommandError("give either --csv (cross-validation) or --train and --test")
        try:
            if train_test:
                result = run_train_test(
                    opts["train"],
                    opts["test"],
                    seed=opts["seed"],
                    model=opts["model"],
                    groups=not opts["no_groups"],
                    log=self.stderr.write,
                )
            else:
                result = run_benchmark(
                    opts["csv"],
                    folds=opts["folds"],
                    seed=opts["seed"],
                    split=opts["split"],
                    limit_questions=opts["limit_questions"],
                    model=opts["model"],
                    groups=not opts["no_groups"],
                    log=self.stderr.write,
                )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_report(result, per_question=not opts["quiet"]))
        if opts["json_out"]:
            write_json(result, opts["json_out"])
            self.stdout.write(f"wrote {opts['json_out']}")
