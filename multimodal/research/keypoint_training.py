"""Training and evaluation of the key-point entailment classifier on SemEval-2013 Task 7.

Each training answer comes with reference answers and a 3-way label (correct /
contradictory / incorrect). The pair classifier of ``multimodal.keypoints`` learns
from (closest reference, whole answer) pairs labelled entailed / contradicted /
neutral. Everything that is chosen (the regularisation strength, the decision
thresholds) is chosen on out-of-fold predictions with whole *questions* held out
(GroupKFold), because the product meets key points it has never seen:

* ``met``: the lowest threshold on P(states) whose precision for "correct" answers
  reaches ``MET_PRECISION`` (``partial``: ``PARTIAL_PRECISION``);
* ``missing``: the highest threshold whose "missing" statements (no span above it,
  no span similar by cosine, nothing contradicting) are wrong for at most
  1 - ``MISSING_PRECISION`` of answers, i.e. the answer was in fact correct;
* ``contradicted``: the threshold on P(opposite) that at most
  ``CONTRADICTED_FALSE_RATE`` of *correct* answers exceed (a correct answer is almost
  never told it says the opposite). Training adds, to the training folds only,
  correct answers with their polarity flipped or an antonym swapped in as
  contradictions (``contradiction_pairs``).

``AnswerLabeller`` turns the judgements against all reference answers into the
answer's 3-way label (the SemEval task) and, when the question has labelled answers
in training, adds what its nearest labelled answers were (unseen answers).
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from multimodal import keypoints as kp
from multimodal.chunking import chunk_text

__all__ = [
    "AnswerLabeller",
    "SemRow",
    "build_context",
    "fit_keypoint_model",
    "judgement_matrix",
    "read_semeval_csv",
]

LABEL_TO_PAIR = {"correct": "entailed", "contradictory": "contradicted", "incorrect": "neutral"}
ANSWER_LABELS = ("correct", "contradictory", "incorrect")
MET_PRECISION = 0.85
PARTIAL_PRECISION = 0.7
MISSING_PRECISION = 0.95
CONTRADICTED_FALSE_RATE = 0.03  # of correct answers that may be told they say the opposite
C_GRID = (0.001, 0.003, 0.01, 0.03)


@dataclass
class SemRow:
    question_id: str
    question: str
    references: list[str]
    answer: str
    label: str
    split: str = ""
    score: float = math.nan

    @property
    def abbreviations(self) -> dict[str, str]:
        return kp.learn_abbreviations((self.question, *self.references))


def read_semeval_csv(path: str | os.PathLike[str]) -> list[SemRow]:
    """Grading-CSV rows with a ``label`` column; all references from ``all_reference_answers``."""
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            refs = [x.strip() for x in (r.get("all_reference_answers") or "").split("|||") if x.strip()]
            if not refs and (r.get("reference_answer") or "").strip():
                refs = [r["reference_answer"].strip()]
            out.append(
                SemRow(
                    question_id=str(r["question_id"]),
                    question=r.get("question") or "",
                    references=refs,
                    answer=r.get("answer") or "",
                    label=(r.get("label") or "").strip().lower(),
                    split=(r.get("split") or "").strip(),
                    score=float(r["score"]) if r.get("score") not in (None, "") else math.nan,
                )
            )
    return out


class _Lookup:
    """Unit vectors by text, encoded once through ``encoder`` (a caching one in benchmarks)."""

    def __init__(self, encoder: Any, texts: Sequence[str]) -> None:
        uniq = list(dict.fromkeys(texts))
        vecs = np.asarray(encoder.encode(uniq), dtype=np.float64) if uniq else np.zeros((0, 384))
        self.index = {t: i for i, t in enumerate(uniq)}
        self.vecs = vecs
        self.encoder = encoder

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.index]
        if missing:  # rare: a text the planner did not foresee
            extra = np.asarray(self.encoder.encode(missing), dtype=np.float64)
            for t in missing:
                self.index[t] = len(self.vecs) + missing.index(t)
            self.vecs = np.vstack([self.vecs, extra])
        return self.vecs[[self.index[t] for t in texts]]


def build_context(encoder: Any, rows: Sequence[SemRow]) -> kp.PairContext:
    """Encode every text and word the judgements of ``rows`` need, once."""
    texts: list[str] = []
    words: list[str] = []
    by_q: dict[str, list[SemRow]] = {}
    for r in rows:
        by_q.setdefault(r.question_id, []).append(r)
    for group in by_q.values():
        r0 = group[0]
        t, w = kp.texts_for_judgement([r.answer for r in group], r0.references, [r0.question], r0.abbreviations)
        texts += t
        words += w
    texts += [c for r in rows for c in chunk_text(r.answer)]
    for r in rows:  # the training-only contradiction variants (``contradiction_pairs``)
        if r.label == "correct":
            for v in (negated(r.answer.strip()), antonym_swapped(r.answer.strip())):
                if v:
                    ve = kp.expand_abbreviations(v, r.abbreviations)
                    texts += [v, ve]
                    words += kp.content_tokens(ve)
    return kp.PairContext(vec=_Lookup(encoder, texts), word_vec=_Lookup(encoder, sorted(set(words))))


def answer_vectors(rows: Sequence[SemRow], ctx: kp.PairContext) -> np.ndarray:
    """Whole-answer unit vectors (pooled chunks), from the context's cache."""
    out = []
    for r in rows:
        v = ctx.vec(chunk_text(r.answer)).mean(axis=0)
        out.append(v / max(float(np.linalg.norm(v)), 1e-9))
    return np.asarray(out)


