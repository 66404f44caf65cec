"""Rubric-trait benchmark: RMSE / QWK / Pearson per trait and MCRMSE of ``multimodal.traits``.

Reads a trait CSV (``text_id,full_text,<trait>,<trait>,...``; every column after
``full_text`` is a trait score, e.g. ELLIPSE's cohesion, syntax, vocabulary,
phraseology, grammar, conventions) and either fits on ``--train`` and predicts
``--test``, or runs K-fold cross-validation on one file. Each trait's range is the
range of its training scores and its grid step is inferred (0.5 for ELLIPSE);
predictions are kept continuous for RMSE (the product rounds to the grid when a
``TraitSpec.step`` is set) and rounded to the grid for QWK.

It also reports the *holistic* score (the mean of the traits, as a 1-5 ELLIPSE
total would be) for the essay models' sake, confidence quality (RMSE of the more
and less confident halves, interval coverage, ``auto_release_share_at_rmse_0.5``)
and two reference rows computed on the same folds: the constant predictor (training
mean) and TF-IDF (word 1-2-grams) + ridge.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from multimodal import metrics as mm
from multimodal.chunking import embed_chunked
from multimodal.research.grading_benchmark import CachedEncoder, _machine, auto_release_share, infer_score_step
from multimodal.traits import TraitModel, TraitSpec, essay_feature_matrix

__all__ = ["format_trait_report", "read_trait_csv", "run_traits_benchmark"]


def read_trait_csv(path: str | os.PathLike[str]) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """(ids, texts, trait names, scores (n, traits) with NaN for blanks)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or len(header) < 3 or header[:2] != ["text_id", "full_text"]:
            raise ValueError(f"{path}: expected columns text_id,full_text,<trait>,...; got {header}")
        names = header[2:]
        ids, texts, rows = [], [], []
        for line, r in enumerate(reader, start=2):
            if len(r) != len(header):
                raise ValueError(f"{path}:{line}: {len(r)} fields, expected {len(header)}")
            ids.append(r[0])
            texts.append(r[1])
            try:
                rows.append([float(v) if v.strip() else math.nan for v in r[2:]])
            except ValueError as exc:
                raise ValueError(f"{path}:{line}: {exc}") from exc
    if not texts:
        raise ValueError(f"{path}: no rows")
    return ids, texts, names, np.asarray(rows, dtype=np.float64)


def _specs(names: Sequence[str], y: np.ndarray) -> list[TraitSpec]:
    out = []
    for j, n in enumerate(names):
        col = y[:, j][np.isfinite(y[:, j])]
        lo, hi = float(col.min()), float(col.max())
        if hi <= lo:
            hi = lo + 1.0
        out.append(TraitSpec(name=n, min_score=lo, max_score=hi, step=None))
    return out


