"""Grading benchmark: QWK / Pearson / RMSE, confidence, 3-way labels and answer groups.

Reads the project's grading CSV (``question_id,question,reference_answer,answer,
score,min_score,max_score``; ``reference_answer`` may be empty for essay-style tasks;
optional ``label`` (3-way class, SemEval), ``split`` and ``all_reference_answers``
("|||"-joined) columns) and evaluates ``multimodal.grader`` in one of two modes:

* ``run_train_test`` (``--train`` / ``--test``): fit on one file, grade the other.
  Test questions with graded answers in training are graded within-question, the
  others across-question; both are also reported separately.
* ``run_benchmark`` (``--csv`` / ``--folds``), cross-validation with two protocols:

  - ``within-question``: K-fold inside every question. Fold k's test set is fold k of
    each question; the grader trains on everything else, i.e. the other graded
    answers of the same question *and* the other questions ("related assignments").
  - ``across-question``: GroupKFold by question. Test questions have no graded
    answers in training: they are graded from their reference answer (if any) and
    a model trained on other questions.

Hyper-parameters are fixed defaults or chosen by the grader's own inner
cross-validation on the training folds: held-out answers are only ever predicted.

Metrics: QWK per question on the score grid (predictions rounded to ``step``; for
Mohler, whose scores are means of two raters, 0.5), averaged over questions
(``qwk_mean``) and pooled; Pearson r, RMSE and MAE pooled over all held-out
answers. ``auto_release_share_at_rmse_0.5``: the largest share of held-out answers
that, taken in order of decreasing confidence, keeps an RMSE of at most 0.5 points
(what a confidence threshold could release automatically at that error). With a
``label`` column, the 3-way label is predicted from the key-point / entailment
judgements against the reference answers (``multimodal.research.keypoint_training``,
fitted on the training rows only): accuracy, macro and weighted F1, per ``split``.
Answer groups (``multimodal.answer_groups`` defaults) are scored against the human
scores: the share of grouped answers within 0.5 points (on integer grids: the same
score) of their representative's score, and the grading actions saved.

Embeddings are cached on disk (``~/.cache/eduplatform/emb-<sha>.npz``, keyed by
SHA-1 of each text and the encoder name), so reruns skip the encoder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from multimodal import metrics as mm
from multimodal.grader import Grader, GradingItem

__all__ = [
    "SPLITS",
    "auto_release_share",
    "BenchRow",
    "CachedEncoder",
    "format_report",
    "infer_score_step",
    "read_grading_csv",
    "run_benchmark",
]

SPLITS = ("within-question", "across-question")
CSV_COLUMNS = ("question_id", "question", "reference_answer", "answer", "score", "min_score", "max_score")


@dataclass(frozen=True)
class BenchRow:
    question_id: str
    question: str
    reference_answer: str
    answer: str
    score: float
    min_score: float
    max_score: float
    label: str = ""  # 3-way class where the CSV has a ``label`` column (SemEval)
    split: str = ""  # the CSV's ``split`` column (e.g. unseen-answers / unseen-questions)
    references: tuple[str, ...] = ()  # all reference answers (``all_reference_answers``, "|||"-joined)

    def item(self) -> GradingItem:
        refs = list(self.references) or ([self.reference_answer] if self.reference_answer.strip() else [])
        return GradingItem(
            answer=self.answer,
            question=self.question,
            reference_answers=refs,
            min_score=self.min_score,
            max_score=self.max_score,
            question_id=self.question_id,
        )


def read_grading_csv(path: str | os.PathLike[str]) -> list[BenchRow]:
    """Rows of a grading CSV; raises ``ValueError`` naming the first bad line."""
    rows: list[BenchRow] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}; expected {list(CSV_COLUMNS)}")
        for line, r in enumerate(reader, start=2):
            try:
                refs = tuple(x.strip() for x in (r.get("all_reference_answers") or "").split("|||") if x.strip())
                row = BenchRow(
                    str(r["question_id"]),
                    r["question"] or "",
                    r["reference_answer"] or "",
                    r["answer"] or "",
                    float(r["score"]),
                    float(r["min_score"]),
                    float(r["max_score"]),
                    label=(r.get("label") or "").strip().lower(),
                    split=(r.get("split") or "").strip(),
                    references=refs,
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{line}: {exc}") from exc
            if not row.max_score > row.min_score:
                raise ValueError(f"{path}:{line}: max_score must exceed min_score")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def infer_score_step(scores: Sequence[float]) -> float:
    """1 for integer grades, else 0.5 (averages of two raters, half points)."""
    s = np.asarray(scores, dtype=float)
    return 1.0 if np.allclose(s, np.round(s)) else 0.5


def _default_cache_dir() -> Path:
    base = os.environ.get("EDUPLATFORM_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eduplatform"
    )
    return Path(base)


class CachedEncoder:
    """A text encoder with a disk cache keyed by text hash and encoder name.

    Each ``encode`` call that misses writes one ``emb-<sha>.npz`` (keys, vectors,
    encoder name, seconds taken); all files for the same encoder are read on first
    use. The wrapped encoder is only built when something is missing.
    """

    def __init__(
        self, encoder: Any = None, cache_dir: str | os.PathLike[str] | None = None, name: str | None = None
    ) -> None:
        self._encoder = encoder
        self.cache_dir = Path(cache_dir) if cache_dir else _default_cache_dir()
        self.name = name or self._guess_name()
        self._mem: dict[str, np.ndarray] = {}
        self._loaded = False
        self.encoded = 0
        self.encode_seconds = 0.0

    def _guess_name(self) -> str:
        info = getattr(self._encoder, "info", None)
        if info is not None:
            return str(info.name)
        from multimodal.text import default_text_model_path

        path = default_text_model_path()
        return f"minilm-l6-v2:{path.name}:{path.resolve()}"

    @property
    def info(self) -> Any:
        return type("Info", (), {"name": self.name})()

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from multimodal.text import TextEncoder

            self._encoder = TextEncoder()
        return self._encoder

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.cache_dir.is_dir():
            return
        for f in sorted(self.cache_dir.glob("emb-*.npz")):
            try:
                with np.load(f, allow_pickle=False) as z:
                    if str(z["model"]) != self.name:
                        continue
                    for k, v in zip(z["keys"].tolist(), z["vecs"], strict=True):
                        self._mem[k] = v
            except (OSError, ValueError, KeyError):
                continue  # a corrupt or foreign file is ignored, never fatal

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self._load()
        keys = [self._key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._mem))
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            todo = [by_key[k] for k in missing]
            t0 = time.perf_counter()
            raw = self.encoder.encode(todo, progress=True) if progress else self.encoder.encode(todo)
            vecs = np.asarray(raw, dtype=np.float32)
            seconds = time.perf_counter() - t0
            self.encoded += len(todo)
            self.encode_seconds += seconds
            for k, v in zip(missing, vecs, strict=True):
                self._mem[k] = v
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256(("\n".join(sorted(missing)) + self.name).encode()).hexdigest()[:16]
            tmp = self.cache_dir / f".emb-{digest}.{os.getpid()}.npz"
            np.savez(tmp, keys=np.asarray(missing), vecs=vecs, model=np.asarray(self.name), seconds=np.asarray(seconds))
            os.replace(tmp, self.cache_dir / f"emb-{digest}.npz")
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([self._mem[k] for k in keys])


# ------------------------------------------------------------------------ protocol


def _folds(rows: Sequence[BenchRow], split: str, k: int, seed: int) -> list[np.ndarray]:
    """Test-index arrays, one per fold."""
    from sklearn.model_selection import GroupKFold, KFold

    n = len(rows)
    qids = [r.question_id for r in rows]
    if split == "within-question":
        fold_of = np.zeros(n, dtype=int)
        by_q: dict[str, list[int]] = {}
        for i, q in enumerate(qids):
            by_q.setdefault(q, []).append(i)
        for j, (_q, idx) in enumerate(sorted(by_q.items())):
            idx_arr = np.asarray(idx)
            kk = min(k, len(idx_arr))
            if kk < 2:
                fold_of[idx_arr] = j % k
                continue
            kf = KFold(n_splits=kk, shuffle=True, random_state=seed + j)
            for f, (_tr, te) in enumerate(kf.split(idx_arr)):
                fold_of[idx_arr[te]] = f
        return [np.flatnonzero(fold_of == f) for f in range(k) if (fold_of == f).any()]
    if split == "across-question":
        groups = np.unique(np.asarray(qids), return_inverse=True)[1]
        n_groups = groups.max() + 1
        gkf = GroupKFold(n_splits=min(k, n_groups), shuffle=True, random_state=seed)
        return [te for _tr, te in gkf.split(np.arange(n), groups=groups)]
    raise ValueError(f"split must be one of {SPLITS}")


def _metrics_block(y: np.ndarray, p: np.ndarray, lo: np.ndarray, hi: np.ndarray, step: float) -> dict[str, float]:
    out = {"n": len(y), "rmse": mm.rmse(y, p), "mae": mm.mae(y, p), "pearson": mm.pearson_r(y, p)}
    if len(np.unique(lo)) == 1 and len(np.unique(hi)) == 1:
        out["qwk"] = mm.quadratic_weighted_kappa(y, p, min_score=float(lo[0]), max_score=float(hi[0]), step=step)
    else:  # mixed scales: compare on the normalised grid
        span = hi - lo
        out["qwk"] = mm.quadratic_weighted_kappa(
            (y - lo) / span, (p - lo) / span, min_score=0.0, max_score=1.0, step=step / float(np.median(span))
        )
    return out


def auto_release_share(y: np.ndarray, p: np.ndarray, conf: np.ndarray, max_rmse: float = 0.5) -> float:
    """Share of answers that can be released automatically at an RMSE of at most ``max_rmse``.

    Answers are taken in order of decreasing confidence; the share is the longest
    such prefix whose RMSE (in score points) stays within ``max_rmse``: what a
    confidence threshold could release at that error rate.
    """
    y, p, conf = np.asarray(y, float), np.asarray(p, float), np.asarray(conf, float)
    ok = np.isfinite(y) & np.isfinite(p)
    y, p, conf = y[ok], p[ok], conf[ok]
    if not len(y):
        return math.nan
    order = np.argsort(-conf, kind="stable")
    cum = np.sqrt(np.cumsum((y[order] - p[order]) ** 2) / np.arange(1, len(y) + 1))
    good = np.flatnonzero(cum <= max_rmse + 1e-12)
    return float((good.max() + 1) / len(y)) if len(good) else 0.0


def _confidence_report(
    y: np.ndarray, p: np.ndarray, conf: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> dict[str, float]:
    from scipy.stats import spearmanr

    err = np.abs(y - p)
    order = np.argsort(conf, kind="stable")
    half = len(order) // 2
    low, high = order[:half], order[half:]
    rho = spearmanr(conf, err).statistic if np.ptp(conf) > 0 else math.nan
    return {
        "mean_confidence": float(np.mean(conf)),
        "rmse_low_confidence_half": mm.rmse(y[low], p[low]) if len(low) else math.nan,
        "rmse_high_confidence_half": mm.rmse(y[high], p[high]) if len(high) else math.nan,
        "spearman_confidence_vs_abs_error": float(rho) if math.isfinite(rho) else None,
        "interval_coverage_90": float(np.mean((y >= lower - 1e-9) & (y <= upper + 1e-9))),
        "mean_interval_width": float(np.mean(upper - lower)),
        "auto_release_share_at_rmse_0.5": auto_release_share(y, p, conf, 0.5),
    }


def _evaluate(
    rows: Sequence[BenchRow],
    pred: np.ndarray,
    conf: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    step: float,
    *,
    zero_shot: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(overall, per_question, confidence) of predictions ``pred`` for ``rows``."""
    y = np.array([r.score for r in rows])
    lo = np.array([r.min_score for r in rows])
    hi = np.array([r.max_score for r in rows])
    per_question: dict[str, Any] = {}
    qids = np.array([r.question_id for r in rows])
    qwks = []
    for q in dict.fromkeys(qids.tolist()):
        m = qids == q
        block = _metrics_block(y[m], pred[m], lo[m], hi[m], step)
        block["auto_release_share_at_rmse_0.5"] = auto_release_share(y[m], pred[m], conf[m], 0.5)
        if zero_shot is not None:
            block["zero_shot_pearson"] = mm.pearson_r(y[m], zero_shot[m])
        per_question[q] = block
        qwks.append(block["qwk"])
    pooled = _metrics_block(y, pred, lo, hi, step)
    confidence = _confidence_report(y, pred, conf, lower, upper)
    overall = {
        "qwk_mean": float(np.mean(qwks)),
        "qwk": float(np.mean(qwks)),  # same as qwk_mean (older name)
        "qwk_pooled": pooled["qwk"],
        "pearson": pooled["pearson"],
        "rmse": pooled["rmse"],
        "mae": pooled["mae"],
        "auto_release_share_at_rmse_0.5": confidence["auto_release_share_at_rmse_0.5"],
        "mean_confidence": confidence["mean_confidence"],
        "zero_shot_pearson": mm.pearson_r(y, zero_shot) if zero_shot is not None else None,
        "mean_per_question_pearson": float(np.mean([b["pearson"] for b in per_question.values()])),
    }
    return overall, per_question, confidence