def _best_reference(r: SemRow, answer_vec: np.ndarray, ctx: kp.PairContext) -> str:
    refs = [kp.expand_abbreviations(x, r.abbreviations) for x in r.references]
    sims = ctx.vec(refs) @ answer_vec
    return r.references[int(np.argmax(sims))]


def training_pairs(rows: Sequence[SemRow], ctx: kp.PairContext) -> tuple[np.ndarray, np.ndarray]:
    """One (closest reference, whole answer) pair per answer with its pair label."""
    x, y = [], []
    avec = answer_vectors(rows, ctx)
    for r, av in zip(rows, avec, strict=True):
        ref = _best_reference(r, av, ctx)
        x.append(
            kp.pair_features(
                ref,
                r.answer.strip(),
                answer_vec=av,
                question=r.question,
                abbreviations=r.abbreviations,
                ctx=ctx,
                span_is_answer=True,
            )
        )
        y.append(LABEL_TO_PAIR[r.label])
    return np.vstack(x), np.asarray(y)


_AUX = re.compile(r"\b(is|are|was|were|does|do|did|can|will|has|have|had|should|would|could|must)\b", re.IGNORECASE)
_NEG_AFTER_AUX = re.compile(
    r"\b(is|are|was|were|does|do|did|can|will|has|have|had|should|would|could|must)\s+not\b", re.I
)


def negated(text: str) -> str | None:
    """The sentence with its polarity flipped at the first auxiliary ("is" <-> "is not"),
    or None when there is no auxiliary to flip."""
    if _NEG_AFTER_AUX.search(text):
        return _NEG_AFTER_AUX.sub(lambda m: m.group(1), text, count=1)
    if _AUX.search(text):
        return _AUX.sub(lambda m: m.group(1) + " not", text, count=1)
    return None


_SURFACE_ANTONYMS: dict[str, str] = {}
for _a, _b in kp._ANTONYM_PAIRS:
    _SURFACE_ANTONYMS.setdefault(_a, _b)
    _SURFACE_ANTONYMS.setdefault(_b, _a)


def antonym_swapped(text: str) -> str | None:
    """The sentence with its first word that has a listed antonym replaced by it (not
    in negated sentences: "not connected" -> "not disconnected" says the same)."""
    words = text.split()
    if any(w.lower().strip(".,;:!?") in kp.NEGATIONS for w in words):
        return None
    for i, w in enumerate(words):
        core = re.sub(r"[^A-Za-z]", "", w).lower()
        new = _SURFACE_ANTONYMS.get(core)
        if new:
            words[i] = w.lower().replace(core, new)
            return " ".join(words)
    return None


