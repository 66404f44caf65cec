"""Analytic rubric traits: each criterion scored on its own range, with evidence.

An assignment may carry analytic criteria ("cohesion 1-5", "grammar 1-5", or a
teacher's own "use of evidence 0-4"). ``TraitSpec`` describes one; the grader
returns a ``TraitResult`` per trait: the predicted score on the trait's own grid,
a confidence from a conformal interval (same definition as the holistic score), an
example sentence from the answer as evidence and one line of feedback.

How the total follows the rubric: with weights ``w`` (``None`` = the trait's point
range, so "the total is the sum of the traits' points" needs no weights) and each
trait's score normalised to [0, 1] as ``n = (score - min) / (max - min)``,

    total = item.min_score + (item.max_score - item.min_score) * sum(w * n) / sum(w)

so traits 0-4, 0-4 and 0-2 under an item scored 0-10 add up their points, and six
ELLIPSE traits of 1-5 under an item scored 1-5 give their mean.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from multimodal import feedback
from multimodal import text_features as tf
from multimodal.text import split_sentences

__all__ = [
    "SENTENCE_COUNT_NAMES",
    "TraitModel",
    "TraitResult",
    "TraitSpec",
    "essay_feature_matrix",
    "trait_total",
]


@dataclass
class TraitSpec:
    """One analytic criterion of a rubric.

    ``step`` is the score grid (1 for whole points, 0.5 for ELLIPSE's half points);
    predictions are reported on it. ``description`` is what the rubric says a good
    answer shows (used as context for the wording of feedback, never as a score).
    """

    name: str
    min_score: float
    max_score: float
    weight: float | None = None
    description: str = ""
    step: float | None = None

    def __post_init__(self) -> None:
        self.name = (self.name or "").strip()
        if not self.name:
            raise ValueError("a trait needs a name")
        if not float(self.max_score) > float(self.min_score):
            raise ValueError(f"trait {self.name!r}: max_score must exceed min_score")
        if self.weight is not None and not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"trait {self.name!r}: weight must be a non-negative number")

    @property
    def key(self) -> str:
        """Traits with the same name (case and spacing aside) share one learned model."""
        return " ".join(self.name.lower().split())

    @property
    def points(self) -> float:
        return float(self.weight) if self.weight is not None else float(self.max_score - self.min_score)


@dataclass
class TraitResult:
    """The grader's judgement of one trait for one answer.

    ``score`` is ``None`` when no model for this trait has been trained (no teacher
    trait scores yet): then confidence is 0, and ``feedback`` only repeats facts the
    text checks found (spelling, sentence length), never a level.
    ``level`` is "strength" | "adequate" | "work_on" | "" (not scored).
    """

    name: str
    score: float | None
    confidence: float
    interval: tuple[float, float] | None
    evidence: str  # an example sentence from the answer ("" when none stands out)
    feedback: str  # plain words for the student: what to work on, with the example
    level: str = ""
    min_score: float = 0.0
    max_score: float = 1.0
    features: dict[str, float] = field(default_factory=dict)


def trait_total(
    specs: Sequence[TraitSpec], scores: Sequence[float | None], min_score: float, max_score: float
) -> float | None:
    """The item total from trait scores as the rubric says (module doc); None if any is missing."""
    if not specs or len(specs) != len(scores) or any(s is None for s in scores):
        return None
    weights = [t.points for t in specs]
    total_w = sum(weights)
    if total_w <= 0:
        return None
    acc = 0.0
    for t, s, w in zip(specs, scores, weights, strict=True):
        n = (float(s) - t.min_score) / (t.max_score - t.min_score)
        acc += w * min(1.0, max(0.0, n))
    return float(min_score + (max_score - min_score) * acc / total_w)


# ------------------------------------------------------------------------ features

ESSAY_FEATURE_NAMES: tuple[str, ...] = tuple(f"text_{n}" for n in tf.FEATURE_NAMES) + tuple(
    f"writing_{n}" for n in tf.WRITING_FEATURE_NAMES
)
# per-sentence counts (``text_features.sentence_writing_counts``) turned into rates:
# the learned "sentence explainer" of each trait weighs these to pick its example
SENTENCE_COUNT_NAMES: tuple[str, ...] = (
    "lower_start",
    "lowercase_i",
    "missing_apostrophe",
    "punctuation_spacing",
    "repeated_punct",
    "spelling_errors",
    "grammar_patterns",
    "informal",
    "transitions",
    "subordinators",
    "repeated_words",
    "long_words",
    "mean_word_length",
    "words",
)
_PER_WORD = {"lowercase_i", "missing_apostrophe", "spelling_errors", "informal", "repeated_words", "long_words"}


def _sentence_rates(counts: Mapping[str, float]) -> np.ndarray:
    n = max(1.0, counts["words"])
    return np.array(
        [
            counts[k] / n if k in _PER_WORD else (math.log1p(counts[k]) if k == "words" else counts[k])
            for k in SENTENCE_COUNT_NAMES
        ]
    )


def _sentences_of(text: str) -> list[str]:
    return [s for s in split_sentences(text) if len(tf.tokenize_words(s)) >= 3]


def essay_feature_matrix(
    texts: Sequence[str], vectors: np.ndarray, chunk_spread: np.ndarray | None = None
) -> np.ndarray:
    """Hand-crafted text and writing features, then the pooled MiniLM vector (and spread)."""
    rows = []
    for t in texts:
        d = tf.text_feature_dict(t)
        d.update({f"writing_{k}": v for k, v in tf.writing_feature_dict(t).items()})
        rows.append([d[n.removeprefix("text_")] if n.startswith("text_") else d[n] for n in ESSAY_FEATURE_NAMES])
    hand = np.asarray(rows, dtype=np.float64)
    parts = [hand, np.asarray(vectors, dtype=np.float64)]
    if chunk_spread is not None:
        parts.append(np.asarray(chunk_spread, dtype=np.float64).reshape(len(texts), -1))
    return np.hstack(parts)


# --------------------------------------------------------------------------- model

ALPHAS = np.logspace(-1, 3.5, 19)
LEXICAL_ALPHAS = (1.0, 3.0, 10.0)


def _tfidf() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50000)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True, max_features=50000
                ),
            ),
        ]
    )


ENSEMBLE_KINDS = ("ridge", "svr", "hgb")


def _make(kind: str, seed: int, n_hand: int, n_rows: int = 10**9) -> Any:
    """``n_rows``: the training rows this model will see (the embedding summary never asks for more
    components than a small class's handful of graded essays can give)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    if kind == "ridge":
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), RidgeCV(alphas=ALPHAS))
    if kind == "svr":
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), SVR(C=1.0, epsilon=0.1, gamma="scale"))
    if kind == "hgb":  # the hand-crafted block plus a 32-d summary of the embedding
        cols = ColumnTransformer(
            [
                ("hand", "passthrough", list(range(n_hand))),
                ("emb", PCA(n_components=max(1, min(32, n_rows - 1)), random_state=seed), slice(n_hand, None)),
            ]
        )
        return make_pipeline(
            SimpleImputer(strategy="median"),
            cols,
            HistGradientBoostingRegressor(
                max_iter=300,
                learning_rate=0.04,
                max_leaf_nodes=15,
                min_samples_leaf=20,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=seed,
            ),
        )
    raise ValueError(kind)