def _tfidf_ridge(train_texts: Sequence[str], y_tr: np.ndarray, test_texts: Sequence[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50000)
    xtr = vec.fit_transform(train_texts)
    xte = vec.transform(test_texts)
    out = np.zeros((len(test_texts), y_tr.shape[1]))
    for j in range(y_tr.shape[1]):
        ok = np.isfinite(y_tr[:, j])
        out[:, j] = Ridge(alpha=3.0).fit(xtr[ok], y_tr[ok, j]).predict(xte)
    return out


def _fold_predict(
    texts: Sequence[str],
    x: np.ndarray,
    names: Sequence[str],
    y: np.ndarray,
    tr: np.ndarray,
    te: np.ndarray,
    seed: int,
    log: Callable[[str], None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    specs = _specs(names, y[tr])
    model = TraitModel(seed=seed)
    scores = [{n: y[i, j] for j, n in enumerate(names)} for i in tr]
    model.fit([texts[i] for i in tr], x[tr], [specs] * len(tr), scores, log=log)
    results = model.predict([texts[i] for i in te], x[te], [specs] * len(te))
    pred = np.full((len(te), len(names)), np.nan)
    conf = np.zeros_like(pred)
    lo = np.full_like(pred, np.nan)
    hi = np.full_like(pred, np.nan)
    for r, res in enumerate(results):
        for j, t in enumerate(res):
            if t.score is not None:
                pred[r, j] = t.score
                conf[r, j] = t.confidence
                lo[r, j], hi[r, j] = t.interval
    return pred, conf, lo, hi, model.summary()


def run_traits_benchmark(
    *,
    train: str | os.PathLike[str] | None = None,
    test: str | os.PathLike[str] | None = None,
    csv_path: str | os.PathLike[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    limit: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    encoder: Any = None,
    baselines: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit/predict (``train`` + ``test``) or K-fold CV (``csv_path``); see the module doc."""
    if (csv_path is None) == (train is None or test is None):
        raise ValueError("give either --csv (cross-validation) or both --train and --test")
    if csv_path is not None:
        ids, texts, names, y = read_trait_csv(csv_path)
        if limit:
            ids, texts, y = ids[:limit], texts[:limit], y[:limit]
        from sklearn.model_selection import KFold

        if folds < 2:
            raise ValueError("folds must be >= 2")
        splits = [
            (tr, te) for tr, te in KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.arange(len(texts)))
        ]
        source = {"csv": str(csv_path), "protocol": f"{folds}-fold cross-validation (seed {seed})"}
    else:
        _, tr_texts, names, y_tr = read_trait_csv(train)
        ids, te_texts, te_names, y_te = read_trait_csv(test)
        if te_names != names:
            raise ValueError(f"test traits {te_names} differ from training traits {names}")
        if limit:
            tr_texts, y_tr = tr_texts[:limit], y_tr[:limit]
        texts = list(tr_texts) + list(te_texts)
        y = np.vstack([y_tr, y_te])
        splits = [(np.arange(len(tr_texts)), np.arange(len(tr_texts), len(texts)))]
        source = {"train": str(train), "test": str(test), "protocol": "fit on train, predict test"}
    log(f"{len(texts)} texts, traits {names}")

    enc = CachedEncoder(encoder, cache_dir)
    t0 = time.perf_counter()
    emb = embed_chunked(enc, texts)
    spread = np.array([[float(np.linalg.norm(c.std(axis=0))), math.log(len(c))] for c in emb.chunks])
    encode_s = time.perf_counter() - t0
    log(f"embeddings: {enc.encoded} chunks encoded now in {enc.encode_seconds:.1f}s, {encode_s:.1f}s total")
    t0 = time.perf_counter()
    x = essay_feature_matrix(texts, emb.vectors, spread)
    feat_s = time.perf_counter() - t0

    n, t = y.shape
    pred = np.full((n, t), np.nan)
    conf = np.zeros((n, t))
    lo = np.full((n, t), np.nan)
    hi = np.full((n, t), np.nan)
    const = np.full((n, t), np.nan)
    tfidf = np.full((n, t), np.nan)
    tested = np.zeros(n, bool)
    fit_s = 0.0
    chosen = []
    for f, (tr, te) in enumerate(splits):
        t1 = time.perf_counter()
        p, c, lw, hg, summ = _fold_predict(texts, x, names, y, tr, te, seed, log)
        fit_s += time.perf_counter() - t1
        pred[te], conf[te], lo[te], hi[te] = p, c, lw, hg
        tested[te] = True
        const[te] = np.nanmean(y[tr], axis=0)
        if baselines:
            tfidf[te] = _tfidf_ridge([texts[i] for i in tr], y[tr], [texts[i] for i in te])
        chosen.append({"fold": f, **{k: v["model"] for k, v in summ.items()}})
        log(f"  fold {f + 1}/{len(splits)}: {time.perf_counter() - t1:.1f}s")

    idx = np.flatnonzero(tested)
    out_traits: dict[str, Any] = {}
    for j, name in enumerate(names):
        ok = idx[np.isfinite(y[idx, j]) & np.isfinite(pred[idx, j])]
        yt, yp = y[ok, j], pred[ok, j]
        step = infer_score_step(yt)
        lo_s, hi_s = float(np.nanmin(y[:, j])), float(np.nanmax(y[:, j]))
        out_traits[name] = {
            "n": len(ok),
            "rmse": mm.rmse(yt, yp),
            "mae": mm.mae(yt, yp),
            "qwk": mm.quadratic_weighted_kappa(yt, yp, min_score=lo_s, max_score=hi_s, step=step),
            "pearson": mm.pearson_r(yt, yp),
            "constant_rmse": mm.rmse(yt, const[ok, j]),
            "tfidf_ridge_rmse": mm.rmse(yt, tfidf[ok, j]) if baselines else None,
            "mean_confidence": float(np.mean(conf[ok, j])),
            "interval_coverage_90": float(np.mean((yt >= lo[ok, j] - 1e-9) & (yt <= hi[ok, j] + 1e-9))),
            "auto_release_share_at_rmse_0.5": auto_release_share(yt, yp, conf[ok, j], 0.5),
        }
    mcrmse = float(np.mean([v["rmse"] for v in out_traits.values()]))
    # holistic: the mean of the traits (ELLIPSE's total on its 1-5 scale)
    full = idx[np.all(np.isfinite(y[idx]), axis=1) & np.all(np.isfinite(pred[idx]), axis=1)]
    hol_y, hol_p = y[full].mean(axis=1), pred[full].mean(axis=1)
    hol_lo, hol_hi = float(np.min(hol_y)), float(np.max(hol_y))
    holistic = {
        "definition": "mean of the traits",
        "n": len(full),
        "rmse": mm.rmse(hol_y, hol_p),
        "pearson": mm.pearson_r(hol_y, hol_p),
        "qwk_half_points": mm.quadratic_weighted_kappa(
            np.round(hol_y * 2) / 2, hol_p, min_score=hol_lo, max_score=hol_hi, step=0.5
        ),
    }
    result = {
        **source,
        "n": int(len(idx)),
        "traits_names": list(names),
        "mcrmse": mcrmse,
        "traits": out_traits,
        "holistic": holistic,
        "baselines": {
            "constant_mcrmse": float(np.mean([v["constant_rmse"] for v in out_traits.values()])),
            "tfidf_ridge_mcrmse": float(np.mean([v["tfidf_ridge_rmse"] for v in out_traits.values()]))
            if baselines
            else None,
        },
        "auto_release_share_at_rmse_0.5": float(
            np.mean([v["auto_release_share_at_rmse_0.5"] for v in out_traits.values()])
        ),
        "models": chosen,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "encoder": enc.name,
        "timing": {
            "embedding_seconds": round(encode_s, 1),
            "chunks_encoded_now": enc.encoded,
            "feature_seconds": round(feat_s, 1),
            "fit_predict_seconds": round(fit_s, 1),
        },
    }
    return result


def _fmt(v: Any, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def format_trait_report(r: dict[str, Any]) -> str:
    lines = [
        f"trait benchmark  {r.get('csv') or r.get('train') + ' -> ' + r.get('test')}  n={r['n']}  {r['protocol']}",
        f"date {r['date']}  machine {r['machine']}",
        "",
        f"{'trait':<14}{'RMSE':>8}{'QWK':>8}{'r':>8}{'const':>8}{'tfidf':>8}{'conf':>7}{'cover':>7}{'auto@.5':>9}",
    ]
    for name, v in r["traits"].items():
        lines.append(
            f"{name:<14}{_fmt(v['rmse']):>8}{_fmt(v['qwk']):>8}{_fmt(v['pearson']):>8}{_fmt(v['constant_rmse']):>8}"
            f"{_fmt(v['tfidf_ridge_rmse']):>8}{_fmt(v['mean_confidence'], 2):>7}"
            f"{_fmt(v['interval_coverage_90'], 2):>7}{_fmt(v['auto_release_share_at_rmse_0.5'], 2):>9}"
        )
    b, h, t = r["baselines"], r["holistic"], r["timing"]
    lines += [
        "",
        f"MCRMSE {_fmt(r['mcrmse'])}  (constant {_fmt(b['constant_mcrmse'])}, TF-IDF + ridge "
        f"{_fmt(b['tfidf_ridge_mcrmse'])})",
        f"holistic ({h['definition']}): RMSE {_fmt(h['rmse'])}  r {_fmt(h['pearson'])}  QWK (half points) "
        f"{_fmt(h['qwk_half_points'])}",
        f"auto-release share at RMSE 0.5 (mean over traits) {_fmt(r['auto_release_share_at_rmse_0.5'], 2)}",
        f"timing: embeddings {t['embedding_seconds']}s ({t['chunks_encoded_now']} chunks encoded now), features "
        f"{t['feature_seconds']}s, fit+predict {t['fit_predict_seconds']}s",
    ]
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: str | os.PathLike[str]) -> None:
    from multimodal.research.grading_benchmark import write_json as _write

    _write(result, Path(path))