def contradiction_pairs(rows: Sequence[SemRow], ctx: kp.PairContext) -> tuple[np.ndarray, np.ndarray]:
    """Training-only augmentation: every *correct* answer with its polarity flipped or an
    antonym swapped, paired with its closest reference, is a contradiction.

    SemEval has few contradictory answers, and fewer that differ from a correct one by
    exactly the negation or the antonym a key point hinges on ("first" for "last");
    these pairs teach the classifier what those features mean.
    """
    x, y = [], []
    avec = answer_vectors(rows, ctx)
    for r, av in zip(rows, avec, strict=True):
        if r.label != "correct":
            continue
        ref = _best_reference(r, av, ctx)
        for variant in (negated(r.answer.strip()), antonym_swapped(r.answer.strip())):
            if not variant or variant == r.answer.strip():
                continue
            x.append(
                kp.pair_features(
                    ref,
                    variant,
                    answer_vec=ctx.vec([variant])[0],
                    question=r.question,
                    abbreviations=r.abbreviations,
                    ctx=ctx,
                    span_is_answer=True,
                )
            )
            y.append("contradicted")
    if not x:
        return np.zeros((0, len(kp.SCALAR_NAMES) + 768)), np.asarray([], dtype=object)
    return np.vstack(x), np.asarray(y)


def _classifier(c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))


def judgement_matrix(rows: Sequence[SemRow], ctx: kp.PairContext, model: kp.KeypointModel) -> np.ndarray:
    """Per answer, the judgement summary against all its references (``JUDGEMENT_NAMES``)."""
    with _one_thread():
        return _judgement_matrix(rows, ctx, model)


def _judgement_matrix(rows: Sequence[SemRow], ctx: kp.PairContext, model: kp.KeypointModel) -> np.ndarray:
    out = []
    avec = answer_vectors(rows, ctx)
    for r, av in zip(rows, avec, strict=True):
        js = kp.judge_key_points(
            r.answer,
            r.references,
            answer_vec=av,
            question=r.question,
            abbreviations=r.abbreviations,
            ctx=ctx,
            model=model,
        )
        if not js:
            out.append([0.0] * len(JUDGEMENT_NAMES))
            continue
        js = list(js)
        pm = np.array([j.p_met for j in js])
        pc = np.array([j.p_contradicted for j in js])
        cs = np.array([j.best_cos for j in js])
        best = int(np.argmax(pm))
        scal = kp.pair_scalar_features(
            r.references[best],
            js[best].evidence or r.answer.strip(),
            answer_vec=av,
            question=r.question,
            abbreviations=r.abbreviations,
            ctx=ctx,
            span_is_answer=js[best].evidence.strip() == r.answer.strip(),
        )
        out.append(
            [
                pm.max(),
                pm.mean(),
                pc.max(),
                pc.mean(),
                pc[int(np.argmax(cs))],
                pm[int(np.argmax(cs))],
                cs.max(),
                float(any(j.level == "met" for j in js)),
                float(any(j.level == "contradicted" for j in js)),
                float(all(j.level == "missing" for j in js)),
                float(len(js)),
                *scal,
            ]
        )
    return np.asarray(out, dtype=np.float64)


JUDGEMENT_NAMES = (
    "p_met_max",
    "p_met_mean",
    "p_con_max",
    "p_con_mean",
    "p_con_closest",
    "p_met_closest",
    "cos_max",
    "any_met",
    "any_contradicted",
    "all_missing",
    "n_references",
) + tuple(f"best_pair_{n}" for n in kp.SCALAR_NAMES)


def _precision_threshold(score: np.ndarray, positive: np.ndarray, target: float, min_support: int) -> float:
    """Lowest t with precision(positive | score >= t) >= target and >= min_support cases."""
    order = np.argsort(-score)
    s, pos = score[order], positive[order]
    hits = np.cumsum(pos)
    n = np.arange(1, len(s) + 1)
    prec = hits / n
    ok = np.flatnonzero((prec >= target) & (n >= min_support))
    if len(ok) == 0:
        return math.inf
    return float(s[ok.max()])