@dataclass
class _TraitState:
    key: str
    name: str
    min_score: float
    max_score: float
    step: float | None
    kinds: tuple[str, ...]
    models: list[Any]
    q: float  # conformal quantile of |residual| / predicted error
    error_model: Any
    floor: float
    explainer: Any  # ridge: mean sentence rates -> trait score
    rate_mean: np.ndarray
    cv: dict[str, Any]
    n: int


def _conformal(scores: np.ndarray, alpha: float) -> float:
    n = len(scores)
    rank = math.ceil((n + 1) * (1 - alpha))
    if n == 0 or rank > n:
        return math.inf
    return float(np.sort(scores)[rank - 1])


def _one_thread() -> Any:
    """One BLAS/OpenMP thread for scikit-learn (see ``grader._sklearn_threads``: boosting on
    shared cores is many times slower with more)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api=None)


MIN_TRAIT_EXAMPLES = 20
MIN_HALF_WIDTH = 0.025  # of the trait's range: never claim a trait score is pinned down exactly


class TraitModel:
    """Learns each trait from teachers' per-trait scores; predicts with interval and evidence.

    Per trait: ridge, RBF-SVR and gradient boosting on ``essay_feature_matrix``, and
    their mean; the member or mean with the lowest K-fold RMSE is kept (chosen on
    the training essays only). Confidence: ``1 - width / range`` of a (1 - alpha)
    normalised split-conformal interval whose scale comes from a small error model
    on out-of-fold residuals, as for the holistic score. Traits with fewer than
    ``MIN_TRAIT_EXAMPLES`` scored essays stay unscored.
    """

    def __init__(self, *, seed: int = 0, alpha: float = 0.1, folds: int = 3, kinds: Sequence[str] = ENSEMBLE_KINDS):
        self.seed = seed
        self.alpha = alpha
        self.folds = folds
        self.kinds = tuple(kinds)
        self.traits: dict[str, _TraitState] = {}
        self.n_hand = len(ESSAY_FEATURE_NAMES)
        self.lexical: dict[str, Any] | None = None
        self.lexical_keys: list[str] = []

    @property
    def fitted(self) -> bool:
        return bool(self.traits)

    def fit(
        self,
        texts: Sequence[str],
        x: np.ndarray,
        specs: Sequence[Sequence[TraitSpec]],
        trait_scores: Sequence[Mapping[str, float] | None],
        log: Callable[[str], None] | None = None,
    ) -> TraitModel:
        """``specs[i]`` are item i's traits, ``trait_scores[i]`` its teacher's scores by trait name."""
        with _one_thread():
            return self._fit(texts, x, specs, trait_scores, log)

    def _fit(
        self,
        texts: Sequence[str],
        x: np.ndarray,
        specs: Sequence[Sequence[TraitSpec]],
        trait_scores: Sequence[Mapping[str, float] | None],
        log: Callable[[str], None] | None,
    ) -> TraitModel:
        from sklearn.model_selection import KFold

        by_key: dict[str, tuple[TraitSpec, list[int], list[float]]] = {}
        for i, (sp, sc) in enumerate(zip(specs, trait_scores, strict=True)):
            if not sc:
                continue
            lookup = {" ".join(str(k).lower().split()): v for k, v in sc.items()}
            for t in sp:
                v = lookup.get(t.key)
                if v is None or not math.isfinite(float(v)):
                    continue
                entry = by_key.setdefault(t.key, (t, [], []))
                entry[1].append(i)
                entry[2].append((float(v) - t.min_score) / (t.max_score - t.min_score))
        rates = self._mean_rates(texts)
        by_key = {k: v for k, v in by_key.items() if len(v[1]) >= MIN_TRAIT_EXAMPLES}
        self._x = x
        x = self._fit_lexical(texts, by_key, log)
        del self._x
        self.n_hand = len(ESSAY_FEATURE_NAMES) + len(self.lexical_keys)
        for key, (spec, idx_list, y_list) in by_key.items():
            t0 = time.perf_counter()
            idx, y = np.asarray(idx_list), np.clip(np.asarray(y_list), 0, 1)
            xs = x[idx]
            kf = KFold(n_splits=min(self.folds, len(idx)), shuffle=True, random_state=self.seed)
            oof = {k: np.zeros(len(idx)) for k in self.kinds}
            for tr, te in kf.split(xs):
                for k in self.kinds:
                    oof[k][te] = _make(k, self.seed, self.n_hand, len(tr)).fit(xs[tr], y[tr]).predict(xs[te])
            cands = {(k,): oof[k] for k in self.kinds}
            if len(self.kinds) > 1:
                cands[self.kinds] = np.mean([oof[k] for k in self.kinds], axis=0)
            rmse = {c: float(np.sqrt(np.mean((np.clip(p, 0, 1) - y) ** 2))) for c, p in cands.items()}
            best = min(rmse, key=rmse.get)
            p_oof = np.clip(cands[best], 0, 1)
            models = [_make(k, self.seed, self.n_hand, len(y)).fit(xs, y) for k in best]
            # calibration: cross-fitted error model, conformal scale on out-of-fold residuals
            resid = np.abs(y - p_oof)
            ef = self._error_features(p_oof, xs)
            sig = np.zeros(len(idx))
            for tr, te in kf.split(xs):
                sig[te] = self._error_model().fit(ef[tr], resid[tr]).predict(ef[te])
            floor = max(1e-3, float(np.quantile(resid, 0.1)))
            q = _conformal(resid / np.maximum(sig, floor), self.alpha)
            explainer = self._explainer().fit(rates[idx], y)
            span = spec.max_score - spec.min_score
            self.traits[key] = _TraitState(
                key=key,
                name=spec.name,
                min_score=spec.min_score,
                max_score=spec.max_score,
                step=spec.step,
                kinds=best,
                models=models,
                q=q,
                error_model=self._error_model().fit(ef, resid),
                floor=floor,
                explainer=explainer,
                rate_mean=rates[idx].mean(axis=0),
                cv={"rmse": {"+".join(c): r * span for c, r in rmse.items()}, "chosen": "+".join(best)},
                n=len(idx),
            )
            if log:
                log(
                    f"  trait {spec.name}: n={len(idx)} chose {'+'.join(best)} cv rmse {rmse[best] * span:.3f} "
                    f"({time.perf_counter() - t0:.1f}s)"
                )
        return self

    def _fit_lexical(
        self,
        texts: Sequence[str],
        by_key: Mapping[str, tuple[TraitSpec, list[int], list[float]]],
        log: Callable[[str], None] | None,
    ) -> np.ndarray:
        """Stage one: per trait, ridge on word and character n-gram TF-IDF.

        Its out-of-fold predictions for *every* trait become features of stage two
        (``stacked_features``): n-grams see misspellings and phrasing the sentence
        embedding smooths over, and each trait's model sees what the text says about
        the other traits (they move together). Returns the stage-two matrix.
        """
        from sklearn.linear_model import Ridge
        from sklearn.model_selection import KFold

        t0 = time.perf_counter()
        self.lexical_keys = list(by_key)
        if not self.lexical_keys:
            self.lexical = None
            return self.stacked_features(texts, self._x)
        vec = _tfidf()
        xl = vec.fit_transform([t.lower() for t in texts])
        oof = np.zeros((len(texts), len(self.lexical_keys)))
        models = []
        for j, key in enumerate(self.lexical_keys):
            _, idx_list, y_list = by_key[key]
            idx, y = np.asarray(idx_list), np.clip(np.asarray(y_list), 0, 1)
            kf = KFold(n_splits=min(self.folds, len(idx)), shuffle=True, random_state=self.seed)
            preds = {a: np.zeros(len(idx)) for a in LEXICAL_ALPHAS}
            for tr, te in kf.split(idx):
                for a in LEXICAL_ALPHAS:
                    preds[a][te] = Ridge(alpha=a).fit(xl[idx[tr]], y[tr]).predict(xl[idx[te]])
            alpha = min(LEXICAL_ALPHAS, key=lambda a: float(np.mean((preds[a] - y) ** 2)))
            m = Ridge(alpha=alpha).fit(xl[idx], y)
            models.append(m)
            oof[:, j] = m.predict(xl)  # rows without this trait's score: the full model
            oof[idx, j] = preds[alpha]
        self.lexical = {"vectorizer": vec, "models": models}
        if log:
            log(f"  lexical stage: {xl.shape[1]} n-grams, {len(models)} traits ({time.perf_counter() - t0:.1f}s)")
        return np.hstack([oof, self._x])

    def stacked_features(self, texts: Sequence[str], x: np.ndarray) -> np.ndarray:
        """Stage-two inputs for new texts: the lexical models' predictions, then ``x``."""
        if not getattr(self, "lexical", None):
            return np.hstack([np.zeros((len(texts), len(getattr(self, "lexical_keys", [])))), x])
        xl = self.lexical["vectorizer"].transform([t.lower() for t in texts])
        lex = np.column_stack([m.predict(xl) for m in self.lexical["models"]])
        return np.hstack([lex, x])

    @staticmethod
    def _error_model() -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=100,
            learning_rate=0.05,
            max_depth=3,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=0,
        )

    @staticmethod
    def _explainer() -> Any:
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 3, 9)))

    def _error_features(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        # the prediction itself, length and the main error-prone rates
        return np.column_stack([p, np.abs(p - 0.5), x[:, : self.n_hand]])

    @staticmethod
    def _mean_rates(texts: Sequence[str]) -> np.ndarray:
        out = []
        for t in texts:
            sents = _sentences_of(t) or [t]
            out.append(np.mean([_sentence_rates(tf.sentence_writing_counts(s)) for s in sents], axis=0))
        return np.asarray(out)

    # -- predict ---------------------------------------------------------------------
    def predict(
        self, texts: Sequence[str], x: np.ndarray, specs: Sequence[Sequence[TraitSpec]]
    ) -> list[list[TraitResult]]:
        """One ``TraitResult`` per spec of every item (unscored when the trait has no model)."""
        with _one_thread():
            return self._predict(texts, x, specs)

    def _predict(
        self, texts: Sequence[str], x: np.ndarray, specs: Sequence[Sequence[TraitSpec]]
    ) -> list[list[TraitResult]]:
        out: list[list[TraitResult]] = [[] for _ in texts]
        need: dict[str, list[int]] = {}
        for i, sp in enumerate(specs):
            for t in sp:
                need.setdefault(t.key, []).append(i)
        preds: dict[tuple[str, int], tuple[float, float, float, float]] = {}
        if self.traits:
            x = self.stacked_features(texts, x)
        for key, rows in need.items():
            st = self.traits.get(key)
            if st is None:
                continue
            xs = x[rows]
            p = np.clip(np.mean([m.predict(xs) for m in st.models], axis=0), 0, 1)
            sig = np.maximum(st.error_model.predict(self._error_features(p, xs)), st.floor)
            half = np.maximum(st.q * sig, MIN_HALF_WIDTH) if math.isfinite(st.q) else np.ones(len(rows))
            lo, hi = np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)
            for j, i in enumerate(rows):
                preds[(key, i)] = (float(p[j]), float(lo[j]), float(hi[j]), float(np.clip(1 - (hi[j] - lo[j]), 0, 1)))
        for i, (text, sp) in enumerate(zip(texts, specs, strict=True)):
            if not sp:
                continue
            sentences = _sentences_of(text)
            counts = [tf.sentence_writing_counts(s) for s in sentences]
            rates = (
                np.asarray([_sentence_rates(c) for c in counts]) if counts else np.zeros((0, len(SENTENCE_COUNT_NAMES)))
            )
            for t in sp:
                out[i].append(self._result(t, preds.get((t.key, i)), sentences, counts, rates))
        return out

    def _result(
        self,
        spec: TraitSpec,
        pred: tuple[float, float, float, float] | None,
        sentences: list[str],
        counts: list[dict[str, float]],
        rates: np.ndarray,
    ) -> TraitResult:
        span = spec.max_score - spec.min_score
        st = self.traits.get(spec.key)
        if pred is None or st is None:
            evidence, issues = _worst_by_counts(sentences, counts)
            return TraitResult(
                name=spec.name,
                score=None,
                confidence=0.0,
                interval=None,
                evidence="",
                feedback=feedback.trait_feedback(name=spec.name, level="", evidence=evidence, issues=issues),
                level="",
                min_score=spec.min_score,
                max_score=spec.max_score,
            )
        p, lo, hi, conf = pred
        score = spec.min_score + span * p
        if spec.step:
            score = spec.min_score + round((score - spec.min_score) / spec.step) * spec.step
            # the reported grade always lies inside the reported interval
            lo, hi = min(lo, (score - spec.min_score) / span), max(hi, (score - spec.min_score) / span)
        level = "work_on" if p < WORK_ON_BELOW else "strength" if p >= STRENGTH_FROM else "adequate"
        evidence, issues = "", []
        if sentences:
            # the sentence the trait's explainer rates lowest (to work on) or highest (a strength)
            lin = st.explainer[-1]
            scaled = st.explainer[0].transform(rates)
            contrib = scaled @ lin.coef_
            j = int(np.argmax(contrib)) if level == "strength" else int(np.argmin(contrib))
            evidence = sentences[j]
            issues = _issues(counts[j]) if level != "strength" else []
        return TraitResult(
            name=spec.name,
            score=round(float(score), 3),
            confidence=round(conf, 3),
            interval=(round(spec.min_score + span * lo, 3), round(spec.min_score + span * hi, 3)),
            evidence=evidence,
            feedback=feedback.trait_feedback(
                name=spec.name, level=level, evidence=evidence, issues=issues, description=spec.description
            ),
            level=level,
            min_score=spec.min_score,
            max_score=spec.max_score,
            features={"normalised": round(p, 4)},
        )

    def summary(self) -> dict[str, Any]:
        return {
            k: {"n": st.n, "model": "+".join(st.kinds), "cv": st.cv, "conformal_q": st.q}
            for k, st in self.traits.items()
        }


