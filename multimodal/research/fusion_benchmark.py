"""Fusion-model benchmark: attention vs concatenation vs weighted fusion on graded answers.

The issue asks to "compare attention fusion against concatenation and weighted
fusion in the evaluation and keep what measures best". This module does that on a
grading CSV (the format of ``multimodal.research.grading_benchmark``) with the same folds
as ``benchmark_grading``, and puts the product's grader and two anchors next to
the fusion models, so "best" means best among things that could ship:

* Tokens per answer (one per modality, ``mask[i, m]`` True = present):
  ``answer``, ``reference`` and ``question`` are MiniLM embeddings (384-d);
  ``features`` holds four question-independent numbers: cosine answer-reference,
  cosine answer-question, log length ratio answer/reference (words) and
  content-word F1 with the reference (the grader's ``_overlap``). A row without a
  reference has the reference token masked and its reference-derived features
  imputed with the training fold's mean. Target: score normalised to [0, 1].
* Rows: each kind in ``fusion.FUSION_KINDS`` (``training.fit_fusion``: calibrated
  ensemble, early stopping), ``ridge`` (scikit-learn Ridge on the standardised
  concatenation of all tokens plus the presence mask, alpha chosen by inner CV on
  the training fold), ``grader`` (``multimodal.grader.Grader``, the product's
  learned grader: hand-made features + kNN over graded answers of the same
  question, regressors chosen by its own inner CV) and ``constant`` (training
  mean). ``compare_fusions`` / ``cross_validate`` are not called because they
  split with plain KFold and offer no test-time hook; ``fit_fusion`` is called on
  exactly the folds used for every other row instead.
* Splits (``grading_benchmark._folds``, so the numbers line up with
  ``benchmark_grading``): ``across-question`` = GroupKFold by question (test
  questions never seen in training: the setting where a fusion model has to
  generalise); ``within-question`` = KFold inside every question (stratified by
  question: each test answer's question has graded answers in training).
* Missing-modality check: the models trained on each fold also grade the test
  fold with the reference missing for a random half of the test rows that have
  one. ``token_masked`` only sets ``mask`` False for the reference token (what the
  mask design is for; the reference-derived numbers in ``features`` stay, so it
  isolates the mechanism). ``reference_absent`` is what production sees when no
  reference exists: the token is masked *and* the reference-derived features are
  imputed (train mean); the grader gets the item without reference answers, ridge
  gets the training-mean reference. Models are trained on complete rows only (no
  modality dropout in ``fit_fusion``), so this measures graceful degradation, not
  a model trained for missing inputs.

Metrics per fold (pooled over the fold's test answers): Pearson r, RMSE, MAE and
quadratic weighted kappa on the score grid (step from the data: 0.5 on Mohler's
0-5 averages of two raters), plus training seconds; reported as mean +- std over
folds. The ``winner`` is the fusion kind with the highest across-question mean
QWK (Pearson r breaks ties); ``best_overall`` says which row of any kind measured
best, so a fusion model that loses to the grader is reported as losing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from multimodal import text_features as tf
from multimodal.grader import Grader, GradingItem, _overlap
from multimodal.research.fusion import FUSION_KINDS
from multimodal.research.grading_benchmark import (
    SPLITS,
    BenchRow,
    CachedEncoder,
    _folds,
    _machine,
    _metrics_block,
    infer_score_step,
    read_grading_csv,
    write_json,
)

__all__ = [
    "FEATURE_NAMES",
    "MODALITIES",
    "FusionInputs",
    "build_inputs",
    "format_report",
    "run_fusion_benchmark",
    "write_json",
]

MODALITIES = ("answer", "reference", "question", "features")
FEATURE_NAMES = ("cos_answer_reference", "cos_answer_question", "length_ratio_log", "token_f1_reference")
REFERENCE_FEATURES = (0, 2, 3)  # columns of FEATURE_NAMES that need a reference
QUESTION_FEATURES = (1,)
METRICS = ("pearson", "rmse", "mae", "qwk")
DROP_VARIANTS = ("token_masked", "reference_absent")
DEFAULT_MAX_EPOCHS = 40
DEFAULT_PATIENCE = 10
DEFAULT_MEMBERS = 3
RIDGE_ALPHAS = tuple(np.logspace(-1, 4, 11))


@dataclass
class FusionInputs:
    """Per-answer modality tokens and targets for one grading CSV.

    ``features`` holds NaN where a value cannot be computed (no reference / no
    question); each fold imputes them from its own training rows.
    """

    X: dict[str, np.ndarray]
    mask: np.ndarray  # (n, len(MODALITIES)), True = present
    y: np.ndarray  # scores in score units
    y_norm: np.ndarray  # (y - lo) / (hi - lo), in [0, 1]
    lo: np.ndarray
    hi: np.ndarray
    question_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def build_inputs(rows: Sequence[BenchRow], encoder: CachedEncoder) -> FusionInputs:
    """Embed answers, references and questions; compute the ``features`` token."""
    answers = [r.answer.strip() for r in rows]
    refs = [r.reference_answer.strip() for r in rows]
    questions = [r.question.strip() for r in rows]
    a = encoder.encode(answers).astype(np.float32)
    has_ref = np.array([bool(t) for t in refs])
    has_q = np.array([bool(t) for t in questions])
    ref = np.zeros_like(a)
    q = np.zeros_like(a)
    if has_ref.any():
        ref[has_ref] = encoder.encode([t for t in refs if t])
    if has_q.any():
        q[has_q] = encoder.encode([t for t in questions if t])
    feats = np.full((len(rows), len(FEATURE_NAMES)), np.nan, dtype=np.float64)
    for i in range(len(rows)):
        if has_ref[i]:
            a_words, r_words = tf.tokenize_words(answers[i]), tf.tokenize_words(refs[i])
            feats[i, 0] = float(a[i] @ ref[i])
            feats[i, 2] = math.log((len(a_words) + 1) / (len(r_words) + 1))
            feats[i, 3] = _overlap(tf.content_words(answers[i]), tf.content_words(refs[i]))[2]
        if has_q[i]:
            feats[i, 1] = float(a[i] @ q[i])
    y = np.array([r.score for r in rows], dtype=np.float64)
    lo = np.array([r.min_score for r in rows], dtype=np.float64)
    hi = np.array([r.max_score for r in rows], dtype=np.float64)
    mask = np.stack([np.ones(len(rows), bool), has_ref, has_q, np.ones(len(rows), bool)], axis=1)
    return FusionInputs(
        X={"answer": a, "reference": ref, "question": q, "features": feats},
        mask=mask,
        y=y,
        y_norm=np.clip((y - lo) / (hi - lo), 0.0, 1.0),
        lo=lo,
        hi=hi,
        question_ids=np.array([r.question_id for r in rows]),
    )


# ------------------------------------------------------------------------- per fold


def _feature_means(feats: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Training-fold column means over the rows where each feature is known (else 0)."""
    known = np.isfinite(feats[train])
    sums = np.where(known, feats[train], 0.0).sum(axis=0)
    counts = known.sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