def choose_thresholds(
    pm: np.ndarray, pc: np.ndarray, cos: np.ndarray, labels: np.ndarray, said_contra: np.ndarray | None = None
) -> tuple[kp.Thresholds, dict[str, Any]]:
    """Decision thresholds from out-of-fold answer-level maxima (see module doc)."""
    correct = labels == "correct"
    contra = labels == "contradictory"
    met = _precision_threshold(pm, correct, MET_PRECISION, 50)
    met = float(min(max(met, 0.5), 0.95)) if math.isfinite(met) else 0.9
    # "contradicted" must almost never be said to a correct answer: the threshold is
    # the (1 - CONTRADICTED_FALSE_RATE) quantile of P(opposite) over correct answers
    # (SemEval's own "contradictory" label is too broad a target for a precision rule)
    con = float(max(np.quantile(pc[correct], 1 - CONTRADICTED_FALSE_RATE), 0.5)) if correct.any() else 0.9
    # "missing": the largest (t, cos bound) region with precision >= target
    best = (0.0, 0.0, 0.0)
    for cb in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        for t in np.unique(np.round(np.quantile(pm, np.linspace(0.01, 0.9, 60)), 4)):
            sel = (pm <= t) & (cos < cb) & (pc < con)
            if sel.sum() < 30:
                continue
            prec = 1.0 - correct[sel].mean()
            if prec >= MISSING_PRECISION and sel.mean() > best[2]:
                best = (float(t), cb, float(sel.mean()))
    partial = _precision_threshold(pm, correct, PARTIAL_PRECISION, 50)
    partial = float(min(met, max(best[0] + 0.01, partial if math.isfinite(partial) else met)))
    th = kp.Thresholds(met=met, partial=partial, missing=best[0], contradicted=con)
    th.partial_cos = best[1] if best[2] > 0 else 0.0
    sel_missing = (pm <= th.missing) & (cos < th.partial_cos) & (pc < con)
    sel_met = pm >= th.met
    sel_con = said_contra.astype(bool) if said_contra is not None else (pc >= con) & (pc > pm) & ~sel_met
    report = {
        "n": len(labels),
        "contradicted_said_to_correct": float(sel_con[correct].mean()) if correct.any() else None,
        "met_precision": float(correct[sel_met].mean()) if sel_met.any() else None,
        "met_share": float(sel_met.mean()),
        "missing_precision": float(1 - correct[sel_missing].mean()) if sel_missing.any() else None,
        "missing_share": float(sel_missing.mean()),
        "contradicted_precision": float(contra[sel_con].mean()) if sel_con.any() else None,
        "contradicted_share": float(sel_con.mean()),
    }
    return th, report


