"""Train the key-point entailment classifier shipped in ``multimodal/models/``.

    python manage.py train_keypoint_model --csv ../shared/datasets/grading/semeval2013_train.csv

Reads a grading CSV with a ``label`` column (correct / contradictory / incorrect) and
reference answers (``all_reference_answers`` joined by ``|||``, else
``reference_answer``): SemEval-2013 Task 7's training answers. Chooses the
regularisation and the decision thresholds by question-grouped cross-validation
(``multimodal.research.keypoint_training``) and writes
``multimodal/models/keypoint_nli.joblib`` + ``keypoint_nli.json`` (version, training
data summary, CV metrics). Deterministic for a given CSV, seed and encoder.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Train the key-point (entailment) classifier from SemEval-style labelled answers and save it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--csv", required=True, help="grading CSV with label and reference answers")
        parser.add_argument("--out", default=None, help="artifact path (default: the shipped model path)")
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **opts) -> None:
        from multimodal.keypoints import DEFAULT_MODEL_PATH
        from multimodal.research.grading_benchmark import CachedEncoder
        from multimodal.research.keypoint_training import build_context, fit_keypoint_model, read_semeval_csv

        try:
            rows = read_semeval_csv(opts["csv"])
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        rows = [r for r in rows if r.label in ("correct", "contradictory", "incorrect") and r.references]
        if len(rows) < 100:
            raise CommandError(f"{opts['csv']}: {len(rows)} labelled answers with references; need at least 100")
        encoder = CachedEncoder()
        self.stderr.write(f"{len(rows)} labelled answers; encoding spans and words (cached)...")
        ctx = build_context(encoder, rows)
        model, meta = fit_keypoint_model(rows, ctx, folds=opts["folds"], seed=opts["seed"], log=self.stderr.write)
        meta.pop("_oof_judgements", None)
        meta["encoder"] = encoder.name.split(":")[0]
        meta["source_csv"] = Path(opts["csv"]).name
        path = model.save(opts["out"] or DEFAULT_MODEL_PATH)
        self.stdout.write(f"wrote {path} ({model.version}); CV: {meta['cv_threshold_report']}")