def _drop_rows(inp: FusionInputs, test: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Test rows (a subset of ``test`` that has a reference) whose reference is dropped."""
    ref_col = MODALITIES.index("reference")
    candidates = test[inp.mask[test, ref_col]]
    rng = np.random.default_rng(seed)
    n_drop = round(fraction * len(candidates))
    return np.sort(rng.permutation(candidates)[:n_drop])


def _test_views(
    inp: FusionInputs, feats: np.ndarray, means: np.ndarray, test: np.ndarray, dropped: np.ndarray
) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """Token dicts and masks for the test rows: intact and the two drop variants.

    ``feats`` are the imputed features, ``means`` the training means used for that.
    """
    ref_col = MODALITIES.index("reference")
    base = {**{m: inp.X[m][test] for m in MODALITIES if m != "features"}, "features": feats[test]}
    mask = inp.mask[test]
    hit = np.isin(test, dropped)
    mask_drop = mask.copy()
    mask_drop[hit, ref_col] = False
    # reference-derived numbers become the same "unknown" as a row without reference
    absent_feats = feats[test].copy()
    for c in REFERENCE_FEATURES:
        absent_feats[hit, c] = means[c]
    absent = {**base, "features": absent_feats}
    return {"intact": (base, mask), "token_masked": (base, mask_drop), "reference_absent": (absent, mask_drop)}


def _ridge_matrix(X: Mapping[str, np.ndarray], mask: np.ndarray, fill: Mapping[str, np.ndarray]) -> np.ndarray:
    """Concatenated tokens (missing ones = training mean of that token) + presence mask."""
    cols = []
    for m, name in enumerate(MODALITIES):
        x = np.asarray(X[name], dtype=np.float64)
        cols.append(np.where(mask[:, m : m + 1], x, fill[name]))
    cols.append(mask.astype(np.float64))
    return np.hstack(cols)


def _fit_ridge(Xtr: np.ndarray, ytr: np.ndarray, groups: np.ndarray, split: str, seed: int) -> Any:
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # inner folds mimic the outer split: whole questions held out for across-question
    n_groups = len(np.unique(groups))
    across = split == "across-question" and n_groups >= 2
    cv: Any = (
        GroupKFold(n_splits=min(3, n_groups))
        if across
        else KFold(n_splits=min(3, len(ytr)), shuffle=True, random_state=seed)
    )
    search = GridSearchCV(
        make_pipeline(StandardScaler(), Ridge()),
        {"ridge__alpha": list(RIDGE_ALPHAS)},
        cv=cv,
        scoring="neg_mean_squared_error",
    )
    search.fit(Xtr, ytr, **({"groups": groups} if across else {}))
    return search


def _without_reference(item: GradingItem) -> GradingItem:
    return GradingItem(
        answer=item.answer,
        question=item.question,
        reference_answers=[],
        key_points=item.key_points,
        min_score=item.min_score,
        max_score=item.max_score,
        question_id=item.question_id,
    )


def _grader_scores(grader: Grader, items: Sequence[GradingItem]) -> np.ndarray:
    # a hard-flagged answer's suggestion is the minimum; None would mean "no score"
    return np.array(
        [g.score if g.score is not None else it.min_score for g, it in zip(grader.predict(items), items, strict=True)],
        dtype=float,
    )


def _run_split(
    inp: FusionInputs,
    items: Sequence[GradingItem],
    rows: Sequence[BenchRow],
    split: str,
    *,
    folds: int,
    seed: int,
    step: float,
    kinds: Sequence[str],
    fit_kwargs: Mapping[str, Any],
    drop_fraction: float,
    with_grader: bool,
    encoder: CachedEncoder,
    log: Callable[[str], None],
) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from multimodal.research.training import fit_fusion, spec_for

    n = len(inp)
    spec = spec_for({m: inp.X[m] for m in MODALITIES})
    methods = [*kinds, "ridge", *(["grader"] if with_grader else []), "constant"]
    per_fold: dict[str, dict[str, list[dict[str, float]]]] = {
        m: {v: [] for v in ("intact", *DROP_VARIANTS)} for m in methods
    }
    span = inp.hi - inp.lo
    step_norm = step / float(np.median(span))

    def score(test: np.ndarray, p_norm: np.ndarray) -> dict[str, float]:
        pred = inp.lo[test] + span[test] * np.clip(p_norm, 0.0, 1.0)
        block = _metrics_block(inp.y[test], pred, inp.lo[test], inp.hi[test], step)
        return {k: float(block[k]) for k in METRICS}

    for f, test in enumerate(_folds(rows, split, folds, seed)):
        train = np.setdiff1d(np.arange(n), test)
        raw = inp.X["features"]
        means = _feature_means(raw, train)
        feats = np.where(np.isfinite(raw), raw, means).astype(np.float32)
        dropped = _drop_rows(inp, test, drop_fraction, seed * 1000 + f)
        views = _test_views(inp, feats, means, test, dropped)
        X_train = {**{m: inp.X[m][train] for m in MODALITIES if m != "features"}, "features": feats[train]}
        mask_train = inp.mask[train]
        log(
            f"  [{split}] fold {f + 1}: n_train={len(train)} n_test={len(test)} "
            f"reference dropped in {len(dropped)} test rows"
        )
        for kind in kinds:
            t0 = time.perf_counter()
            model = fit_fusion(
                X_train,
                mask_train,
                inp.y_norm[train],
                kind=kind,
                spec=spec,
                score_range=(0.0, 1.0),
                score_step=step_norm,
                seed=seed + f,
                **fit_kwargs,
            )
            fit_s = time.perf_counter() - t0
            epochs = [h["best_epoch"] for h in model.metrics["members"]]
            for variant, (Xv, mv) in views.items():
                row = score(test, model.predict(Xv, mv).score)
                row["train_seconds"] = fit_s
                per_fold[kind][variant].append(row)
            r = per_fold[kind]["intact"][-1]
            log(
                f"    {kind:<10} r={r['pearson']:.3f} rmse={r['rmse']:.3f} qwk={r['qwk']:.3f} "
                f"fit {fit_s:.1f}s best epochs {epochs}"
            )

        # ridge on the concatenation (the linear reference point)
        t0 = time.perf_counter()
        fill = {
            m: (
                inp.X[m][train][mask_train[:, j]].mean(axis=0)
                if mask_train[:, j].any()
                else np.zeros(inp.X[m].shape[1])
            )
            for j, m in enumerate(MODALITIES)
            if m != "features"
        }
        fill["features"] = feats[train].mean(axis=0)
        with threadpool_limits(limits=1):
            ridge = _fit_ridge(
                _ridge_matrix(X_train, mask_train, fill), inp.y_norm[train], inp.question_ids[train], split, seed + f
            )
            fit_s = time.perf_counter() - t0
            for variant, (Xv, mv) in views.items():
                row = score(test, ridge.predict(_ridge_matrix(Xv, mv, fill)))
                row["train_seconds"] = fit_s
                per_fold["ridge"][variant].append(row)
        r = per_fold["ridge"]["intact"][-1]
        log(
            f"    {'ridge':<10} r={r['pearson']:.3f} rmse={r['rmse']:.3f} qwk={r['qwk']:.3f} "
            f"fit {fit_s:.1f}s alpha {ridge.best_params_['ridge__alpha']:.3g}"
        )

        if with_grader:
            t0 = time.perf_counter()
            grader = Grader(encoder, seed=seed, score_step=step)
            grader.fit([items[i] for i in train], inp.y[train])
            fit_s = time.perf_counter() - t0
            intact = _grader_scores(grader, [items[i] for i in test])
            drop_set = set(dropped.tolist())
            absent_items = [_without_reference(items[i]) if i in drop_set else items[i] for i in test]
            absent = _grader_scores(grader, absent_items)
            for variant, pred in (("intact", intact), ("reference_absent", absent)):
                row = score(test, (pred - inp.lo[test]) / span[test])
                row["train_seconds"] = fit_s
                per_fold["grader"][variant].append(row)
            r = per_fold["grader"]["intact"][-1]
            log(f"    {'grader':<10} r={r['pearson']:.3f} rmse={r['rmse']:.3f} qwk={r['qwk']:.3f} fit {fit_s:.1f}s")

        const = np.full(len(test), float(inp.y_norm[train].mean()))
        for variant in ("intact", *DROP_VARIANTS):
            per_fold["constant"][variant].append({**score(test, const), "train_seconds": 0.0})

    table: dict[str, Any] = {}
    missing: dict[str, Any] = {}
    for m in methods:
        table[m] = {**_mean_std(per_fold[m]["intact"]), "folds": per_fold[m]["intact"]}
        missing[m] = {}
        for variant in DROP_VARIANTS:
            runs = per_fold[m][variant]
            if not runs:
                missing[m][variant] = None  # not applicable (the grader has no tokens)
                continue
            deltas = [
                {k: run[k] - base[k] for k in METRICS} for run, base in zip(runs, per_fold[m]["intact"], strict=True)
            ]
            missing[m][variant] = {
                **_mean_std(runs, keys=METRICS),
                **{f"delta_{k}": v for k, v in _mean_std(deltas, keys=METRICS).items()},
            }
    return {"table": table, "missing_reference": missing}


def _mean_std(
    runs: Sequence[Mapping[str, float]], keys: Sequence[str] = (*METRICS, "train_seconds")
) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in keys:
        vals = np.array([r[k] for r in runs], dtype=float)
        out[f"{k}_mean"] = float(vals.mean())
        out[f"{k}_std"] = float(vals.std())
    return out


# ----------------------------------------------------------------------------- entry


def _rank_key(row: Mapping[str, float]) -> tuple[float, float]:
    return (row["qwk_mean"], row["pearson_mean"])


def run_fusion_benchmark(
    csv_path: str,
    *,
    folds: int = 5,
    seed: int = 0,
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    patience: int = DEFAULT_PATIENCE,
    members: int = DEFAULT_MEMBERS,
    kinds: Sequence[str] = tuple(FUSION_KINDS),
    splits: Sequence[str] = ("across-question", "within-question"),
    drop_fraction: float = 0.5,
    with_grader: bool = True,
    limit_questions: int | None = None,
    encoder: Any = None,
    cache_dir: str | None = None,
    torch_threads: int | None = 1,
    device: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the benchmark (see module doc) and return the JSON-ready result.

    ``encoder`` is anything with ``encode(texts, progress=False)`` returning unit
    vectors and an ``info.name`` (default: the shipped MiniLM); embeddings are cached
    on disk by ``CachedEncoder``. ``torch_threads`` (default 1) because on small
    shared CPUs more threads make these tiny models slower, not faster.
    """
    import torch

    unknown = [k for k in kinds if k not in FUSION_KINDS]
    if unknown:
        raise ValueError(f"unknown fusion kinds {unknown}; choose from {sorted(FUSION_KINDS)}")
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise ValueError(f"splits must be a non-empty subset of {SPLITS}")
    if folds < 2:
        raise ValueError("folds must be >= 2")
    if not 0.0 <= drop_fraction <= 1.0:
        raise ValueError("drop_fraction must be in [0, 1]")
    if torch_threads:
        torch.set_num_threads(torch_threads)
    started = time.perf_counter()
    rows = read_grading_csv(csv_path)
    if limit_questions:
        keep = set(list(dict.fromkeys(r.question_id for r in rows))[:limit_questions])
        rows = [r for r in rows if r.question_id in keep]
    n_q = len({r.question_id for r in rows})
    if "across-question" in splits and n_q < 2:
        raise ValueError("the across-question split needs at least 2 questions")
    step = infer_score_step([r.score for r in rows])
    enc = CachedEncoder(encoder, cache_dir)
    t0 = time.perf_counter()
    inp = build_inputs(rows, enc)
    items = [r.item() for r in rows]
    if with_grader:  # warm the cache with everything the grader embeds
        enc.encode(Grader.texts_to_encode(items))
    embed_s = time.perf_counter() - t0
    log(
        f"{csv_path}: {len(rows)} answers, {n_q} questions, score step {step:g}; "
        f"embeddings {embed_s:.1f}s ({enc.encoded} encoded now, rest from {enc.cache_dir})"
    )

    fit_kwargs: dict[str, Any] = {
        "max_epochs": max_epochs,
        "patience": patience,
        "n_members": members,
        "device": device,
    }
    results: dict[str, Any] = {}
    for sp in splits:
        log(f"{sp}: {folds}-fold cross-validation")
        results[sp] = _run_split(
            inp,
            items,
            rows,
            sp,
            folds=folds,
            seed=seed,
            step=step,
            kinds=kinds,
            fit_kwargs=fit_kwargs,
            drop_fraction=drop_fraction,
            with_grader=with_grader,
            encoder=enc,
            log=log,
        )

    primary = results[splits[0]]["table"]
    winner = max(kinds, key=lambda k: _rank_key(primary[k]))
    best_overall = max((m for m in primary if m != "constant"), key=lambda m: _rank_key(primary[m]))
    return {
        "split": {sp: res["table"] for sp, res in results.items()},
        "missing_reference": {sp: res["missing_reference"] for sp, res in results.items()},
        "winner": winner,
        "winner_rule": f"fusion kind with the highest mean QWK on the {splits[0]} split (Pearson r breaks ties)",
        "best_overall": best_overall,
        "fusion_beats_grader": (
            None if "grader" not in primary else _rank_key(primary[winner]) > _rank_key(primary["grader"])
        ),
        "csv": str(csv_path),
        "n": len(rows),
        "n_questions": n_q,
        "score_step": step,
        "folds": folds,
        "seed": seed,
        "config": {
            "kinds": list(kinds),
            "splits": list(splits),
            "max_epochs": max_epochs,
            "patience": patience,
            "members": members,
            "drop_fraction": drop_fraction,
            "modalities": list(MODALITIES),
            "features": list(FEATURE_NAMES),
            "ridge_alphas": [float(a) for a in RIDGE_ALPHAS],
            "with_grader": with_grader,
            "encoder": enc.name,
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "runtime_seconds": round(time.perf_counter() - started, 1),
        "embedding_seconds": round(embed_s, 2),
    }


def _pm(row: Mapping[str, Any] | None, key: str, nd: int = 3) -> str:
    if not row or f"{key}_mean" not in row:
        return "n/a"
    return f"{row[f'{key}_mean']:.{nd}f}±{row[f'{key}_std']:.{nd}f}"


def _delta(row: Mapping[str, Any] | None, key: str) -> str:
    if not row:
        return "n/a"
    return f"{row[f'delta_{key}_mean']:+.3f}"


def format_report(result: Mapping[str, Any]) -> str:
    """Human-readable tables (one per split, then the missing-reference check)."""
    cfg = result["config"]
    lines = [
        (
            f"fusion benchmark  {result['csv']}  n={result['n']} questions={result['n_questions']} "
            f"folds={result['folds']} seed={result['seed']} step={result['score_step']:g}  "
            f"max_epochs={cfg['max_epochs']} patience={cfg['patience']} members={cfg['members']}"
        ),
        f"date {result['date']}  machine {result['machine']}",
    ]
    for sp, table in result["split"].items():
        lines += [
            "",
            f"[{sp}] mean±std over folds",
            f"  {'kind':<10} {'Pearson r':>13} {'RMSE':>13} {'QWK':>13} {'train s':>13}",
        ]
        for m, row in table.items():
            lines.append(
                f"  {m:<10} {_pm(row, 'pearson'):>13} {_pm(row, 'rmse'):>13} "
                f"{_pm(row, 'qwk'):>13} {_pm(row, 'train_seconds', 1):>13}"
            )
    head = "  ".join(f"{h:>7}" for h in ("Δr", "ΔRMSE", "ΔQWK"))
    for sp, block in result["missing_reference"].items():
        table = result["split"][sp]
        lines += [
            "",
            (
                f"[{sp}] reference missing for {cfg['drop_fraction']:.0%} of the test rows "
                "(Δ = with drop - intact, mean over folds)"
            ),
            f"  {'':<10} {'intact':>15} | {'token masked':^25} | {'reference absent':^25}",
            f"  {'kind':<10} {'r':>7} {'QWK':>7} | {head} | {head}",
        ]
        for m, variants in block.items():
            if m == "constant":
                continue
            cells = []
            for variant in DROP_VARIANTS:
                v = variants.get(variant)
                cells.append("  ".join(f"{_delta(v, k):>7}" for k in ("pearson", "rmse", "qwk")))
            lines.append(
                f"  {m:<10} {table[m]['pearson_mean']:>7.3f} {table[m]['qwk_mean']:>7.3f} | {cells[0]} | {cells[1]}"
            )
    verdict = ""
    if result["fusion_beats_grader"] is not None:
        verdict = f"  (fusion winner {'beats' if result['fusion_beats_grader'] else 'loses to'} the product grader)"
    lines += [
        "",
        f"winner (fusion): {result['winner']}  [{result['winner_rule']}]",
        f"best overall: {result['best_overall']}{verdict}",
        f"runtime {result['runtime_seconds']}s (embeddings {result['embedding_seconds']}s)",
    ]
    return "\n".join(lines)
