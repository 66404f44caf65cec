"""Benchmark knowledge tracing models on DKVMN-format train/test files.

    python manage.py benchmark_kt --train ../shared/datasets/kt/STATICS_train.csv \\
        --test ../shared/datasets/kt/STATICS_test.csv --model bkt,bkt_forget,dkt --json out.json

Deep models tune (early stopping) on a validation split carved from the train file
only; the test file is used once, for the reported numbers.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Train and evaluate knowledge tracing models (next-response AUC) on DKVMN-format files."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--train", required=True, help="DKVMN-format training file")
        parser.add_argument("--test", required=True, help="DKVMN-format test file")
        parser.add_argument(
            "--model",
            default="bkt,bkt_forget,dkt",
            help="comma-separated models: bkt, bkt_forget, dkt, akt_lite "
            "(with two deep models an averaged ensemble is reported too)",
        )
        parser.add_argument("--json", dest="json_out", help="write results to this JSON file")
        parser.add_argument("--max-epochs", type=int, default=None, help="cap on deep-model epochs")
        parser.add_argument(
            "--time-budget",
            type=float,
            default=None,
            help="wall-clock cap in seconds on each deep model's training",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--device", default=None, help="torch device (default: CUDA if available)")
        parser.add_argument(
            "--save-dir",
            default=None,
            help="save each trained model (an artifact folder with its metrics) into this folder",
        )

    def handle(self, *args, **opts) -> None:
        from multimodal import knowledge_tracing as kt
        from multimodal.knowledge_tracing.deep import DeepKTModel, machine_summary
        from multimodal.knowledge_tracing.factory import MODEL_NAMES, make_model

        names = [n.strip() for n in opts["model"].split(",") if n.strip()]
        unknown = sorted(set(names) - set(MODEL_NAMES))
        if unknown:
            raise CommandError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_NAMES)}")
        try:
            train = kt.load_dkvmn(opts["train"])
            test = kt.load_dkvmn(opts["test"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if not train or not test:
            raise CommandError("train and test files must each hold at least one student")

        results: dict[str, dict] = {}
        deep: dict[str, object] = {}
        save_dir = Path(opts["save_dir"]) if opts["save_dir"] else None
        if save_dir:
            save_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            model = make_model(
                name,
                max_epochs=opts["max_epochs"],
                time_budget_s=opts["time_budget"],
                seed=opts["seed"],
                device=opts["device"],
            )
            self.stderr.write(f"training {name} ...")
            t0 = time.perf_counter()
            model.fit(train)
            results[name] = row = self._score(kt, model, test, time.perf_counter() - t0)
            if isinstance(model, DeepKTModel):
                deep[name] = model
                row["val_auc"] = model.train_summary["best_val_auc"]
                row["epochs"] = model.train_summary["epochs"]
                row["refit_epochs"] = model.train_summary["refit_epochs"]
                row["config"] = asdict(model.config)
            model.metrics = {
                "test_auc": row["auc"],
                "test_acc": row["acc"],
                "test_n": row["n"],
                "test_file": str(opts["test"]),
            }
            if save_dir:
                model.save(save_dir / name)  # an artifact folder: model file + metadata.json
        if len(deep) > 1:
            # Plain average of the deep models: no weights tuned, so no test leakage.
            ens = kt.EnsembleModel(list(deep.values()))
            train_s = sum(results[n]["train_s"] for n in deep)
            results[ens.name] = self._score(kt, ens, test, train_s)

        width = max(12, *(len(n) for n in results))
        self.stdout.write(f"{'model':<{width}} {'AUC':>7} {'ACC':>7} {'train s':>9} {'pred/s':>12}")
        for name, r in results.items():
            self.stdout.write(
                f"{name:<{width}} {r['auc']:7.4f} {r['acc']:7.4f} {r['train_s']:9.1f} {r['pred_per_s']:12.0f}"
            )

        if opts["json_out"]:
            report = {
                "models": results,
                "train": str(opts["train"]),
                "test": str(opts["test"]),
                "train_summary": kt.data_summary(train),
                "test_summary": kt.data_summary(test),
                "protocol": "every test response predicted from the same student's preceding responses",
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": machine_summary(),
            }
            Path(opts["json_out"]).write_text(json.dumps(report, indent=2))
            self.stdout.write(f"wrote {opts['json_out']}")

    @staticmethod
    def _score(kt, model, test, train_s: float) -> dict:
        ev = kt.evaluate(model, test)
        return {
            "auc": ev["auc"],
            "acc": ev["acc"],
            "n": ev["n"],
            "train_s": round(train_s, 2),
            "pred_per_s": round(ev["pred_per_s"], 1),
            "version": model.version,
        }
