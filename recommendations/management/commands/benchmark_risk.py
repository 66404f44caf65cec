"""Benchmark the product's at-risk model on imported OULAD course runs.

    python manage.py import_oulad ../shared/datasets/oulad_dev
    python manage.py benchmark_risk --cutoff-day 60 --json var/bench/risk.json

Trains the same estimator the periodic task trains (``risk.services.risk_model_fit``:
``multimodal.risk`` on the features ``risk.features.RISK_FEATURES`` computed from the
product's database - events, submissions, enrolments - as known by the end of the cut-off day) on earlier
presentations and evaluates on later ones. Default split: train on 2013B, 2013J,
2014B; test on 2014J (all four modules AAA-DDD appear in the test set).

Label: at risk = final result Fail or Withdrawn (from the course-level outcome
statements the import writes). Headline population: students still enrolled at
the cut-off (registered and not unregistered by then) - the ones a teacher can still
help. "All students" adds those already withdrawn by the cut-off, whom the product
marks at risk with probability 1 (they are gone; no model needed).

The acceptance guardrail (Moodle: AUC >= 0.7 with std-dev <= 0.05 over 10 random
splits) runs on the training presentations only; the test presentation is used once.
"""

from __future__ import annotations

import json
import platform
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from eduplatform.core.api import Course, settings
from multimodal.metrics import average_precision, precision_binary, recall_binary, roc_auc
from recommendations.risk import selectors, services
from recommendations.xapi import LABEL_RULE

CODE = re.compile(r"^(?P<module>[A-Z]+)-(?P<presentation>\d{4}[BJ])$")


def _metrics(y: np.ndarray, p: np.ndarray, threshold: float, min_conf: float) -> dict:
    y = np.asarray(y, dtype=int)
    pred = p >= threshold
    shown = np.maximum(p, 1 - p) >= min_conf
    out = {
        "n": len(y),
        "positives": int(y.sum()),
        "positive_rate": round(float(y.mean()), 4),
        "auc": round(roc_auc(y, p), 4),
        "average_precision": round(average_precision(y, p), 4),
        "precision": round(precision_binary(y, pred), 4),
        "recall": round(recall_binary(y, pred), 4),
        "flagged": int(pred.sum()),
        "shown_share": round(float(shown.mean()), 4),
    }
    if shown.any() and len(np.unique(y[shown])) == 2:
        out["auc_shown"] = round(roc_auc(y[shown], p[shown]), 4)
        out["precision_shown"] = round(precision_binary(y[shown], pred[shown]), 4)
        out["recall_shown_of_all_positives"] = round(float((pred & shown & (y == 1)).sum() / max(1, y.sum())), 4)
    return out