WORK_ON_BELOW = 0.5  # normalised trait score: below this the feedback says what to work on
STRENGTH_FROM = 0.75


def _issues(c: Mapping[str, float]) -> list[str]:
    """Facts about one sentence that a feedback line can name (``feedback.TRAIT_ISSUES`` keys)."""
    out = []
    if c["spelling_errors"]:
        out.append("spelling")
    if c["lower_start"]:
        out.append("capital_start")
    if c["lowercase_i"]:
        out.append("capital_i")
    if c["missing_apostrophe"]:
        out.append("apostrophe")
    if c["punctuation_spacing"] or c["repeated_punct"]:
        out.append("punctuation")
    if c["grammar_patterns"]:
        out.append("word_forms")
    if c["words"] >= 35:
        out.append("long_sentence")
    if c["informal"]:
        out.append("informal")
    if c["repeated_words"]:
        out.append("repeated_word")
    return out


def _worst_by_counts(sentences: list[str], counts: list[dict[str, float]]) -> tuple[str, list[str]]:
    """Without a model: the sentence with the most concrete issues, and the issues."""
    if not sentences:
        return "", []
    n_issues = [len(_issues(c)) for c in counts]
    j = int(np.argmax(n_issues))
    return (sentences[j], _issues(counts[j])) if n_issues[j] else ("", [])