def _grade(
    items: Sequence[GradingItem],
    y: np.ndarray,
    tr: np.ndarray,
    te: np.ndarray,
    *,
    encoder: Any,
    model: str,
    seed: int,
    step: float,
) -> tuple[Grader, list[Any], float, float]:
    grader = Grader(encoder, model=model, seed=seed, score_step=step)
    t0 = time.perf_counter()
    grader.fit([items[i] for i in tr], y[tr])
    t1 = time.perf_counter()
    results = grader.predict([items[i] for i in te])
    return grader, results, t1 - t0, time.perf_counter() - t1


def _sem_rows(rows: Sequence[BenchRow], idx: Sequence[int]) -> list[Any]:
    from multimodal.research.keypoint_training import SemRow

    return [
        SemRow(
            question_id=rows[i].question_id,
            question=rows[i].question,
            references=list(rows[i].references) or ([rows[i].reference_answer] if rows[i].reference_answer else []),
            answer=rows[i].answer,
            label=rows[i].label,
            split=rows[i].split,
        )
        for i in idx
    ]


def _classify(
    rows: Sequence[BenchRow], tr: np.ndarray, te: np.ndarray, *, encoder: Any, seed: int, log: Callable[[str], None]
) -> np.ndarray:
    """3-way labels of ``te``: the key-point classifier and answer labeller fitted on ``tr`` only."""
    from multimodal.research import keypoint_training as kt

    train = [r for r in _sem_rows(rows, tr) if r.label in kt.LABEL_TO_PAIR and r.references]
    test = _sem_rows(rows, te)
    ctx = kt.build_context(encoder, [*train, *test])
    model, meta = kt.fit_keypoint_model(train, ctx, seed=seed, log=lambda _m: None)
    oof = meta.pop("_oof_judgements")
    labeller = kt.AnswerLabeller(model, seed=seed).fit(train, ctx, oof)
    log(f"  classification: key-point model fitted on {len(train)} answers, thresholds {model.thresholds.__dict__}")
    return labeller.predict(test, ctx, kt.judgement_matrix(test, ctx, model))