class Command(BaseCommand):
    help = "Train the at-risk model on earlier OULAD presentations, evaluate on later ones (AUC, AP, P/R)."

    def add_arguments(self, parser):
        parser.add_argument("--cutoff-day", type=int, default=60)
        parser.add_argument("--train", default="2013B,2013J,2014B", help="presentations to train on")
        parser.add_argument("--test", default="2014J", help="presentations to evaluate on")
        parser.add_argument("--json", dest="json_out", type=Path, default=None)
        parser.add_argument(
            "--save", action="store_true", help="also store the trained model as a RiskModel the product will use"
        )

    def handle(self, *args, cutoff_day: int, train: str, test: str, json_out: Path | None, save: bool, **opts):
        t0 = time.perf_counter()
        train_p, test_p = set(train.split(",")), set(test.split(","))
        if train_p & test_p:
            raise CommandError("train and test presentations overlap")
        split: dict[str, list[str]] = {"train": [], "test": []}
        ids: dict[str, list[int]] = {"train": [], "test": []}
        for course in Course.objects.order_by("code"):
            m = CODE.match(course.code)
            if not m:
                continue
            part = "train" if m["presentation"] in train_p else "test" if m["presentation"] in test_p else None
            if part:
                split[part].append(course.code)
                ids[part].append(course.pk)
        if not ids["train"] or not ids["test"]:
            raise CommandError("No OULAD courses for the split; run `manage.py import_oulad DIR` first.")

        rows_train = selectors.risk_dataset(course_ids=ids["train"], cutoff_day=cutoff_day)
        rows_test = selectors.risk_dataset(course_ids=ids["test"], cutoff_day=cutoff_day)
        t_features = time.perf_counter() - t0
        model, guard, summary = services.risk_model_fit(rows=rows_train, cutoff_day=cutoff_day)
        threshold = float(settings.RISK_ALERT_THRESHOLD)
        min_conf = float(settings.RISK_CONFIDENCE_THRESHOLD)

        enrolled = [r for r in rows_test if r.enrolled_at_cutoff]
        X, y = services.risk_training_arrays(enrolled)
        p = model.predict_proba(X)
        headline = _metrics(y, p, threshold, min_conf)
        # All students: those withdrawn by the cut-off are known to be at risk (p = 1).
        Xa, ya = services.risk_training_arrays(rows_test)
        withdrawn = np.array([not r.enrolled_at_cutoff for r in rows_test])
        pa = np.where(withdrawn, 1.0, model.predict_proba(Xa))
        everyone = _metrics(ya, pa, threshold, min_conf)
        # Withdrawal only (cheap): the same features, a model trained on the withdrawal label.
        tr = [r for r in rows_train if r.enrolled_at_cutoff]
        Xw, _ = services.risk_training_arrays(tr)
        wmodel = services.risk_estimator_fit(Xw, np.array([r.withdrew for r in tr]))
        yw = np.array([r.withdrew for r in enrolled])
        withdrawal = {
            "same_model": round(float(_auc(yw, p)), 4),
            **_metrics(yw, wmodel.predict_proba(X), threshold, min_conf),
        }
        per_module = {}
        for code in split["test"]:
            cid = Course.objects.get(code=code).pk
            mask = np.array([r.course_id == cid for r in enrolled])
            if mask.any() and len(np.unique(y[mask])) == 2:
                per_module[code] = {"n": int(mask.sum()), "auc": round(float(_auc(y[mask], p[mask])), 4)}
        dev = _temporal_check(rows_train, split["train"], ids["train"])
        coef = sorted(zip(model.feature_names, model.coef, strict=True), key=lambda t: -abs(t[1]))[:8]

        result = {
            "auc": headline["auc"],
            "auc_all": everyone["auc"],
            "average_precision": headline["average_precision"],
            "precision": headline["precision"],
            "recall": headline["recall"],
            "guardrail": {k: v for k, v in guard.to_dict().items()},
            "split": {
                "train": split["train"],
                "test": split["test"],
                "rule": f"train on presentations {sorted(train_p)}, test on {sorted(test_p)}",
            },
            "cutoff_day": cutoff_day,
            "label": LABEL_RULE + "; OULAD Fail/Withdrawn vs Pass/Distinction",
            "alert_threshold": threshold,
            "confidence_threshold": min_conf,
            "still_enrolled": headline,
            "all_students": everyone,
            "withdrawal_only": withdrawal,
            "per_test_course": per_module,
            "dev_temporal": dev,
            "training": summary | {"courses": split["train"]},
            "features": list(model.feature_names),
            "top_coefficients": {n: round(c, 3) for n, c in coef},
            "runtime_s": {"features": round(t_features, 1), "total": round(time.perf_counter() - t0, 1)},
            "machine": f"{platform.machine()} {platform.system()}, python {platform.python_version()}",
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        }
        if save:
            row = services.risk_model_train(cutoff_day=cutoff_day, course_ids=ids["train"])
            result["saved_model"] = row.version if row else None

        self._print(result)
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result, indent=2, default=str))
            self.stdout.write(f"wrote {json_out}")

    def _print(self, r: dict) -> None:
        w = self.stdout.write
        w(f"at-risk benchmark, cut-off day {r['cutoff_day']}: {r['split']['rule']}")
        w(f"label: {r['label']}")
        w(
            f"training: {r['training']['students']} students enrolled at the cut-off, "
            f"{r['training']['at_risk_share']:.1%} at risk"
        )
        g = r["guardrail"]
        w(
            f"guardrail (10 splits of the training data): AUC {g['mean']:.3f} +- {g['std']:.3f} -> "
            f"{'ACCEPTED' if g['accepted'] else 'REJECTED'} ({g['reason']})"
        )
        w(f"{'population':<28}{'n':>7}{'pos%':>7}{'AUC':>7}{'AP':>7}{'P@t':>7}{'R@t':>7}{'shown':>7}")
        for name, m in (
            ("still enrolled (headline)", r["still_enrolled"]),
            ("all students", r["all_students"]),
            ("withdrawal only (enrolled)", r["withdrawal_only"]),
        ):
            w(
                f"{name:<28}{m['n']:>7}{m['positive_rate']:>7.1%}{m['auc']:>7.3f}{m['average_precision']:>7.3f}"
                f"{m['precision']:>7.3f}{m['recall']:>7.3f}{m['shown_share']:>7.1%}"
            )
        if r["dev_temporal"]:
            d = r["dev_temporal"]
            w(
                f"temporal check inside the training data: train {d['train']} -> {d['validate']}: AUC {d['auc']:.3f} "
                f"(n={d['n']}); random-split guardrail AUC {g['mean']:.3f}"
            )
        w(
            "per test course (still enrolled): "
            + ", ".join(f"{k} {v['auc']:.3f} (n={v['n']})" for k, v in r["per_test_course"].items())
        )
        w(f"runtime: {r['runtime_s']['total']} s (features {r['runtime_s']['features']} s)")


def _auc(y, p) -> float:
    """ROC AUC, NaN (not chance level) when the labels hold one class: a row to leave out."""
    return roc_auc(y, p) if len(np.unique(y)) == 2 else float("nan")


def _temporal_check(rows, codes: list[str], course_ids: list[int]) -> dict | None:
    """Train on all but the latest training presentation and validate on that one: a
    check of how much the random-split guardrail flatters the model, using training
    data only (the test presentation stays untouched)."""
    pres = {cid: CODE.match(code)["presentation"] for cid, code in zip(course_ids, codes, strict=True)}
    latest = max(pres.values())
    val = [r for r in rows if r.enrolled_at_cutoff and pres[r.course_id] == latest]
    fit = [r for r in rows if r.enrolled_at_cutoff and pres[r.course_id] != latest]
    if not val or len({r.at_risk for r in fit}) < 2 or len({r.at_risk for r in val}) < 2:
        return None
    X, y = services.risk_training_arrays(fit)
    model = services.risk_estimator_fit(X, y)
    Xv, yv = services.risk_training_arrays(val)
    return {
        "train": sorted({p for c, p in pres.items() if p != latest}),
        "validate": latest,
        "n": len(val),
        "auc": round(float(_auc(yv, model.predict_proba(Xv))), 4),
    }