def fit_keypoint_model(
    rows: Sequence[SemRow],
    ctx: kp.PairContext,
    *,
    folds: int = 5,
    seed: int = 0,
    use_embedding_pairs: bool = True,
    augment: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[kp.KeypointModel, dict[str, Any]]:
    """Fit the pair classifier and its thresholds by question-grouped CV on ``rows``."""
    with _one_thread():
        return _fit_keypoint_model(
            rows, ctx, folds=folds, seed=seed, use_embedding_pairs=use_embedding_pairs, augment=augment, log=log
        )


def _one_thread() -> Any:
    from multimodal.grader import _sklearn_threads

    return _sklearn_threads()


def _fit_keypoint_model(
    rows: Sequence[SemRow],
    ctx: kp.PairContext,
    *,
    folds: int,
    seed: int,
    use_embedding_pairs: bool,
    augment: bool,
    log: Callable[[str], None],
) -> tuple[kp.KeypointModel, dict[str, Any]]:
    from sklearn.model_selection import GroupKFold

    t0 = time.perf_counter()
    rows = [r for r in rows if r.label in LABEL_TO_PAIR and r.references]
    x, y = training_pairs(rows, ctx)
    groups = np.unique([r.question_id for r in rows], return_inverse=True)[1]
    # augmented contradictions, each tied to its source answer's question (same folds)
    xa, ya, ga = np.zeros((0, x.shape[1])), np.asarray([], dtype=object), np.asarray([], dtype=int)
    if augment:
        parts = [(contradiction_pairs([r], ctx), groups[i]) for i, r in enumerate(rows) if r.label == "correct"]
        parts = [(p, g) for p, g in parts if len(p[1])]
        if parts:
            xa = np.vstack([p[0] for p, _ in parts])
            ya = np.concatenate([p[1] for p, _ in parts])
            ga = np.concatenate([np.full(len(p[1]), g) for p, g in parts])
    if not use_embedding_pairs:
        x = x[:, : len(kp.SCALAR_NAMES)]
        xa = xa[:, : len(kp.SCALAR_NAMES)]
    gkf = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(gkf.split(x, y, groups))

    def train_rows(tr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = np.isin(ga, np.unique(groups[tr]))
        return np.vstack([x[tr], xa[keep]]), np.concatenate([y[tr], ya[keep]])

    # C by grouped CV log-loss of the pair classifier
    losses = {}
    oof_by_c: dict[float, list[Any]] = {}
    for c in C_GRID:
        p = np.zeros((len(y), 3))
        models = []
        for tr, te in splits:
            m = _classifier(c, seed).fit(*train_rows(tr))
            classes = list(m.classes_)
            p[te] = m.predict_proba(x[te])[:, [classes.index(lab) for lab in kp.LABELS]]
            models.append(m)
        truth = np.array([kp.LABELS.index(v) for v in y])
        losses[c] = float(-np.mean(np.log(np.clip(p[np.arange(len(y)), truth], 1e-12, 1.0))))
        oof_by_c[c] = models
        log(f"  C={c}: grouped-CV log-loss {losses[c]:.4f}")
    c_best = min(losses, key=losses.get)
    # thresholds from the inference procedure (all references x all spans) out of fold
    labels = np.asarray([r.label for r in rows])
    oof_j = np.zeros((len(rows), len(JUDGEMENT_NAMES)))
    for (_tr, te), m in zip(splits, oof_by_c[c_best], strict=True):
        fold_model = kp.KeypointModel(classifier=m, use_embedding_pairs=use_embedding_pairs)
        oof_j[te] = judgement_matrix([rows[i] for i in te], ctx, fold_model)
    pm = oof_j[:, JUDGEMENT_NAMES.index("p_met_max")]
    pc = oof_j[:, JUDGEMENT_NAMES.index("p_con_max")]
    cs = oof_j[:, JUDGEMENT_NAMES.index("cos_max")]
    said = oof_j[:, JUDGEMENT_NAMES.index("any_contradicted")]
    th, th_report = choose_thresholds(pm, pc, cs, labels, said)
    final = _classifier(c_best, seed).fit(np.vstack([x, xa]), np.concatenate([y, ya]))
    model = kp.KeypointModel(classifier=final, thresholds=th, use_embedding_pairs=use_embedding_pairs)
    counts = {lab: int((labels == lab).sum()) for lab in ANSWER_LABELS}
    model.metadata = {
        "format": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data": {
            "answers": len(rows),
            "questions": int(groups.max() + 1),
            "labels": counts,
            "pairs": "closest reference x whole answer",
            "augmented_contradictions": int(len(ya)),
        },
        "features": list(kp.SCALAR_NAMES) + (["minilm_u*v(384)", "minilm_|u-v|(384)"] if use_embedding_pairs else []),
        "classifier": f"StandardScaler + LogisticRegression(C={c_best})",
        "chosen_by": f"{folds}-fold GroupKFold by question (seed {seed}): C by log-loss, thresholds by precision",
        "cv_log_loss": losses,
        "cv_threshold_report": th_report,
        "targets": {
            "met_precision": MET_PRECISION,
            "missing_precision": MISSING_PRECISION,
            "contradicted_false_rate_on_correct": CONTRADICTED_FALSE_RATE,
        },
        "fit_seconds": round(time.perf_counter() - t0, 1),
    }
    log(f"  chose C={c_best}; thresholds {th.__dict__}; {th_report}")
    model.metadata["_oof_judgements"] = oof_j  # popped by callers that stack on it; never saved
    return model, model.metadata


# ------------------------------------------------------------- answer-level labels


@dataclass
class AnswerLabeller:
    """3-way answer label from key-point judgements (+ labelled neighbours when known)."""

    keypoint_model: kp.KeypointModel
    seed: int = 0
    knn_k: int = 10
    _clf: Any = None
    _clf_unseen: Any = None
    _memory: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def _features(
        self, rows: Sequence[SemRow], ctx: kp.PairContext, judgements: np.ndarray, self_pos: Sequence[int] | None
    ) -> np.ndarray:
        """Judgements, then what the question's labelled answers nearest to each row were:
        by meaning (MiniLM) and by wording (word and character n-grams); a training row
        (``self_pos``: its position in its question's memory) never sees itself."""
        from sklearn.preprocessing import normalize

        emb = answer_vectors(rows, ctx)
        knn = np.full((len(rows), 9), np.nan)
        for i, r in enumerate(rows):
            mem = self._memory.get(r.question_id)
            if mem is None:
                continue
            m_emb, m_lab, vec, m_lex = mem
            sims = m_emb @ emb[i]
            lex = np.asarray((m_lex @ normalize(vec.transform([r.answer.lower()])).T).todense()).ravel()
            keep = np.ones(len(sims), bool)
            if self_pos is not None and self_pos[i] >= 0:
                keep[self_pos[i]] = False
            if keep.sum() < 3:
                continue
            labs = m_lab[keep]
            for off, sim in ((0, sims[keep]), (4, lex[keep])):
                k = min(self.knn_k, len(sim))
                top = np.argpartition(-sim, k - 1)[:k]
                w = np.exp((sim[top] - sim[top].max()) / 0.05)
                w /= w.sum()
                knn[i, off : off + 3] = [float(w[labs[top] == lab].sum()) for lab in ANSWER_LABELS]
                knn[i, off + 3] = float(sim[top].max())
            knn[i, 8] = math.log(keep.sum())
        has = (~np.isnan(knn[:, 0])).astype(float)[:, None]
        return np.hstack([judgements, np.nan_to_num(knn, nan=0.0), has])

    def fit(self, rows: Sequence[SemRow], ctx: kp.PairContext, judgements: np.ndarray) -> AnswerLabeller:
        """Two classifiers: with the question's labelled neighbours (answers to a question
        seen in training) and without them (a new question: judgements only)."""
        with _one_thread():
            return self._fit(rows, ctx, judgements)

    def _fit(self, rows: Sequence[SemRow], ctx: kp.PairContext, judgements: np.ndarray) -> AnswerLabeller:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion
        from sklearn.preprocessing import normalize

        emb = answer_vectors(rows, ctx)
        by_q: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            by_q.setdefault(r.question_id, []).append(i)
        labels = np.asarray([r.label for r in rows])
        self._memory = {}
        self_pos = np.full(len(rows), -1)
        for q, idx in by_q.items():
            vec = FeatureUnion(
                [
                    ("w", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                    ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
                ]
            )
            texts = [rows[i].answer.lower() for i in idx]
            try:
                m_lex = normalize(vec.fit_transform(texts))
            except ValueError:
                continue
            self._memory[q] = (emb[idx], labels[idx], vec, m_lex)
            self_pos[idx] = np.arange(len(idx))
        x = self._features(rows, ctx, judgements, self_pos)
        self._clf = self._model().fit(x, labels)
        self._clf_unseen = self._model().fit(judgements, labels)
        return self

    def _model(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=20, random_state=self.seed
        )

    def predict(self, rows: Sequence[SemRow], ctx: kp.PairContext, judgements: np.ndarray) -> np.ndarray:
        with _one_thread():
            x = self._features(rows, ctx, judgements, None)
            seen = x[:, -1] > 0
            out = np.empty(len(rows), dtype=object)
            if seen.any():
                out[seen] = self._clf.predict(x[seen])
            if (~seen).any():
                out[~seen] = self._clf_unseen.predict(judgements[~seen])
            return out


def classification_report(y: Sequence[str], p: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    y, p = list(y), list(p)
    labels = [lab for lab in ANSWER_LABELS if lab in set(y) | set(p)]
    return {
        "n": len(y),
        "accuracy": float(accuracy_score(y, p)),
        "macro_f1": float(f1_score(y, p, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y, p, labels=labels, average="weighted", zero_division=0)),
        "per_label_f1": {
            lab: float(f)
            for lab, f in zip(labels, f1_score(y, p, labels=labels, average=None, zero_division=0), strict=True)
        },
    }