def _classification_block(rows: Sequence[BenchRow], labels: np.ndarray) -> dict[str, Any]:
    from multimodal.research.keypoint_training import classification_report

    y = [r.label for r in rows]
    out = classification_report(y, list(labels))
    splits = sorted({r.split for r in rows if r.split})
    out["per_split"] = {
        sp: classification_report(
            [y[i] for i, r in enumerate(rows) if r.split == sp],
            [labels[i] for i, r in enumerate(rows) if r.split == sp],
        )
        for sp in splits
    }
    out["method"] = (
        "key-point entailment classifier against every reference answer (multimodal.keypoints, trained on the "
        "training rows only) + answer labeller (gradient boosting on the judgements and, for questions with "
        "labelled training answers, their nearest answers' labels)"
    )
    return out


def _run_split(
    rows: Sequence[BenchRow],
    items: Sequence[GradingItem],
    split: str,
    *,
    folds: int,
    seed: int,
    step: float,
    encoder: CachedEncoder,
    zero_shot: np.ndarray | None,
    model: str,
    log: Callable[[str], None],
    classify: bool = False,
) -> dict[str, Any]:
    n = len(rows)
    y = np.array([r.score for r in rows])
    lo = np.array([r.min_score for r in rows])
    hi = np.array([r.max_score for r in rows])
    pred = np.full(n, np.nan)
    conf = np.zeros(n)
    lower, upper = lo.copy(), hi.copy()
    baseline = np.full(n, np.nan)
    labels = np.empty(n, dtype=object)
    flags: dict[str, int] = {}
    fit_s = predict_s = 0.0
    chosen: list[dict[str, Any]] = []
    for f, te in enumerate(_folds(rows, split, folds, seed)):
        tr = np.setdiff1d(np.arange(n), te)
        grader, results, t_fit, t_pred = _grade(items, y, tr, te, encoder=encoder, model=model, seed=seed, step=step)
        fit_s += t_fit
        predict_s += t_pred
        for i, r in zip(te, results, strict=True):
            pred[i] = r.score
            conf[i] = r.confidence
            if r.interval is not None:
                lower[i], upper[i] = r.interval
            for fl in r.flags:
                flags[fl] = flags.get(fl, 0) + 1
        if classify:
            labels[te] = _classify(rows, tr, te, encoder=encoder, seed=seed, log=log)
        # baseline: mean training score of the same question (within) / of all (across)
        tr_q: dict[str, list[float]] = {}
        for i in tr:
            tr_q.setdefault(rows[i].question_id, []).append(y[i])
        for i in te:
            vals = tr_q.get(rows[i].question_id)
            baseline[i] = float(np.mean(vals)) if vals else float(np.mean(y[tr]))
        s = grader.summary
        chosen.append(
            {
                "fold": f,
                "within_model": s.get("within_model"),
                "across_model": s.get("across_model"),
                "blend_within_weight": s.get("blend_within_weight"),
                "fit_seconds": round(t_fit, 2),
                "n_train": len(tr),
                "n_test": len(te),
            }
        )
        log(
            f"  [{split}] fold {f + 1}: n_train={len(tr)} n_test={len(te)} "
            f"within={s.get('within_model')} across={s.get('across_model')} "
            f"blend={s.get('blend_within_weight')} fit {t_fit:.1f}s predict {t_pred:.1f}s"
        )
    overall, per_question, confidence = _evaluate(rows, pred, conf, lower, upper, step, zero_shot=zero_shot)
    overall.update(
        {
            "baseline_pearson": mm.pearson_r(y, baseline),
            "baseline_rmse": mm.rmse(y, baseline),
            "baseline": (
                "training mean of the same question"
                if split == "within-question"
                else "training mean of all other questions"
            ),
            "answers_per_second_predict": n / predict_s if predict_s else None,
            "fit_seconds_total": round(fit_s, 2),
            "predict_seconds_total": round(predict_s, 2),
        }
    )
    out = {
        "split": split,
        "overall": overall,
        "confidence": confidence,
        "flags": flags,
        "folds": chosen,
        "per_question": per_question,
    }
    if classify:
        out["classification"] = _classification_block(rows, labels)
    return out


def _machine() -> str:
    torch = sys.modules.get("torch")  # only if the encoder loaded it: importing costs seconds
    threads = torch.get_num_threads() if torch is not None else None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.node()} / {cpu} / {usable} usable cores / torch threads {threads} / "
        f"load average {os.getloadavg()[0]:.1f} / Python {platform.python_version()}"
    )


def run_benchmark(
    csv_path: str | os.PathLike[str],
    *,
    folds: int = 5,
    seed: int = 0,
    split: str = "both",
    limit_questions: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    model: str = "auto",
    step: float | None = None,
    encoder: Any = None,
    groups: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the benchmark and return the JSON-ready result (see module doc)."""
    if split not in (*SPLITS, "both"):
        raise ValueError(f"split must be one of {(*SPLITS, 'both')}")
    if folds < 2:
        raise ValueError("folds must be >= 2")
    rows = read_grading_csv(csv_path)
    if limit_questions:
        keep = list(dict.fromkeys(r.question_id for r in rows))[:limit_questions]
        keep_set = set(keep)
        rows = [r for r in rows if r.question_id in keep_set]
    step = step or infer_score_step([r.score for r in rows])
    items = [r.item() for r in rows]
    n_q = len({r.question_id for r in rows})
    has_refs = all(bool(it.reference_answers) for it in items)
    log(
        f"{csv_path}: {len(rows)} answers, {n_q} questions, score step {step:g}, "
        f"references {'yes' if has_refs else 'no (essay-style: zero-shot n/a)'}"
    )

    enc = CachedEncoder(encoder, cache_dir)
    t0 = time.perf_counter()
    texts = Grader.texts_to_encode(items)
    enc.encode(texts, progress=True)
    encode_s = time.perf_counter() - t0
    log(
        f"embeddings: {len(texts)} texts, {enc.encoded} encoded now in {enc.encode_seconds:.1f}s "
        f"(the rest from cache {enc.cache_dir}), {encode_s:.1f}s total"
    )

    zero_shot = None
    t0 = time.perf_counter()
    if has_refs:
        zs_results = Grader(enc).predict(items)
        zero_shot = np.array([r.score for r in zs_results], dtype=float)
    zs_s = time.perf_counter() - t0

    groups_report = _answer_groups_report(rows, items, enc, step) if groups else None

    classify = all(r.label for r in rows)
    splits = list(SPLITS) if split == "both" else [split]
    results = {}
    for sp in splits:
        log(f"{sp}: {folds}-fold cross-validation")
        results[sp] = _run_split(
            rows,
            items,
            sp,
            folds=folds,
            seed=seed,
            step=step,
            encoder=enc,
            zero_shot=zero_shot,
            model=model,
            log=log,
            classify=classify,
        )
    primary = results[splits[0]]
    out: dict[str, Any] = {
        "overall": primary["overall"],
        "per_question": primary["per_question"],
        **({"classification": primary["classification"]} if classify else {}),
        "n": len(rows),
        "n_questions": n_q,
        "split": split,
        "folds": folds,
        "seed": seed,
        "score_step": step,
        "csv": str(csv_path),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "encoder": enc.name,
        "timing": {
            "embedding_seconds": round(encode_s, 2),
            "texts_embedded": len(texts),
            "texts_encoded_now": enc.encoded,
            "encode_texts_per_second": (enc.encoded / enc.encode_seconds) if enc.encoded else None,
            "zero_shot_seconds": round(zs_s, 2),
            "zero_shot_answers_per_second": len(rows) / zs_s if zs_s and has_refs else None,
        },
        "answer_groups": groups_report,
        "splits": results,
    }
    return out


def run_train_test(
    train_csv: str | os.PathLike[str],
    test_csv: str | os.PathLike[str],
    *,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    model: str = "auto",
    step: float | None = None,
    encoder: Any = None,
    groups: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit the grader on ``train_csv``, grade ``test_csv``; metrics on the test rows only.

    Questions of the test file that have graded answers in the training file are
    graded with them (within-question); the others from their reference answers and
    the other questions (across-question). With a ``label`` column in both files the
    3-way label of every test answer is predicted too (``classification``).
    """
    train = read_grading_csv(train_csv)
    test = read_grading_csv(test_csv)
    rows = [*train, *test]
    step = step or infer_score_step([r.score for r in rows])
    items = [r.item() for r in rows]
    tr = np.arange(len(train))
    te = np.arange(len(train), len(rows))
    seen = {r.question_id for r in train}
    log(
        f"train {train_csv}: {len(train)} answers, {len(seen)} questions; test {test_csv}: {len(test)} answers, "
        f"{len({r.question_id for r in test})} questions ({sum(r.question_id in seen for r in test)} answers to "
        f"questions seen in training); score step {step:g}"
    )
    enc = CachedEncoder(encoder, cache_dir)
    t0 = time.perf_counter()
    texts = Grader.texts_to_encode(items)
    enc.encode(texts, progress=True)
    encode_s = time.perf_counter() - t0
    log(f"embeddings: {len(texts)} texts, {enc.encoded} encoded now in {enc.encode_seconds:.1f}s ({encode_s:.1f}s)")
    y = np.array([r.score for r in rows])
    grader, results, t_fit, t_pred = _grade(items, y, tr, te, encoder=enc, model=model, seed=seed, step=step)
    log(
        f"fit {t_fit:.1f}s ({grader.summary.get('within_model')} / {grader.summary.get('across_model')}), "
        f"predict {t_pred:.1f}s"
    )
    pred = np.array([r.score if r.score is not None else np.nan for r in results], dtype=float)
    conf = np.array([r.confidence for r in results], dtype=float)
    lower = np.array([r.interval[0] if r.interval else r_.min_score for r, r_ in zip(results, test, strict=True)])
    upper = np.array([r.interval[1] if r.interval else r_.max_score for r, r_ in zip(results, test, strict=True)])
    overall, per_question, confidence = _evaluate(test, pred, conf, lower, upper, step)
    seen_mask = np.array([r.question_id in seen for r in test])
    for name, m in (("seen_questions", seen_mask), ("unseen_questions", ~seen_mask)):
        if m.any():
            o, _, _ = _evaluate(
                [r for r, k in zip(test, m, strict=True) if k], pred[m], conf[m], lower[m], upper[m], step
            )
            overall[name] = {
                k: o[k] for k in ("qwk_mean", "qwk_pooled", "pearson", "rmse", "auto_release_share_at_rmse_0.5")
            } | {"n": int(m.sum())}
    flags: dict[str, int] = {}
    for r in results:
        for fl in r.flags:
            flags[fl] = flags.get(fl, 0) + 1
    overall.update(
        {
            "n": len(test),
            "fit_seconds": round(t_fit, 2),
            "predict_seconds": round(t_pred, 2),
            "answers_per_second_predict": len(test) / t_pred if t_pred else None,
        }
    )
    out: dict[str, Any] = {
        "overall": overall,
        "per_question": per_question,
        "confidence": confidence,
        "flags": flags,
        "train": str(train_csv),
        "test": str(test_csv),
        "n_train": len(train),
        "n": len(test),
        "n_questions": len(per_question),
        "score_step": step,
        "seed": seed,
        "model": grader.summary,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "encoder": enc.name,
        "timing": {
            "embedding_seconds": round(encode_s, 2),
            "texts_embedded": len(texts),
            "texts_encoded_now": enc.encoded,
        },
    }
    if all(r.label for r in train) and all(r.label for r in test):
        t0 = time.perf_counter()
        labels = _classify(rows, tr, te, encoder=enc, seed=seed, log=log)
        out["classification"] = _classification_block(test, labels)
        out["timing"]["classification_seconds"] = round(time.perf_counter() - t0, 2)
    if groups:
        out["answer_groups"] = _answer_groups_report(test, [items[i] for i in te], enc, step)
    return out


GROUP_TOLERANCE = 0.5  # points; on integer grids this means "the same score"


def _answer_groups_report(
    rows: Sequence[BenchRow], items: Sequence[GradingItem], encoder: CachedEncoder, step: float
) -> dict[str, Any]:
    """How many grading actions answer groups save, and whether one grade fits each group.

    Per question, answers are grouped with the product defaults
    (``multimodal.answer_groups``); every non-representative member of a group of 2+
    is compared with the human score of its representative (the grade the teacher
    would give the whole group): ``share_within_tolerance`` is the share within
    ``GROUP_TOLERANCE`` points. ``grading_actions`` = number of groups (singletons
    included); the purity estimate is compared with that realised share.
    """
    from multimodal.answer_groups import DEFAULT_THRESHOLD, MIN_JACCARD, answer_groups
    from multimodal.chunking import embed_chunked

    by_q: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_q.setdefault(r.question_id, []).append(i)
    n_groups = grouped = multi = within = 0
    purity_sum = 0.0
    t0 = time.perf_counter()
    for idx in by_q.values():
        texts = [items[i].answer for i in idx]
        emb = embed_chunked(encoder, texts).vectors
        y = np.array([rows[i].score for i in idx])
        for g in answer_groups(texts, emb):
            n_groups += 1
            if len(g.members) > 1:
                multi += 1
                grouped += len(g.members)
                others = g.members[1:]
                within += int(np.sum(np.abs(y[others] - y[g.representative]) <= GROUP_TOLERANCE + 1e-9))
                purity_sum += g.purity * len(others)
    n = len(rows)
    n_members = grouped - multi
    return {
        "threshold": DEFAULT_THRESHOLD,
        "min_jaccard": MIN_JACCARD,
        "tolerance": GROUP_TOLERANCE,
        "n": n,
        "answers_in_shared_groups": grouped / n if n else None,
        "groups_of_two_or_more": multi,
        "share_within_tolerance": within / n_members if n_members else None,
        "mean_purity_estimate": purity_sum / n_members if n_members else None,
        "grading_actions": n_groups,
        "actions_saved_share": 1 - n_groups / n if n else None,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _fmt(v: Any, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _per_question_lines(tag: str, per_question: dict[str, Any]) -> list[str]:
    lines = ["", f"[{tag}] per question: qid  n  QWK  r  RMSE  auto@0.5  zero-shot r"]
    for q, b in per_question.items():
        lines.append(
            f"  {q:>12} {b['n']:5d} {_fmt(b['qwk'])} {_fmt(b['pearson'])} {_fmt(b['rmse'])} "
            f"{_fmt(b.get('auto_release_share_at_rmse_0.5'), 2)} {_fmt(b.get('zero_shot_pearson'))}"
        )
    return lines


def _overall_lines(tag: str, o: dict[str, Any], c: dict[str, Any]) -> list[str]:
    return [
        "",
        f"[{tag}] overall: QWK (mean per question) {_fmt(o['qwk_mean'])}  QWK pooled {_fmt(o['qwk_pooled'])}  "
        f"Pearson r {_fmt(o['pearson'])}  RMSE {_fmt(o['rmse'])}  MAE {_fmt(o['mae'])}",
        f"[{tag}] confidence: mean {_fmt(c['mean_confidence'])}  RMSE low-confidence half "
        f"{_fmt(c['rmse_low_confidence_half'])} vs high half {_fmt(c['rmse_high_confidence_half'])}  "
        f"Spearman(conf, |err|) {_fmt(c['spearman_confidence_vs_abs_error'])}  90% interval coverage "
        f"{_fmt(c['interval_coverage_90'])} (mean width {_fmt(c['mean_interval_width'])})  "
        f"auto-release share at RMSE 0.5: {_fmt(c['auto_release_share_at_rmse_0.5'], 3)}",
    ]


def _classification_lines(tag: str, cl: dict[str, Any] | None) -> list[str]:
    if not cl:
        return []
    lines = [
        f"[{tag}] 3-way labels: accuracy {_fmt(cl['accuracy'])}  macro F1 {_fmt(cl['macro_f1'])}  weighted F1 "
        f"{_fmt(cl['weighted_f1'])}  per label F1 " + ", ".join(f"{k} {_fmt(v)}" for k, v in cl["per_label_f1"].items())
    ]
    for sp, b in cl.get("per_split", {}).items():
        lines.append(
            f"[{tag}]   split {sp}: n={b['n']} accuracy {_fmt(b['accuracy'])} macro F1 {_fmt(b['macro_f1'])} "
            f"weighted F1 {_fmt(b['weighted_f1'])}"
        )
    return lines


def _groups_lines(ag: dict[str, Any] | None) -> list[str]:
    if not ag:
        return []
    return [
        "",
        f"answer groups: {_fmt(ag['answers_in_shared_groups'], 3)} of answers are in a group of 2+; of those, "
        f"{_fmt(ag['share_within_tolerance'], 3)} have the same human score as their group's representative "
        f"(within {ag['tolerance']:g}); the teacher grades {ag['grading_actions']} times instead of {ag['n']} "
        f"({_fmt(ag['actions_saved_share'], 3)} saved); mean purity estimate {_fmt(ag['mean_purity_estimate'], 3)}",
    ]


def format_report(result: dict[str, Any], per_question: bool = True) -> str:
    """Human-readable tables for the command's stdout (cross-validation or train/test)."""
    if "splits" not in result:  # train -> test
        lines = [
            f"grading benchmark  train {result['train']} ({result['n_train']})  ->  test {result['test']} "
            f"(n={result['n']}, questions={result['n_questions']})  step={result['score_step']:g}",
            f"date {result['date']}  machine {result['machine']}",
        ]
        if per_question:
            lines += _per_question_lines("test", result["per_question"])
        o = result["overall"]
        lines += _overall_lines("test", o, result["confidence"])
        for name in ("seen_questions", "unseen_questions"):
            if name in o:
                b = o[name]
                lines.append(
                    f"[test] {name.replace('_', ' ')} (n={b['n']}): QWK mean {_fmt(b['qwk_mean'])}  r "
                    f"{_fmt(b['pearson'])}  RMSE {_fmt(b['rmse'])}"
                )
        lines += _classification_lines("test", result.get("classification"))
        lines.append(
            f"[test] flags {result['flags'] or 'none'}  fit {o['fit_seconds']}s  predict "
            f"{_fmt(o['answers_per_second_predict'], 1)} answers/s"
        )
        lines += _groups_lines(result.get("answer_groups"))
        t = result["timing"]
        lines += [
            "",
            f"embeddings: {t['texts_embedded']} texts ({t['texts_encoded_now']} encoded now), "
            f"{t['embedding_seconds']}s",
        ]
        return "\n".join(lines)
    lines = [
        (
            f"grading benchmark  {result['csv']}  n={result['n']} "
            f"questions={result['n_questions']} folds={result['folds']} seed={result['seed']} "
            f"step={result['score_step']:g}"
        ),
        f"date {result['date']}  machine {result['machine']}",
    ]
    for sp, res in result["splits"].items():
        o = res["overall"]
        if per_question:
            lines += _per_question_lines(sp, res["per_question"])
        lines += _overall_lines(sp, o, res["confidence"])
        lines.append(
            f"[{sp}] zero-shot Pearson r {_fmt(o['zero_shot_pearson'])}  baseline "
            f"({o['baseline']}) r {_fmt(o['baseline_pearson'])} RMSE {_fmt(o['baseline_rmse'])}"
        )
        lines += _classification_lines(sp, res.get("classification"))
        lines.append(
            f"[{sp}] flags {res['flags'] or 'none'}  fit {o['fit_seconds_total']}s  predict "
            f"{_fmt(o['answers_per_second_predict'], 1)} answers/s"
        )
    t = result["timing"]
    lines += _groups_lines(result.get("answer_groups"))
    lines.append("")
    lines.append(
        f"embeddings: {t['texts_embedded']} texts ({t['texts_encoded_now']} encoded now, "
        f"{_fmt(t['encode_texts_per_second'], 1)} texts/s), {t['embedding_seconds']}s; "
        f"zero-shot {_fmt(t['zero_shot_answers_per_second'], 1)} answers/s"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m multimodal.research.grading_benchmark`` (same options as the command)."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", choices=[*SPLITS, "both"], default="both")
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--limit-questions", type=int)
    ap.add_argument("--model", default="auto")
    ap.add_argument("--quiet", action="store_true", help="no per-question table")
    args = ap.parse_args(argv)
    result = run_benchmark(
        args.csv,
        folds=args.folds,
        seed=args.seed,
        split=args.split,
        limit_questions=args.limit_questions,
        model=args.model,
    )
    print(format_report(result, per_question=not args.quiet))
    if args.json_out:
        write_json(result, args.json_out)
    return 0


def write_json(result: dict[str, Any], path: str | os.PathLike[str]) -> None:
    def clean(o: Any) -> Any:
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        if isinstance(o, float | np.floating):
            return float(o) if math.isfinite(o) else None
        if isinstance(o, np.integer):
            return int(o)
        return o

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(clean(result), indent=2, allow_nan=False))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
