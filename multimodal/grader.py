"""The grading model: short answers, essays, OCR'd handwriting and speech transcripts.

The model suggests, the teacher confirms, and every grade says why. So each
``GradeResult`` carries a score, a calibrated confidence (with the interval it comes
from), rubric criteria with the answer sentence that serves as evidence, flags for
answers that must not be scored as normal, feedback for the student and an
explanation for the instructor.

Two modes:

* **zero-shot** (no graded examples): the answer is compared with the reference
  answers and rubric key points (see ``zero_shot_components``); three similarities
  in [0, 1] are averaged with fixed weights and mapped linearly onto the score
  range. The mapping is monotone in each similarity but not fitted to any data, so
  confidence is capped at ``ZERO_SHOT_MAX_CONFIDENCE``.
* **learned** (``Grader.fit`` on instructor-graded answers):

  - *generic* features that transfer between questions: cosine to each reference
    (max, mean), key-point coverage, content-word overlap with the reference (also
    with the question's own words removed, "question demoting"), length ratio,
    question-answer similarity, the zero-shot score and the hand-crafted
    ``text_features`` (length, vocabulary, sentence structure, spelling, readability);
  - *within-question* features computed from the graded answers of the same
    question: a similarity-weighted kNN score, the nearest answer's score, the
    spread of the neighbours' scores, cosine-kernel ridge regression on the answer
    embedding, cosines to the centroids of high- and low-scored answers, the
    question's score mean and spread, and key generic features as z-scores among
    the question's graded answers (a cosine of 0.6 to the reference is excellent
    for one question and poor for another). On training rows they are computed
    leave-one-out, so a row never sees its own label.

  Two models are trained on the normalised score: (a) the *within-question* model
  on generic + within features (pooled over all questions that have graded
  answers, i.e. "related assignments" help each other), (b) the *across-question*
  model on generic features alone, for questions with no graded answers yet. For
  each, the regressor (ridge, SVR, histogram gradient boosting, kNN, extra trees,
  or the mean of the best ``ENSEMBLE_SIZE`` of them) and then the blend weight of
  (a) and (b) are chosen by cross-validation on the training data only: rows of the
  same question are split by KFold for (a), whole questions by GroupKFold for (b).

Confidence (the same definition as ``multimodal.research.training``): ``1 - (upper - lower)
/ (max_score - min_score)`` for a 90% normalised split-conformal interval. A small
gradient-boosting model predicts the expected absolute error of each prediction
from how much the signals disagree (ensemble members' spread, within vs across
model, neighbours' score spread, nearest-neighbour similarity, number of graded
answers...); the conformal quantile of ``|error| / predicted error`` on
out-of-fold predictions scales it into an interval. So low confidence means a
wide interval, i.e. a larger expected error, and the benchmark reports whether
that holds on held-out data. With fewer than 20 out-of-fold predictions there is
nothing to calibrate on and confidence is 0.

Flags: ``blank``, ``gibberish``, ``off_topic`` are *hard*: the answer is not scored
as normal (score = minimum as a suggestion only, confidence 0, review required).
``copied_reference``, ``copied_question`` and ``too_short`` are *soft*: the answer
is scored, but confidence is 0 so the instructor reviews it.

Artifacts (``Grader.save``) are a directory with ``grader.joblib`` (scikit-learn
models and the graded-answer memory; pickle-based, so load only artifacts you wrote)
and ``metadata.json`` (version ``grader-<sha8>``, training summary, CV metrics,
calibration). The text encoder is not stored; its name is, and ``load`` checks it.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from multimodal import feedback
from multimodal import keypoints as kp
from multimodal import text_features as tf
from multimodal.chunking import chunk_text
from multimodal.text import split_sentences
from multimodal.traits import ESSAY_FEATURE_NAMES, TraitModel, TraitResult, TraitSpec, trait_total

__all__ = [
    "CRITERION_LEVELS",
    "FLAGS",
    "GRADER_VERSION",
    "HARD_FLAGS",
    "CriterionResult",
    "GradeResult",
    "Grader",
    "GradingItem",
    "TraitResult",
    "TraitSpec",
    "zero_shot_components",
]

GRADER_VERSION = "grader-2"
ARTIFACT_FORMAT = 2  # 2: key-point classifier, writing features, lexical memory, grid cut points
MODEL_FILE = "grader.joblib"
METADATA_FILE = "metadata.json"

FLAGS: tuple[str, ...] = ("blank", "gibberish", "off_topic", "copied_reference", "copied_question", "too_short")
HARD_FLAGS = frozenset({"blank", "gibberish", "off_topic"})

# -- zero-shot mapping (fixed, documented; never fitted) -------------------------
# MiniLM cosines: unrelated sentences sit around 0.0-0.2, same-topic-but-wrong around
# 0.4-0.6, paraphrases 0.75-0.95. Each similarity is mapped linearly from [LOW, HIGH]
# onto [0, 1] (clipped), then averaged with ZS_WEIGHTS.
ZS_SIM_RANGE = (0.25, 0.85)  # answer vs best reference
CRITERION_RANGE = (0.30, 0.75)  # key point vs best answer sentence
ZS_WEIGHTS = (0.5, 0.3, 0.2)  # semantic, key-point coverage, lexical overlap
ZERO_SHOT_MAX_CONFIDENCE = 0.3
# Without the shipped key-point classifier (multimodal/models/keypoint_nli.*): cosine rules.
CRITERION_MET = 0.60  # similarity at which a key point counts as covered
CRITERION_PARTIAL = 0.45
CRITERION_MISSING = 0.25  # below this nothing in the answer is even loosely related

# -- flags -------------------------------------------------------------------------
# Off-topic needs every signal to agree: cosine to the question and references below
# OFF_TOPIC_SIM (MiniLM gives unrelated text ~0.0-0.1, but also some terse real answers
# ~0.07, hence the other conditions), nearest graded answer below
# OFF_TOPIC_NEIGHBOUR_SIM, no content word shared with question/references/key
# points, and at least OFF_TOPIC_MIN_WORDS content words (one-word answers carry too
# little signal to call off-topic).
OFF_TOPIC_SIM = 0.12
OFF_TOPIC_NEIGHBOUR_SIM = 0.30
OFF_TOPIC_MIN_WORDS = 3
COPY_RATIO = 0.90  # character-level similarity of normalised texts
COPY_MIN_WORDS = 10  # answers and references shorter than this are never "copies"
TOO_SHORT_FRACTION = 0.2  # of the expected length (reference or good graded answers)
TOO_SHORT_MIN_EXPECTED = 30  # words; short-answer questions: any length can be complete
# Answers that say "no answer" in words are treated as blank.
_NON_ANSWER = re.compile(
    r"^(?:not answered|no answer(?: given)?|unanswered|n/?a|i (?:do not|don't|dont) know"
    r"|idk|no idea|not sure|pass|skip(?:ped)?|blank|nothing|[?.\-_ ]+)$"
)

# -- learned mode ----------------------------------------------------------------------
MIN_GRADED = 3  # graded answers of a question needed for within-question features
KNN_K = 10
KNN_TAU = 0.05  # softmax temperature over cosine similarities
KERNEL_RIDGE_LAMBDAS = (0.1, 0.3, 1.0, 3.0)
CANDIDATES = ("ridge", "svr", "hgb", "knn", "extra_trees")
SVR_MAX_ROWS = 5000  # SVR cost grows ~quadratically: skipped in "auto" above this
ALPHA = 0.1  # conformal miscoverage: 90% intervals
REVIEW_BELOW = 0.5  # needs_review below this confidence (the grading app may apply its own)
FULL_SCORE_FRACTION = 0.85  # of the range: a confident score this high silences "missing" lines
MIN_HALF_WIDTH = 0.025  # of the score range: never claim a score is pinned down exactly
BLEND_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))

GENERIC_NAMES: tuple[str, ...] = (
    (
        "has_reference",
        "ref_cos_max",
        "ref_cos_mean",
        "criteria_coverage_mean",
        "criteria_coverage_min",
        "criteria_met_fraction",
        "criteria_contradicted_max",
        "token_precision",
        "token_recall",
        "token_f1",
        "demoted_token_f1",
        "length_ratio_log",
        "zero_shot",
        "question_cos",
        "question_overlap",
    )
    + tuple(f"text_{n}" for n in tf.FEATURE_NAMES)
    + tuple(f"writing_{n}" for n in tf.WRITING_FEATURE_NAMES)
)

WITHIN_NAMES: tuple[str, ...] = (
    "knn_score",
    "nearest_score",
    "knn_score_std",
    "nearest_sim",
    "knn_mean_sim",
    "question_mean_score",
    "question_score_std",
    "n_graded_log",
    "kernel_ridge_score",
    "top_centroid_cos",
    "bottom_centroid_cos",
    "top_minus_bottom_cos",
    "lexical_ridge_score",
    "lexical_knn_score",
    "lexical_nearest_sim",
    "joint_ridge_score",
) + tuple(
    f"relative_{c}"
    for c in ("ref_cos_max", "token_f1", "zero_shot", "criteria_coverage_mean", "text_n_words_log", "question_cos")
)
# generic features also given as z-scores within the question's graded answers: a
# cosine of 0.6 is excellent for one question and poor for another
RELATIVE_COLUMNS: tuple[str, ...] = tuple(n[len("relative_") :] for n in WITHIN_NAMES if n.startswith("relative_"))


# ------------------------------------------------------------------------ data types


@dataclass
class GradingItem:
    """One answer to grade, with what the grader may compare it with.

    ``question_id`` groups answers of the same question for within-question learning;
    when omitted it is derived from the question text and reference answers.
    ``extra_features`` (e.g. OCR confidence, speech fluency) are appended to the
    learned model's inputs; all items given to one model should have the same length.

    ``rubric`` is the rubric's text (context: domain vocabulary, never a score by
    itself); ``exemplars`` are scored example answers ``(text, score)`` from the
    rubric or the teacher, used by the zero-shot grader when there is no reference
    answer. ``traits`` are analytic criteria scored separately (``TraitSpec``); when
    the grader has learned them, the total follows the rubric (``traits.trait_total``).
    """

    answer: str
    question: str = ""
    reference_answers: list[str] = field(default_factory=list)
    key_points: list[str] = field(default_factory=list)
    min_score: float = 0.0
    max_score: float = 1.0
    extra_features: np.ndarray | None = None
    question_id: str | None = None
    rubric: str = ""
    exemplars: list[tuple[str, float]] = field(default_factory=list)
    traits: list[TraitSpec] = field(default_factory=list)
    key_points_required: int | None = None

    def __post_init__(self) -> None:
        self.answer = self.answer or ""
        self.question = self.question or ""
        self.rubric = self.rubric or ""
        self.reference_answers = [r.strip() for r in self.reference_answers if r and r.strip()]
        self.key_points = [k.strip() for k in self.key_points if k and k.strip()]
        self.exemplars = [(str(t).strip(), float(sc)) for t, sc in self.exemplars if t and str(t).strip()]
        if not float(self.max_score) > float(self.min_score):
            raise ValueError(f"max_score ({self.max_score}) must exceed min_score ({self.min_score})")
        if self.key_points_required is not None and self.key_points_required < 1:
            raise ValueError("key_points_required must be at least 1")
        names = [t.key for t in self.traits]
        if len(set(names)) != len(names):
            raise ValueError(f"trait names must be distinct: {[t.name for t in self.traits]}")

    @property
    def key(self) -> str:
        if self.question_id is not None:
            return str(self.question_id)
        h = hashlib.sha1(("\x1f".join([self.question, *self.reference_answers])).encode())
        return "q-" + h.hexdigest()[:16]


CRITERION_LEVELS: tuple[str, ...] = ("met", "partial", "unsure", "missing", "contradicted")


@dataclass
class CriterionResult:
    """One rubric criterion (a key point, or a reference sentence when no rubric).

    ``level``: "met" (stated, in any wording), "partial", "contradicted" (the answer
    says the opposite), "missing" (confidently absent) or "unsure" (the grader cannot
    tell: student feedback says nothing about it). ``met`` is ``level == "met"``.
    ``score`` is the probability that the answer states the point (0-1);
    ``p_contradicted`` that it states the opposite. ``evidence`` is the answer span
    that decided it and ``span`` its character offsets in the answer (None when no
    span is relevant).
    """

    name: str
    met: bool
    level: str
    score: float
    evidence: str
    p_contradicted: float = 0.0
    span: tuple[int, int] | None = None


@dataclass
class GradeResult:
    """What a worker writes back: a suggestion, never a final grade on its own."""

    score: float | None
    confidence: float
    mode: str  # "zero-shot" | "learned"
    criteria: list[CriterionResult]
    flags: list[str]
    feedback: str  # for the student
    explanation: str  # for the instructor
    features: dict[str, float]
    interval: tuple[float, float] | None = None  # 90% conformal interval (learned mode)
    needs_review: bool = False
    model_version: str = ""
    traits: list[TraitResult] = field(default_factory=list)  # one per GradingItem.traits, same order

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["interval"] = list(self.interval) if self.interval is not None else None
        for t in d["traits"]:
            t["interval"] = list(t["interval"]) if t["interval"] is not None else None
        return d


# ---------------------------------------------------------------------- analysis


@dataclass
class _Analysis:
    """Everything about one item that does not need graded examples."""

    n_words: int
    text: dict[str, float]
    ref_cos: np.ndarray
    best_ref: int
    question_cos: float
    criteria: list[CriterionResult]
    token: tuple[float, float, float]
    demoted_f1: float
    length_ratio_log: float
    question_overlap: float
    zs: dict[str, float]
    flags: list[str]
    gibberish: list[str]
    copy_ratio: float
    expected_words: float
    off_topic_candidate: bool
    chunk_spread: tuple[float, float] = (0.0, 0.0)  # norm of the chunk vectors' std, log(chunks)


_NORM = re.compile(r"[^a-z0-9]+")


def _normalise_text(text: str) -> str:
    return _NORM.sub(" ", (text or "").lower()).strip()


def _copy_ratio(a: str, b: str) -> float:
    """Character-level similarity of two normalised texts (0 for empty/very long)."""
    na, nb = _normalise_text(a), _normalise_text(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    bound = 2 * min(len(na), len(nb)) / (len(na) + len(nb))  # ratio can never exceed this
    if bound < COPY_RATIO or len(na) > 5000 or len(nb) > 5000:
        return 0.0
    sm = difflib.SequenceMatcher(None, na, nb, autojunk=False)
    if sm.real_quick_ratio() < COPY_RATIO or sm.quick_ratio() < COPY_RATIO:
        return sm.quick_ratio() * 0.5
    return sm.ratio()


def _overlap(answer: list[str], reference: list[str]) -> tuple[float, float, float]:
    a, r = set(answer), set(reference)
    if not a or not r:
        return 0.0, 0.0, 0.0
    common = len(a & r)
    p, rc = common / len(a), common / len(r)
    return p, rc, (2 * p * rc / (p + rc)) if common else 0.0


def _lin(x: float, lo: float, hi: float) -> float:
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def zero_shot_components(
    ref_cos_max: float,
    criteria_sims: Sequence[float],
    token_f1: float,
    *,
    criteria_probabilities: Sequence[float] | None = None,
    exemplar_score: float = math.nan,
) -> dict[str, float]:
    """The documented zero-shot mapping, as named parts in [0, 1].

    ``semantic`` = linear map of the best reference cosine from ``ZS_SIM_RANGE``;
    ``coverage`` = mean over criteria of P(the answer states it) from the key-point
    classifier (``criteria_probabilities``), or without it the linear map of their
    best sentence cosine from ``CRITERION_RANGE``; ``lexical`` = content-word F1 with
    the best reference. ``combined`` is their ``ZS_WEIGHTS`` average (weights of
    missing parts are redistributed), monotone non-decreasing in every input.
    """
    parts: dict[str, float] = {}
    weights: dict[str, float] = {}
    if math.isfinite(ref_cos_max):
        parts["semantic"] = _lin(ref_cos_max, *ZS_SIM_RANGE)
        weights["semantic"] = ZS_WEIGHTS[0]
        parts["lexical"] = float(token_f1)
        weights["lexical"] = ZS_WEIGHTS[2]
    if criteria_probabilities is not None and len(criteria_probabilities):
        parts["coverage"] = float(np.mean(np.clip(criteria_probabilities, 0.0, 1.0)))
        weights["coverage"] = ZS_WEIGHTS[1]
    elif len(criteria_sims):
        parts["coverage"] = float(np.mean([_lin(s, *CRITERION_RANGE) for s in criteria_sims]))
        weights["coverage"] = ZS_WEIGHTS[1]
    if math.isfinite(exemplar_score):
        parts["exemplars"] = float(min(1.0, max(0.0, exemplar_score)))
        weights["exemplars"] = ZS_WEIGHTS[0]
    if not parts:
        return {"combined": math.nan}
    total = sum(weights.values())
    parts["combined"] = sum(parts[k] * weights[k] for k in weights) / total
    return parts


class _Embedder:
    """Encodes every distinct text of a batch once, then serves vectors by text.

    ``answer`` gives a whole answer's vector: the re-normalised mean of its chunk
    vectors (``multimodal.chunking``), so an essay counts whole and is never encoded
    a second time as one long text.
    """

    def __init__(self, encoder: Any, texts: Sequence[str]) -> None:
        unique = list(dict.fromkeys(t for t in texts))
        vecs = encoder.encode(unique) if unique else np.zeros((0, 384), np.float32)
        self.dim = vecs.shape[1] if len(unique) else 384
        self.index = {t: i for i, t in enumerate(unique)}
        self.vecs = np.asarray(vecs, dtype=np.float32)
        self.encoder = encoder

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        missing = [t for t in dict.fromkeys(texts) if t not in self.index]
        if missing:  # a text no plan foresaw: encode it rather than fail
            extra = np.asarray(self.encoder.encode(missing), dtype=np.float32)
            base = len(self.vecs)
            for k, t in enumerate(missing):
                self.index[t] = base + k
            self.vecs = np.vstack([self.vecs, extra])
        return self.vecs[[self.index[t] for t in texts]]

    def answer(self, text: str) -> np.ndarray:
        chunks = self(chunk_text(text))
        m = chunks.mean(axis=0)
        return (m / max(float(np.linalg.norm(m)), 1e-9)).astype(np.float32)

    def spread(self, text: str) -> tuple[float, float]:
        """How much an essay's chunks differ (0 for one chunk), and log(number of chunks)."""
        chunks = self(chunk_text(text))
        return float(np.linalg.norm(chunks.std(axis=0))), math.log(len(chunks))


@lru_cache(maxsize=32768)
def _text_stats(answer: str, domain: tuple[str, ...]) -> tuple[dict[str, float], tuple[str, ...]]:
    """Text and writing features and gibberish reasons of one answer (cached: cross-validation
    and re-grading see the same answers many times; callers must not mutate the dict)."""
    feats = tf.text_feature_dict(answer, domain)
    feats.update({f"writing_{k}": v for k, v in tf.writing_feature_dict(answer, domain).items()})
    return feats, tuple(tf.gibberish_reasons(answer, domain))


def _criteria_texts(item: GradingItem) -> list[str]:
    """Key points, else the sentences of every reference answer (deduplicated)."""
    if item.key_points:
        return list(item.key_points)
    out: list[str] = []
    for ref in item.reference_answers:
        out.extend(s for s in split_sentences(ref) if s not in out)
    return out


EXEMPLAR_TAU = 0.05  # softmax temperature over cosines to the scored exemplars


def _coverage_probabilities(it: GradingItem, criteria: Sequence[CriterionResult]) -> list[float]:
    """P(stated) per key point; with ``key_points_required`` = N, the N most likely ones
    (an answer stating any N of them covers the rubric)."""
    probs = [0.0 if c.level == "contradicted" else c.score for c in criteria]
    n = it.key_points_required
    if n is not None and it.key_points and n < len(probs):
        return sorted(probs, reverse=True)[:n]
    return probs


def _exemplar_score(it: GradingItem, a_vec: np.ndarray, emb: Any) -> float:
    """Normalised score of the exemplars, weighted by how close the answer is to each."""
    if not it.exemplars or not it.answer.strip():
        return math.nan
    sims = emb([t for t, _ in it.exemplars]) @ a_vec
    ys = np.clip([(sc - it.min_score) / (it.max_score - it.min_score) for _, sc in it.exemplars], 0, 1)
    w = np.exp((sims - sims.max()) / EXEMPLAR_TAU)
    return float((w * ys).sum() / w.sum())


def _abbreviations(item: GradingItem) -> dict[str, str]:
    """Abbreviations the assignment itself defines ("last-in first-out (LIFO)")."""
    return _abbreviations_cached((item.question, *item.reference_answers, *item.key_points, item.rubric))


@lru_cache(maxsize=4096)
def _abbreviations_cached(texts: tuple[str, ...]) -> dict[str, str]:
    return kp.learn_abbreviations(texts)


def _answer_units(item: GradingItem) -> list[str]:
    """The answer itself plus its sentences (evidence candidates)."""
    answer = item.answer.strip()
    if not answer:
        return []
    sentences = split_sentences(answer)
    return [answer] + [s for s in sentences if s != answer]


def _trait_matrix(an: Sequence[_Analysis], emb: np.ndarray) -> np.ndarray:
    """``traits.essay_feature_matrix`` from analyses already made (no second pass over the text)."""
    hand = np.asarray(
        [
            [a.text[n.removeprefix("text_")] if n.startswith("text_") else a.text[n] for n in ESSAY_FEATURE_NAMES]
            for a in an
        ],
        dtype=np.float64,
    ).reshape(len(an), len(ESSAY_FEATURE_NAMES))
    spread = np.asarray([a.chunk_spread for a in an], dtype=np.float64).reshape(len(an), 2)
    return np.hstack([hand, np.asarray(emb, dtype=np.float64), spread])


def _with_traits(
    results: list[GradeResult], items: Sequence[GradingItem], an: Sequence[_Analysis], emb: np.ndarray, model: Any
) -> list[GradeResult]:
    """Trait results for items with traits; the total follows the rubric when every trait is scored."""
    rows = [i for i, it in enumerate(items) if it.traits]
    if not rows:
        return results
    tm = model if model is not None else TraitModel()
    x = _trait_matrix([an[i] for i in rows], emb[rows])
    per_item = tm.predict([items[i].answer for i in rows], x, [items[i].traits for i in rows])
    for i, traits in zip(rows, per_item, strict=True):
        r, it = results[i], items[i]
        r.traits = traits
        hard = bool(set(r.flags) & HARD_FLAGS)
        if not hard:
            r.feedback = feedback.combine(r.feedback, feedback.traits_feedback([t.feedback for t in traits]))
        total = trait_total(it.traits, [t.score for t in traits], it.min_score, it.max_score)
        if total is None or hard:
            continue
        # the rubric's total; its interval adds the traits' weighted half-widths (errors
        # of traits of one essay go together, so they are not assumed to cancel)
        lo_t = trait_total(it.traits, [t.interval[0] for t in traits], it.min_score, it.max_score)
        hi_t = trait_total(it.traits, [t.interval[1] for t in traits], it.min_score, it.max_score)
        span = it.max_score - it.min_score
        r.features["holistic_prediction"] = r.score
        r.score = round(total, 3)
        r.interval = (round(min(lo_t, total), 3), round(max(hi_t, total), 3))
        conf = 0.0 if r.flags else max(0.0, 1 - (r.interval[1] - r.interval[0]) / span)
        r.confidence = round(conf, 3)
        r.needs_review = bool(r.flags) or conf < REVIEW_BELOW
        r.explanation += f" Total from the rubric's {len(traits)} traits: {total:.2f}."
    return results


def _consistent_criteria(criteria: list[CriterionResult], p: float, conf: float) -> list[CriterionResult]:
    """No "missing" line beside a confident (near) full score.

    When the learned model is confident the answer earns (almost) full marks, a key
    point judged "missing" is more likely stated in words the classifier did not
    recognise than absent: it becomes "unsure", which the student is not told about.
    """
    if p < FULL_SCORE_FRACTION or conf < REVIEW_BELOW:
        return criteria
    return [CriterionResult(**{**c.__dict__, "level": "unsure"}) if c.level == "missing" else c for c in criteria]


# ------------------------------------------------------------ grades on the grid

GRID_MIN_ANSWERS = 100  # out-of-fold predictions of a question needed to place its cut points
GRID_MAX_LEVELS = 61


def _grid_levels(y_raw: np.ndarray) -> np.ndarray | None:
    """The integer grid a question is graded on (None for averaged / fractional scores)."""
    if len(y_raw) == 0 or not np.allclose(y_raw, np.round(y_raw)):
        return None
    levels = np.unique(np.round(y_raw))
    if len(levels) < 2 or len(levels) > GRID_MAX_LEVELS:
        return None
    return levels


def _qwk_int(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Quadratic weighted kappa of integer labels 0..k-1 (fast, for cut-point search)."""
    conf = np.zeros((k, k))
    np.add.at(conf, (a, b), 1.0)
    n = conf.sum()
    if n == 0:
        return 0.0
    i = np.arange(k)
    w = (i[:, None] - i[None, :]) ** 2 / max(1, (k - 1) ** 2)
    expected = np.outer(conf.sum(1), conf.sum(0)) / n
    den = (w * expected).sum()
    return float(1 - (w * conf).sum() / den) if den > 0 else 0.0


def _fit_cuts(p: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """Cut points on the normalised prediction maximising QWK against grid indices.

    Coordinate ascent from the midpoints between the levels' mean predictions
    (the "optimised rounder" of AES competitions); cut points stay ordered.
    """
    means = np.array([p[target == j].mean() if (target == j).any() else np.nan for j in range(k)])
    means = np.maximum.accumulate(np.where(np.isnan(means), -np.inf, means))
    means = np.where(np.isfinite(means), means, np.nanmin(p))
    cuts = (means[:-1] + means[1:]) / 2
    cuts = np.maximum.accumulate(cuts)
    best = _qwk_int(target, np.searchsorted(cuts, p), k)
    for _ in range(3):
        for j in range(len(cuts)):
            lo_b = cuts[j - 1] if j > 0 else float(p.min()) - 1e-6
            hi_b = cuts[j + 1] if j + 1 < len(cuts) else float(p.max()) + 1e-6
            for c in np.linspace(lo_b, hi_b, 41)[1:-1]:
                trial = cuts.copy()
                trial[j] = c
                q = _qwk_int(target, np.searchsorted(trial, p), k)
                if q > best + 1e-9:
                    best, cuts = q, trial
    return cuts


def _fit_grid_maps(
    keys: Sequence[str], y_raw: np.ndarray, lo: np.ndarray, hi: np.ndarray, p: np.ndarray, ok: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Per question graded on an integer grid: cut points that turn the normalised
    prediction into a grade, placed on out-of-fold predictions (see ``_fit_cuts``).

    Kept only where, placed on one half of those predictions, they beat plain
    rounding by QWK on the other half (both ways round).
    """
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if ok[i] and np.isfinite(p[i]):
            by_key.setdefault(k, []).append(i)
    out: dict[str, dict[str, Any]] = {}
    for key, idx_list in by_key.items():
        idx = np.asarray(idx_list)
        if len(idx) < GRID_MIN_ANSWERS:
            continue
        levels = _grid_levels(y_raw[idx])
        if levels is None:
            continue
        raw_levels = np.arange(levels.min(), levels.max() + 1)
        k = len(raw_levels)
        target = (np.round(y_raw[idx]) - raw_levels[0]).astype(int)
        span = hi[idx[0]] - lo[idx[0]]
        cont = lo[idx[0]] + span * p[idx]
        plain = np.clip(np.round(cont) - raw_levels[0], 0, k - 1).astype(int)
        half = np.random.default_rng(len(idx)).permutation(len(idx)) % 2 == 0
        q_cuts = q_plain = 0.0
        for a, b in ((half, ~half), (~half, half)):
            c = _fit_cuts(p[idx][a], target[a], k)
            q_cuts += _qwk_int(target[b], np.searchsorted(c, p[idx][b]), k) / 2
            q_plain += _qwk_int(target[b], plain[b], k) / 2
        if q_cuts > q_plain:
            cuts = _fit_cuts(p[idx], target, k)
            out[key] = {"cuts": cuts, "levels": raw_levels, "qwk_plain_cv": q_plain, "qwk_cuts_cv": q_cuts}
    return out


# ----------------------------------------------------------------- model helpers


_KNN_CLASS: Any = None


def _small_safe_knn() -> Any:
    """A module-level (picklable) k-NN regressor whose k shrinks to the number of examples.

    An assignment may have fewer graded answers than k = 15; plain scikit-learn
    refuses to fit then.
    """
    global _KNN_CLASS
    if _KNN_CLASS is None:
        from sklearn.neighbors import KNeighborsRegressor

        class SmallSafeKNN(KNeighborsRegressor):
            def fit(self, X, y):
                self.n_neighbors = max(1, min(15, len(X)))
                return super().fit(X, y)

        SmallSafeKNN.__module__ = __name__
        SmallSafeKNN.__qualname__ = "SmallSafeKNN"
        globals()["SmallSafeKNN"] = SmallSafeKNN
        _KNN_CLASS = SmallSafeKNN
    return _KNN_CLASS


def _make_regressor(kind: str, seed: int) -> Any:
    from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    def impute() -> Any:
        return SimpleImputer(strategy="median", keep_empty_features=True)

    if kind == "ridge":
        return make_pipeline(impute(), StandardScaler(), RidgeCV(alphas=np.logspace(-2, 3, 11)))
    if kind == "svr":
        return make_pipeline(impute(), StandardScaler(), SVR(C=1.0, epsilon=0.05, gamma="scale"))
    if kind == "knn":
        return make_pipeline(impute(), StandardScaler(), _small_safe_knn()(n_neighbors=15, weights="distance"))
    if kind == "hgb":  # imputed too: HGB crashes on an all-missing column (no references)
        return make_pipeline(
            impute(),
            HistGradientBoostingRegressor(
                max_iter=200,
                learning_rate=0.05,
                max_leaf_nodes=15,
                min_samples_leaf=20,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=seed,
            ),
        )
    if kind == "extra_trees":
        return make_pipeline(
            impute(),
            ExtraTreesRegressor(n_estimators=100, min_samples_leaf=3, max_features=0.5, n_jobs=1, random_state=seed),
        )
    raise ValueError(f"unknown regressor {kind!r}; choose from {CANDIDATES}")


def _make_error_model(seed: int, n: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        HistGradientBoostingRegressor(
            max_iter=100,
            learning_rate=0.05,
            max_depth=3,
            min_samples_leaf=max(20, n // 25),
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        ),
    )


def _sklearn_threads() -> Any:
    """One BLAS/OpenMP thread for the small scikit-learn models.

    Histogram gradient boosting on a few thousand rows spends most of its time in
    OpenMP synchronisation when the machine's cores are shared (measured: 10 s with
    default threads vs 0.7 s with one on 350 rows, 2 busy cores); the models here are
    small, so one thread is never the bottleneck. Encoding (torch) is not affected.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api=None)


def _json_clean(o: Any) -> Any:
    """JSON- and PostgreSQL-jsonb-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(o, dict):
        return {str(k): _json_clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_json_clean(v) for v in o]
    if isinstance(o, float | np.floating):
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.integer | np.bool_):
        return o.item()
    return o


def _conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """ceil((n+1)(1-alpha))-th smallest score; inf when there are too few scores."""
    n = len(scores)
    rank = math.ceil((n + 1) * (1 - alpha))
    if n == 0 or rank > n:
        return math.inf
    return float(np.sort(scores)[rank - 1])


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2))) if len(a) else math.nan


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


ENSEMBLE_SIZE = 3  # "auto" may average the best few regressors when that validates better


def _pick(y: np.ndarray, oof: dict[str, np.ndarray]) -> tuple[tuple[str, ...], dict[str, float]]:
    """Best regressor, or the mean of the best ``ENSEMBLE_SIZE``, by out-of-fold RMSE."""
    scores = {c: _rmse(y[~np.isnan(p)], p[~np.isnan(p)]) for c, p in oof.items() if (~np.isnan(p)).sum() >= 5}
    if not scores:
        return (), {}
    ranked = sorted(scores, key=scores.get)
    best: tuple[str, ...] = (ranked[0],)
    if len(ranked) >= 2:
        top = tuple(ranked[:ENSEMBLE_SIZE])
        mean, _ = _combine(oof, top, len(y))
        ok = ~np.isnan(mean)
        scores["mean(" + "+".join(top) + ")"] = _rmse(y[ok], mean[ok])
        if scores["mean(" + "+".join(top) + ")"] < scores[ranked[0]]:
            best = top
    return best, scores


def _combine(preds: dict[str, np.ndarray], kinds: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread (std) of the chosen regressors' predictions (NaN where missing)."""
    if not kinds:
        return np.full(n, np.nan), np.full(n, np.nan)
    stack = np.vstack([preds[k] for k in kinds])
    return stack.mean(axis=0), stack.std(axis=0)


@dataclass
class _QuestionMemory:
    """Graded answers of one question: what within-question features look at."""

    emb: np.ndarray  # (n, d) unit vectors
    y: np.ndarray  # (n,) normalised scores
    words: np.ndarray  # (n,) word counts
    rel: np.ndarray  # (n, len(RELATIVE_COLUMNS)) generic features, for z-scores
    lexical: _LexicalMemory | None = None


DUAL_LAMBDAS = (0.3, 1.0, 3.0, 10.0)  # penalties tried (leave-one-out) for the per-question kernels
LEXICAL_MAX_FEATURES = 20000
LEXICAL_MAX_ROWS = 4000  # above this the n x n kernel solve is skipped (features NaN)


@dataclass
class _LexicalMemory:
    """Word and character n-gram TF-IDF of a question's graded answers, with the dual
    coefficients of kernel ridge regression on them.

    Character n-grams see a key term through a student's misspelling of it; the
    embedding sees meaning. Both are what a teacher's grade of *this* question
    rewards, so both are learned per question.
    """

    vectorizer: Any
    x: Any  # (n, v) sparse, rows L2-normalised
    alpha: np.ndarray  # (n,) dual coefficients on centred scores
    y_mean: float
    loo: np.ndarray  # (n,) exact leave-one-out predictions for the memory rows
    alpha_joint: np.ndarray | None = None  # the same on the TF-IDF + embedding kernel
    loo_joint: np.ndarray | None = None
    lam: float = 1.0
    lam_joint: float = 1.0


def _lexical_vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=LEXICAL_MAX_FEATURES, dtype=np.float32
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    min_df=2,
                    sublinear_tf=True,
                    max_features=LEXICAL_MAX_FEATURES,
                    dtype=np.float32,
                ),
            ),
        ]
    )


def _dual_ridge(k: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Kernel ridge on centred ``y`` with the penalty chosen by exact leave-one-out error.

    One eigendecomposition serves every penalty in ``DUAL_LAMBDAS``: with
    ``K = Q diag(w) Q'``, the dual coefficients are ``Q diag(1 / (w + lam)) Q' y`` and
    the leave-one-out residual is ``alpha_i / [(K + lam I)^-1]_ii``.
    Returns (dual coefficients, leave-one-out predictions, penalty).
    """
    w, q = np.linalg.eigh(k)
    w = np.clip(w, 0.0, None)
    y_mean = float(y.mean())
    qty = q.T @ (y - y_mean)
    q2 = q**2
    best = None
    for lam in DUAL_LAMBDAS:
        alpha = q @ (qty / (w + lam))
        inv_diag = q2 @ (1.0 / (w + lam))
        loo = y - alpha / np.clip(inv_diag, 1e-12, None)
        err = float(np.mean((np.clip(loo, 0, 1) - y) ** 2))
        if best is None or err < best[0]:
            best = (err, alpha, loo, lam)
    return best[1], best[2], best[3]


def _lexical_memory(texts: Sequence[str], y: np.ndarray, emb: np.ndarray) -> _LexicalMemory | None:
    """TF-IDF kernel ridge of one question, and the joint (TF-IDF + embedding) one."""
    from sklearn.preprocessing import normalize

    n = len(texts)
    if n <= MIN_GRADED or n > LEXICAL_MAX_ROWS:
        return None
    vec = _lexical_vectorizer()
    try:
        x = normalize(vec.fit_transform([t.lower() for t in texts]))
    except ValueError:  # empty vocabulary (e.g. all answers blank)
        return None
    k_lex = (x @ x.T).toarray().astype(np.float64)
    alpha, loo, lam = _dual_ridge(k_lex, y)
    e = np.asarray(emb, dtype=np.float64)
    alpha_j, loo_j, lam_j = _dual_ridge(k_lex + e @ e.T, y)
    return _LexicalMemory(vec, x, alpha, float(y.mean()), loo, alpha_j, loo_j, lam, lam_j)


def _kernel_ridge(em: np.ndarray, y: np.ndarray, eq: np.ndarray, lam: float, loo: bool) -> np.ndarray:
    """Ridge regression on [embedding, 1] (= cosine-kernel ridge with an intercept).

    Solved through the thin SVD of the (n, d+1) design, so it costs O(n d^2) instead
    of O(n^3) for a question with thousands of graded essays. With ``loo`` it
    returns exact leave-one-out predictions for the training rows themselves
    (``(fitted - h_ii y_i) / (1 - h_ii)``).
    """
    x = np.hstack([em, np.ones((len(em), 1))])
    u, sv, vt = np.linalg.svd(x, full_matrices=False)
    uty = u.T @ y
    if loo:
        shrink = sv**2 / (sv**2 + lam)
        fitted = u @ (shrink * uty)
        h = (u**2) @ shrink
        return (fitted - h * y) / np.clip(1.0 - h, 1e-6, None)
    coef = vt.T @ (sv / (sv**2 + lam) * uty)
    return np.hstack([eq, np.ones((len(eq), 1))]) @ coef


def _within_block(
    eq: np.ndarray, rq: np.ndarray, mem: _QuestionMemory, lam: float, loo: bool, tq: Sequence[str] = ()
) -> np.ndarray:
    """Within-question features for query embeddings ``eq`` against one question.

    ``rq`` are the queries' ``RELATIVE_COLUMNS``. ``loo=True`` means the queries *are*
    the memory rows (training rows): every row's own entry is excluded everywhere
    (neighbours, means, centroids, z-scores, and the kernel ridge in closed form).
    """
    em, y = mem.emb, mem.y
    n_mem = len(y)
    n_eff = n_mem - 1 if loo else n_mem
    out = np.full((len(eq), len(WITHIN_NAMES)), np.nan, dtype=np.float64)
    if n_eff < MIN_GRADED or len(eq) == 0:
        return out
    sims = eq @ em.T
    if loo:
        np.fill_diagonal(sims, -np.inf)
    k = min(KNN_K, n_eff)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top_sims = np.take_along_axis(sims, top, axis=1)
    top_y = y[top]
    w = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / KNN_TAU)
    w /= w.sum(axis=1, keepdims=True)
    knn = (w * top_y).sum(axis=1)
    knn_std = np.sqrt(np.maximum((w * (top_y - knn[:, None]) ** 2).sum(axis=1), 0.0))
    nearest = np.argmax(sims, axis=1)

    def loo_moments(v: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of ``v`` over the memory, without the query itself when loo."""
        ok = np.isfinite(v)
        total, total_sq, count = np.where(ok, v, 0).sum(0), np.where(ok, v**2, 0).sum(0), ok.sum(0)
        if loo:
            okq = np.isfinite(q)
            total = total - np.where(okq, q, 0)
            total_sq = total_sq - np.where(okq, q**2, 0)
            count = count - okq
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        return mean, std

    q_mean, q_std = loo_moments(y, y if loo else np.full(len(eq), np.nan))
    if not loo:
        q_mean = np.broadcast_to(q_mean, (len(eq),))
        q_std = np.broadcast_to(q_std, (len(eq),))
    r_mean, r_std = loo_moments(mem.rel, rq if loo else np.full_like(rq, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel_z = (rq - r_mean) / np.where(r_std > 1e-6, r_std, np.nan)
    kr = _kernel_ridge(em, y, eq, lam, loo)
    # centroids of high- / low-scored answers (self removed on training rows)
    hi_mask = y >= np.quantile(y, 0.75)
    lo_mask = y <= np.quantile(y, 0.25)

    def centroid_cos(mask: np.ndarray) -> np.ndarray:
        s = em[mask].sum(axis=0)
        if loo:
            sums = s[None, :] - eq * mask[:, None]
            counts = mask.sum() - mask.astype(int)
        else:
            sums = np.repeat(s[None, :], len(eq), axis=0)
            counts = np.full(len(eq), mask.sum())
        norms = np.linalg.norm(sums, axis=1)
        cos = (eq * sums).sum(axis=1) / np.clip(norms, 1e-9, None)
        cos[counts == 0] = np.nan
        return cos

    top_cos, bottom_cos = centroid_cos(hi_mask), centroid_cos(lo_mask)
    out[:, 0] = knn
    out[:, 1] = y[nearest]
    out[:, 2] = knn_std
    out[:, 3] = sims[np.arange(len(eq)), nearest]
    out[:, 4] = top_sims.mean(axis=1)
    out[:, 5] = q_mean
    out[:, 6] = q_std
    out[:, 7] = math.log(n_eff)
    out[:, 8] = np.clip(kr, -0.5, 1.5)
    out[:, 9] = top_cos
    out[:, 10] = bottom_cos
    out[:, 11] = top_cos - bottom_cos
    lex = mem.lexical
    if lex is not None:
        from sklearn.preprocessing import normalize

        if loo:
            out[:, 12] = lex.loo
            out[:, 15] = lex.loo_joint
            xq = lex.x
        else:
            xq = normalize(lex.vectorizer.transform([t.lower() for t in tq]))
            out[:, 12] = lex.y_mean + np.asarray(xq @ (lex.x.T @ lex.alpha)).ravel()
            out[:, 15] = (
                lex.y_mean
                + np.asarray(xq @ (lex.x.T @ lex.alpha_joint)).ravel()
                + eq.astype(np.float64) @ (em.T.astype(np.float64) @ lex.alpha_joint)
            )
        ls = np.asarray((xq @ lex.x.T).todense())
        if loo:
            np.fill_diagonal(ls, -np.inf)
        kk = min(KNN_K, n_eff)
        ltop = np.argpartition(-ls, kk - 1, axis=1)[:, :kk]
        lsims = np.take_along_axis(ls, ltop, axis=1)
        lw = np.exp((lsims - lsims.max(axis=1, keepdims=True)) / KNN_TAU)
        lw /= lw.sum(axis=1, keepdims=True)
        out[:, 13] = (lw * y[ltop]).sum(axis=1)
        out[:, 14] = lsims.max(axis=1)
        out[:, 12] = np.clip(out[:, 12], -0.5, 1.5)
        out[:, 15] = np.clip(out[:, 15], -0.5, 1.5)
    out[:, 16:] = np.clip(rel_z, -5, 5)
    return out


def _memory_from(
    keys: Sequence[str],
    emb: np.ndarray,
    y: np.ndarray,
    words: np.ndarray,
    rel: np.ndarray,
    rows: np.ndarray,
    texts: Sequence[str] | None = None,
) -> dict[str, _QuestionMemory]:
    by_key: dict[str, list[int]] = {}
    for r in rows:
        by_key.setdefault(keys[r], []).append(int(r))
    out = {}
    for k, v in by_key.items():
        idx = np.asarray(v)
        lex = _lexical_memory([texts[i] for i in idx], y[idx], emb[idx]) if texts is not None else None
        out[k] = _QuestionMemory(emb[idx], y[idx], words[idx], rel[idx], lex)
    return out


def _within_features(
    keys: Sequence[str],
    emb: np.ndarray,
    rel: np.ndarray,
    rows: np.ndarray,
    memory: dict[str, _QuestionMemory],
    lam: float,
    loo: bool,
    texts: Sequence[str] = (),
) -> np.ndarray:
    """Within features for ``rows``; with ``loo`` the rows must be exactly the memory."""
    out = np.full((len(rows), len(WITHIN_NAMES)), np.nan)
    by_key: dict[str, list[int]] = {}
    for pos, r in enumerate(rows):
        by_key.setdefault(keys[r], []).append(pos)
    for key, positions in by_key.items():
        mem = memory.get(key)
        if mem is None:
            continue
        pos = np.asarray(positions)
        tq = [texts[r] for r in rows[pos]] if len(texts) else []
        out[pos] = _within_block(emb[rows[pos]], rel[rows[pos]], mem, lam, loo, tq)
    return out


# -------------------------------------------------------------------------- grader


class Grader:
    """Grades answers zero-shot, or learned from instructor-graded examples.

    ``encoder`` is anything with ``encode(list[str]) -> (n, d)`` unit vectors (a
    ``multimodal.text.TextEncoder``); by default the process-wide one from
    ``multimodal.registry`` (or a new ``TextEncoder`` if the registry is absent).
    ``model`` is "auto" (chosen by cross-validation) or one of ``CANDIDATES``.
    ``keypoint_model`` judges key points: "default" is the shipped classifier
    (``multimodal/models/keypoint_nli.joblib``; cosine rules if it is absent), None
    forces the cosine rules, or pass a ``keypoints.KeypointModel``. A fitted grader
    stores the one it was trained with, so its features never change under it.
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        model: str = "auto",
        seed: int = 0,
        inner_folds: int = 5,
        alpha: float = ALPHA,
        score_step: float | None = None,
        candidates: Sequence[str] = CANDIDATES,
        keypoint_model: Any = "default",
    ) -> None:
        if model != "auto" and model not in CANDIDATES:
            raise ValueError(f"model must be 'auto' or one of {CANDIDATES}")
        self.keypoint_model = kp.load_default_model() if keypoint_model == "default" else keypoint_model
        self._encoder = encoder
        self.model = model
        self.seed = seed
        self.inner_folds = inner_folds
        self.alpha = alpha
        self.score_step = score_step
        self.candidates = tuple(candidates)
        self.fitted = False
        self.version = f"{GRADER_VERSION}-zero-shot"
        self.summary: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.created_at = ""
        self._state: dict[str, Any] = {}

    # -- encoder ---------------------------------------------------------------
    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            try:
                from multimodal.registry import get_text_encoder
            except ImportError:
                from multimodal.text import TextEncoder

                self._encoder = TextEncoder()
            else:
                self._encoder = get_text_encoder()
        return self._encoder

    def _encoder_name(self) -> str:
        info = getattr(self._encoder, "info", None) if self._encoder is not None else None
        return str(getattr(info, "name", type(self._encoder).__name__ if self._encoder else ""))

    @staticmethod
    def texts_to_encode(items: Sequence[GradingItem]) -> list[str]:
        """Every text ``fit``/``predict`` will embed for ``items`` (for external caches).

        Answers are encoded as chunks (``multimodal.chunking``); answer spans and
        their words only when there are criteria to judge: an essay without a rubric
        or reference is encoded once, chunk by chunk, not once more per sentence.
        """
        texts: list[str] = []
        words: list[str] = []
        by_key: dict[str, list[GradingItem]] = {}
        for it in items:
            texts.extend(chunk_text(it.answer))
            if it.question.strip():
                texts.append(it.question)
            texts.extend(it.reference_answers)
            texts.extend(t for t, _ in it.exemplars)
            by_key.setdefault(it.key + "\x1f" + "\x1f".join(_criteria_texts(it)), []).append(it)
        for group in by_key.values():
            crit = _criteria_texts(group[0])
            if not crit:
                continue
            t, w = kp.texts_for_judgement(
                [it.answer for it in group], crit, [group[0].question], _abbreviations(group[0])
            )
            texts.extend(t)
            words.extend(w)
        return list(dict.fromkeys([*texts, *words]))

    # -- analysis (no graded examples needed) -------------------------------------
    def _analyse(self, items: Sequence[GradingItem]) -> tuple[list[_Analysis], np.ndarray]:
        emb = _Embedder(self.encoder, self.texts_to_encode(items))
        answers = np.vstack([emb.answer(it.answer) for it in items]) if items else np.zeros((0, emb.dim))
        analyses = []
        for i, it in enumerate(items):
            a = self._analyse_one(it, answers[i], emb)
            a.chunk_spread = emb.spread(it.answer)
            analyses.append(a)
        return analyses, answers

    def _analyse_one(self, it: GradingItem, a_vec: np.ndarray, emb: _Embedder) -> _Analysis:
        answer = it.answer.strip()
        domain = (it.question, *it.reference_answers, *it.key_points, it.rubric, *(t for t, _ in it.exemplars))
        text, gib_reasons = _text_stats(answer, domain)
        words = tf.tokenize_words(answer)
        refs = it.reference_answers
        ref_cos = emb(refs) @ a_vec if refs else np.zeros(0)
        best = int(np.argmax(ref_cos)) if len(ref_cos) else -1
        q_cos = float(emb([it.question])[0] @ a_vec) if it.question.strip() else math.nan

        criteria = self._criteria(it, a_vec, emb)
        a_words = tf.content_words(answer)
        q_words = set(tf.content_words(it.question))
        token = (0.0, 0.0, 0.0)
        demoted = 0.0
        ref_words_n = [len(tf.tokenize_words(r)) for r in refs]
        if refs:
            scored = [_overlap(a_words, tf.content_words(r)) for r in refs]
            token = max(scored, key=lambda t: t[2])
            demoted = max(
                _overlap(
                    [w for w in a_words if w not in q_words], [w for w in tf.content_words(r) if w not in q_words]
                )[2]
                for r in refs
            )
        elif it.key_points:
            kp_words = tf.content_words(" ".join(it.key_points))
            token = _overlap(a_words, kp_words)
        expected = float(np.median(ref_words_n)) if ref_words_n else math.nan
        length_ratio = math.log((len(words) + 1) / (expected + 1)) if refs else math.nan
        q_overlap = (sum(1 for w in a_words if w in q_words) / len(a_words)) if a_words and q_words else 0.0
        zs = zero_shot_components(
            float(ref_cos.max()) if len(ref_cos) else math.nan,
            [c.score for c in criteria],
            token[2],
            criteria_probabilities=_coverage_probabilities(it, criteria) if self.keypoint_model is not None else None,
            exemplar_score=_exemplar_score(it, a_vec, emb),
        )

        flags: list[str] = []
        gib: list[str] = []
        copy = 0.0
        if (
            not answer
            or not any(ch.isalnum() for ch in answer)
            or _NON_ANSWER.match(" ".join(answer.lower().split()).strip(" .!"))
        ):
            flags.append("blank")
        else:
            gib = list(gib_reasons)
            if gib:
                flags.append("gibberish")
            long_refs = [r for r, n in zip(refs, ref_words_n, strict=True) if n >= COPY_MIN_WORDS]
            # a concise answer is an answer, not a copy, however close to the reference
            if len(words) < COPY_MIN_WORDS:
                long_refs = []
            copy = max([_copy_ratio(answer, r) for r in long_refs] or [0.0])
            if copy >= COPY_RATIO:
                flags.append("copied_reference")
            if (
                len(tf.tokenize_words(it.question)) >= COPY_MIN_WORDS // 2
                and _copy_ratio(answer, it.question) >= COPY_RATIO
            ):
                flags.append("copied_question")
        exemplar_texts = [t for t, _ in it.exemplars]
        domain_words = q_words | set(tf.content_words(" ".join([*refs, *it.key_points, *exemplar_texts, it.rubric])))
        shares_words = bool(set(a_words) & domain_words)
        ex_cos = (emb(exemplar_texts) @ a_vec).tolist() if exemplar_texts else []
        off_topic_candidate = (
            len(a_words) >= OFF_TOPIC_MIN_WORDS
            and not shares_words
            and max([q_cos if math.isfinite(q_cos) else -1.0, *ref_cos.tolist(), *ex_cos]) < OFF_TOPIC_SIM
        )
        return _Analysis(
            n_words=len(words),
            text=text,
            ref_cos=ref_cos,
            best_ref=best,
            question_cos=q_cos,
            criteria=criteria,
            token=token,
            demoted_f1=demoted,
            length_ratio_log=length_ratio,
            question_overlap=q_overlap,
            zs=zs,
            flags=flags,
            gibberish=gib,
            copy_ratio=copy,
            expected_words=expected,
            off_topic_candidate=off_topic_candidate,
        )

    def _criteria(self, it: GradingItem, a_vec: np.ndarray, emb: _Embedder) -> list[CriterionResult]:
        """Key-point judgements (``multimodal.keypoints``); cosine rules without a model."""
        crit_texts = _criteria_texts(it)
        if not crit_texts:
            return []
        model = self.keypoint_model
        if model is not None:
            ctx = kp.PairContext(vec=emb, word_vec=emb)
            judged = kp.judge_key_points(
                it.answer,
                crit_texts,
                answer_vec=a_vec,
                question=it.question,
                abbreviations=_abbreviations(it),
                ctx=ctx,
                model=model,
            )
            return [
                CriterionResult(
                    name=j.point,
                    met=j.level == "met",
                    level=j.level,
                    score=j.p_met,
                    evidence=j.evidence,
                    p_contradicted=j.p_contradicted,
                    span=j.span,
                )
                for j in judged
            ]
        # no classifier shipped: cosine of the best answer sentence, never "missing"
        # unless nothing is even loosely similar
        units = _answer_units(it)
        sims = emb(crit_texts) @ emb(units).T if units else np.zeros((len(crit_texts), 1))
        out = []
        for c, name in enumerate(crit_texts):
            j = int(np.argmax(sims[c]))
            sim = float(sims[c, j])
            level = "met" if sim >= CRITERION_MET else "partial" if sim >= CRITERION_PARTIAL else "unsure"
            if sim < CRITERION_MISSING:
                level = "missing"
            evidence = ""
            if units and sim >= CRITERION_PARTIAL:
                if j == 0 and len(units) > 1:  # prefer a single sentence over the whole answer
                    j = 1 + int(np.argmax(sims[c, 1:]))
                evidence = units[j]
            out.append(
                CriterionResult(name=name, met=level == "met", level=level, score=round(sim, 4), evidence=evidence)
            )
        return out

    def _generic_matrix(self, items: Sequence[GradingItem], an: Sequence[_Analysis]) -> np.ndarray:
        rows = []
        for it, a in zip(items, an, strict=True):
            crit = [c.score for c in a.criteria]
            has_ref = bool(it.reference_answers)
            row = [
                float(has_ref),
                float(a.ref_cos.max()) if has_ref else math.nan,
                float(a.ref_cos.mean()) if has_ref else math.nan,
                float(np.mean(crit)) if crit else math.nan,
                float(np.min(crit)) if crit else math.nan,
                float(np.mean([c.met for c in a.criteria])) if crit else math.nan,
                float(max(c.p_contradicted for c in a.criteria)) if crit else math.nan,
                *(a.token if (has_ref or it.key_points) else (math.nan,) * 3),
                a.demoted_f1 if has_ref else math.nan,
                a.length_ratio_log,
                a.zs["combined"],
                a.question_cos,
                a.question_overlap,
                *(a.text[n] for n in tf.FEATURE_NAMES),
                *(a.text[f"writing_{n}"] for n in tf.WRITING_FEATURE_NAMES),
            ]
            rows.append(row)
        g = np.asarray(rows, dtype=np.float64)
        n_extra = self._state.get("n_extra", None)
        extras = [it.extra_features for it in items]
        if n_extra is None:
            n_extra = max((len(np.ravel(e)) for e in extras if e is not None), default=0)
        if n_extra:
            ex = np.full((len(items), n_extra), np.nan)
            for i, e in enumerate(extras):
                if e is not None:
                    v = np.ravel(np.asarray(e, dtype=np.float64))[:n_extra]
                    ex[i, : len(v)] = v
            g = np.hstack([g, ex])
        return g

    # -- fit ----------------------------------------------------------------------
    def fit(
        self,
        items: Sequence[GradingItem],
        scores: Sequence[float],
        *,
        trait_scores: Sequence[Mapping[str, float] | None] | None = None,
        progress: bool = False,
    ) -> Grader:
        """Learn from instructor-graded answers (any mix of questions).

        Chooses regressors and the blend weight by cross-validation on these items
        only, then calibrates confidence on their out-of-fold predictions.
        ``trait_scores[i]`` (optional) maps trait names of ``items[i].traits`` to the
        teacher's per-trait scores; each trait with enough of them gets its own model
        (``multimodal.traits.TraitModel``). ``scores`` are the holistic totals (for a
        rubric whose total is the traits' sum, the sum the teacher gave).
        """
        t0 = time.perf_counter()
        items = list(items)
        y_raw = np.asarray(scores, dtype=np.float64)
        if len(items) != len(y_raw):
            raise ValueError(f"{len(items)} items but {len(y_raw)} scores")
        if len(items) < 5:
            raise ValueError("need at least 5 graded answers to learn from")
        if not np.all(np.isfinite(y_raw)):
            raise ValueError("scores must be finite numbers")
        lo = np.array([it.min_score for it in items], dtype=np.float64)
        hi = np.array([it.max_score for it in items], dtype=np.float64)
        y = np.clip((y_raw - lo) / (hi - lo), 0.0, 1.0)
        keys = [it.key for it in items]
        self._state = {}
        an, emb = self._analyse(items)
        g = self._generic_matrix(items, an)
        self._state["n_extra"] = g.shape[1] - len(GENERIC_NAMES)
        if trait_scores is not None and len(trait_scores) != len(items):
            raise ValueError(f"{len(items)} items but {len(trait_scores)} trait score rows")
        with _sklearn_threads():
            self._fit_models(items, y_raw, y, lo, hi, keys, an, emb, g, t0)
            if trait_scores is not None and any(it.traits for it in items):
                tm = TraitModel(seed=self.seed, alpha=self.alpha)
                tm.fit(
                    [it.answer for it in items],
                    _trait_matrix(an, emb),
                    [it.traits for it in items],
                    trait_scores,
                )
                self._state["traits"] = tm if tm.fitted else None
                self.summary["traits"] = tm.summary()
                self.metrics["traits_cv"] = _json_clean(tm.summary())
                self.version = f"{GRADER_VERSION}-{self._digest()[:8]}"
        return self

    def _fit_models(
        self,
        items: list[GradingItem],
        y_raw: np.ndarray,
        y: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        keys: list[str],
        an: list[_Analysis],
        emb: np.ndarray,
        g: np.ndarray,
        t0: float,
    ) -> Grader:
        from sklearn.model_selection import GroupKFold, KFold

        words = np.array([a.n_words for a in an], dtype=np.float64)
        texts = [it.answer for it in items]
        rel = g[:, [GENERIC_NAMES.index(c) for c in RELATIVE_COLUMNS]]
        n = len(items)
        all_rows = np.arange(n)
        groups = np.unique(np.asarray(keys), return_inverse=True)[1]
        n_groups = len(set(keys))

        lam = self._choose_lambda(keys, emb, y)
        candidates = [c for c in self.candidates if not (c == "svr" and n > SVR_MAX_ROWS)]
        if self.model != "auto":
            candidates = [self.model]
        n_folds = max(2, min(self.inner_folds, 3 if n > 5000 else self.inner_folds))
        rng_seed = self.seed

        # (a) within-question: KFold over rows; held-out rows see in-fold answers only
        within_oof = {c: np.full(n, np.nan) for c in candidates}
        w_oof_feats = np.full((n, len(WITHIN_NAMES)), np.nan)
        kf = KFold(n_splits=min(n_folds, n), shuffle=True, random_state=rng_seed)
        for tr, te in kf.split(all_rows):
            mem = _memory_from(keys, emb, y, words, rel, tr, texts)
            w_tr = _within_features(keys, emb, rel, tr, mem, lam, loo=True, texts=texts)
            w_te = _within_features(keys, emb, rel, te, mem, lam, loo=False, texts=texts)
            w_oof_feats[te] = w_te
            ok_tr = ~np.isnan(w_tr[:, 0])
            ok_te = ~np.isnan(w_te[:, 0])
            if ok_tr.sum() < 5 or not ok_te.any():
                continue
            x_tr = np.hstack([g[tr][ok_tr], w_tr[ok_tr]])
            x_te = np.hstack([g[te][ok_te], w_te[ok_te]])
            for c in candidates:
                m = _make_regressor(c, rng_seed).fit(x_tr, y[tr][ok_tr])
                within_oof[c][te[ok_te]] = np.clip(m.predict(x_te), 0, 1)
        # (b) across-question: whole questions held out
        across_oof = {c: np.full(n, np.nan) for c in candidates}
        if n_groups >= 2:
            gkf = GroupKFold(n_splits=min(n_folds, n_groups))
            for tr, te in gkf.split(all_rows, groups=groups):
                for c in candidates:
                    m = _make_regressor(c, rng_seed).fit(g[tr], y[tr])
                    across_oof[c][te] = np.clip(m.predict(g[te]), 0, 1)

        within_kinds, within_cv = _pick(y, within_oof)
        across_kinds, across_cv = _pick(y, across_oof)
        if not across_kinds:  # one question only: nothing to validate an across model on
            across_kinds = ("ridge",) if self.model == "auto" else (self.model,)

        # final models on all rows (within features leave-one-out)
        memory = _memory_from(keys, emb, y, words, rel, all_rows, texts)
        w_all = _within_features(keys, emb, rel, all_rows, memory, lam, loo=True, texts=texts)
        ok = ~np.isnan(w_all[:, 0])
        within_models = []
        if within_kinds and ok.sum() >= 5:
            x_ok = np.hstack([g[ok], w_all[ok]])
            within_models = [_make_regressor(c, rng_seed).fit(x_ok, y[ok]) for c in within_kinds]
        across_models = [_make_regressor(c, rng_seed).fit(g, y) for c in across_kinds]

        # blend weight and calibration on out-of-fold predictions
        p_w, s_w = _combine(within_oof, within_kinds, n)
        p_a, s_a = _combine(across_oof, across_kinds, n)
        both = ~np.isnan(p_w) & ~np.isnan(p_a)
        blend = 1.0
        if both.sum() >= 5:
            errs = {b: _rmse(y[both], b * p_w[both] + (1 - b) * p_a[both]) for b in BLEND_GRID}
            blend = float(min(errs, key=errs.get))
        p_blend = np.where(np.isnan(p_a), p_w, blend * p_w + (1 - blend) * np.nan_to_num(p_a))
        zs = g[:, GENERIC_NAMES.index("zero_shot")]
        calib_w = self._calibrate(
            y, p_blend, self._error_features_within(p_blend, p_w, p_a, s_w, zs, w_oof_feats), ~np.isnan(p_w)
        )
        calib_a = self._calibrate(y, p_a, self._error_features_across(p_a, s_a, zs, g), ~np.isnan(p_a))
        within_kind = "+".join(within_kinds) if within_kinds else None
        across_kind = "+".join(across_kinds)
        grid_maps = _fit_grid_maps(keys, y_raw, lo, hi, p_blend, ~np.isnan(p_w))

        self._state.update(
            {
                "grid_maps": grid_maps,
                "lambda": lam,
                "memory": memory,
                "within_kind": within_kind,
                "across_kind": across_kind,
                "within_models": within_models,
                "across_models": across_models,
                "blend": blend,
                "calib_within": calib_w,
                "calib_across": calib_a,
                "expected_words": self._expected_words(memory),
            }
        )
        self.fitted = True
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        width = hi - lo
        step = self.score_step

        def report(mask: np.ndarray, pred: np.ndarray) -> dict[str, float]:
            if mask.sum() < 2:
                return {}
            yt, yp = y_raw[mask], lo[mask] + width[mask] * pred[mask]
            out = {"n": int(mask.sum()), "rmse": _rmse(yt, yp), "pearson": _pearson(yt, yp)}
            if step:
                from multimodal.metrics import quadratic_weighted_kappa

                out["qwk_pooled"] = quadratic_weighted_kappa(
                    (yt - lo[mask]) / width[mask],
                    (yp - lo[mask]) / width[mask],
                    min_score=0.0,
                    max_score=1.0,
                    step=step / float(np.median(width)),
                )
            return out

        self.metrics = _json_clean(
            {
                "cv_within_rmse_norm": within_cv,
                "cv_across_rmse_norm": across_cv,
                "oof_within_blend": report(~np.isnan(p_w), p_blend),
                "oof_across": report(~np.isnan(p_a), np.nan_to_num(p_a)),
                "calibration_within": calib_w["report"] if calib_w else None,
                "calibration_across": calib_a["report"] if calib_a else None,
            }
        )
        self.summary = _json_clean(
            {
                "n_answers": n,
                "n_questions": n_groups,
                "n_with_within_features": int(ok.sum()),
                "score_ranges": sorted({(float(a), float(b)) for a, b in zip(lo, hi, strict=True)}),
                "score_mean_norm": float(y.mean()),
                "score_std_norm": float(y.std()),
                "has_references": int(sum(bool(it.reference_answers) for it in items)),
                "has_key_points": int(sum(bool(it.key_points) for it in items)),
                "n_extra_features": self._state["n_extra"],
                "within_model": within_kind,
                "across_model": across_kind,
                "blend_within_weight": blend,
                "kernel_ridge_lambda": lam,
                "candidates": list(candidates),
                "inner_folds": n_folds,
                "seed": self.seed,
                "encoder": self._encoder_name(),
                "fit_seconds": round(time.perf_counter() - t0, 2),
            }
        )
        self.version = f"{GRADER_VERSION}-{self._digest()[:8]}"
        return self

    @staticmethod
    def _choose_lambda(keys: Sequence[str], emb: np.ndarray, y: np.ndarray) -> float:
        """Kernel-ridge penalty by pooled leave-one-out error on the training rows."""
        by_key: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            by_key.setdefault(k, []).append(i)
        blocks = [np.asarray(v) for v in by_key.values() if len(v) > MIN_GRADED]
        if not blocks:
            return KERNEL_RIDGE_LAMBDAS[len(KERNEL_RIDGE_LAMBDAS) // 2]
        errs = {}
        for lam in KERNEL_RIDGE_LAMBDAS:
            sq = [np.sum((np.clip(_kernel_ridge(emb[b], y[b], emb[b], lam, True), 0, 1) - y[b]) ** 2) for b in blocks]
            errs[lam] = float(np.sum(sq))
        return float(min(errs, key=errs.get))

    @staticmethod
    def _expected_words(memory: dict[str, _QuestionMemory]) -> dict[str, float]:
        """Median length of the well-scored graded answers of each question."""
        out = {}
        for key, mem in memory.items():
            good = mem.words[mem.y >= np.quantile(mem.y, 0.5)]
            out[key] = float(np.median(good)) if len(good) else float(np.median(mem.words))
        return out

    @staticmethod
    def _error_features_within(
        p: np.ndarray, p_w: np.ndarray, p_a: np.ndarray, spread: np.ndarray, zs: np.ndarray, w: np.ndarray
    ) -> np.ndarray:
        return np.column_stack(
            [
                np.abs(p_w - p_a),
                spread,
                w[:, WITHIN_NAMES.index("knn_score_std")],
                w[:, WITHIN_NAMES.index("nearest_sim")],
                w[:, WITHIN_NAMES.index("n_graded_log")],
                p,
                np.abs(p - 0.5),
                np.abs(p - zs),
                np.abs(p - w[:, 0]),
                np.abs(p - w[:, WITHIN_NAMES.index("kernel_ridge_score")]),
            ]
        )

    @staticmethod
    def _error_features_across(p: np.ndarray, spread: np.ndarray, zs: np.ndarray, g: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [
                p,
                spread,
                np.abs(p - 0.5),
                np.abs(p - zs),
                g[:, GENERIC_NAMES.index("ref_cos_max")],
                g[:, GENERIC_NAMES.index("question_cos")],
                g[:, GENERIC_NAMES.index("text_n_words_log")],
            ]
        )

    def _calibrate(self, y: np.ndarray, p: np.ndarray, feats: np.ndarray, mask: np.ndarray) -> dict[str, Any] | None:
        """Normalised split-conformal calibration on out-of-fold predictions.

        An error model (cross-fitted, so no row's predicted error saw its own
        residual) predicts |residual|; the (1 - alpha) quantile of residual /
        predicted error scales it into an interval half-width.
        """
        from sklearn.model_selection import KFold

        idx = np.flatnonzero(mask & ~np.isnan(p))
        if len(idx) < 20:
            return None
        resid = np.abs(y[idx] - p[idx])
        x = feats[idx]
        sigma_oof = np.zeros(len(idx))
        kf = KFold(n_splits=5, shuffle=True, random_state=self.seed)
        for tr, te in kf.split(idx):
            m = _make_error_model(self.seed, len(tr)).fit(x[tr], resid[tr])
            sigma_oof[te] = m.predict(x[te])
        floor = max(1e-3, float(np.quantile(resid, 0.1)))
        sigma_oof = np.maximum(sigma_oof, floor)
        q = _conformal_quantile(resid / sigma_oof, self.alpha)
        model = _make_error_model(self.seed, len(idx)).fit(x, resid)
        half = np.maximum(q * sigma_oof, MIN_HALF_WIDTH)
        lower, upper = np.clip(p[idx] - half, 0, 1), np.clip(p[idx] + half, 0, 1)
        conf = np.clip(1 - (upper - lower), 0, 1)
        order = np.argsort(conf)
        low, high = order[: len(order) // 2], order[len(order) // 2 :]
        err = y[idx] - p[idx]
        report = {
            "n": len(idx),
            "q": q,
            "coverage": float(np.mean((y[idx] >= lower) & (y[idx] <= upper))),
            "mean_confidence": float(conf.mean()),
            "rmse_norm_low_confidence_half": _rmse(err[low], 0 * err[low]),
            "rmse_norm_high_confidence_half": _rmse(err[high], 0 * err[high]),
        }
        return {"model": model, "q": q, "floor": floor, "report": report}

    def _interval(
        self, calib: dict[str, Any] | None, p: np.ndarray, feats: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if calib is None or not math.isfinite(calib["q"]):
            return np.zeros(len(p)), np.ones(len(p)), np.zeros(len(p))
        sigma = np.maximum(calib["model"].predict(feats), calib["floor"])
        half = np.maximum(calib["q"] * sigma, MIN_HALF_WIDTH)
        lower, upper = np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)
        return lower, upper, np.clip(1 - (upper - lower), 0, 1)

    # -- predict --------------------------------------------------------------------
    def predict(self, items: Sequence[GradingItem]) -> list[GradeResult]:
        """Grade a batch; every distinct text of the batch is encoded once."""
        items = list(items)
        if not items:
            return []
        an, emb = self._analyse(items)
        if not self.fitted:
            results = [self._zero_shot_result(it, a) for it, a in zip(items, an, strict=True)]
            return _with_traits(results, items, an, emb, None)
        with _sklearn_threads():
            results = self._predict_learned(items, an, emb)
            return _with_traits(results, items, an, emb, self._state.get("traits"))

    def _predict_learned(self, items: list[GradingItem], an: list[_Analysis], emb: np.ndarray) -> list[GradeResult]:
        st = self._state
        g = self._generic_matrix(items, an)
        keys = [it.key for it in items]
        rows = np.arange(len(items))
        rel = g[:, [GENERIC_NAMES.index(c) for c in RELATIVE_COLUMNS]]
        texts = [it.answer for it in items]
        w = _within_features(keys, emb, rel, rows, st["memory"], st["lambda"], loo=False, texts=texts)
        has_w = ~np.isnan(w[:, 0]) & bool(st["within_models"])
        members_a = np.vstack([np.clip(m.predict(g), 0, 1) for m in st["across_models"]])
        p_a, s_a = members_a.mean(axis=0), members_a.std(axis=0)
        p_w = np.full(len(items), np.nan)
        s_w = np.full(len(items), np.nan)
        if has_w.any():
            x = np.hstack([g[has_w], w[has_w]])
            members_w = np.vstack([np.clip(m.predict(x), 0, 1) for m in st["within_models"]])
            p_w[has_w], s_w[has_w] = members_w.mean(axis=0), members_w.std(axis=0)
        blend = st["blend"]
        p = np.where(has_w, blend * np.nan_to_num(p_w) + (1 - blend) * p_a, p_a)
        zs = g[:, GENERIC_NAMES.index("zero_shot")]
        lower, upper, conf = self._interval(st["calib_across"], p, self._error_features_across(p, s_a, zs, g))
        if has_w.any():
            fw = self._error_features_within(p, p_w, p_a, s_w, zs, w)[has_w]
            lw, uw, cw = self._interval(st["calib_within"], p[has_w], fw)
            lower[has_w], upper[has_w], conf[has_w] = lw, uw, cw
        out = []
        for i, (it, a) in enumerate(zip(items, an, strict=True)):
            out.append(
                self._learned_result(
                    it,
                    a,
                    g[i],
                    w[i],
                    float(p[i]),
                    float(p_w[i]),
                    float(p_a[i]),
                    bool(has_w[i]),
                    float(lower[i]),
                    float(upper[i]),
                    float(conf[i]),
                )
            )
        return out

    # -- results ----------------------------------------------------------------------
    def _flags_final(self, it: GradingItem, a: _Analysis, nearest_sim: float, expected: float) -> list[str]:
        flags = list(a.flags)
        if "blank" in flags:
            return flags
        has_context = bool(it.question.strip() or it.reference_answers or it.key_points)
        if (
            has_context
            and a.off_topic_candidate
            and "gibberish" not in flags
            and not (math.isfinite(nearest_sim) and nearest_sim >= OFF_TOPIC_NEIGHBOUR_SIM)
        ):
            flags.append("off_topic")
        if math.isfinite(expected) and expected >= TOO_SHORT_MIN_EXPECTED and a.n_words < TOO_SHORT_FRACTION * expected:
            flags.append("too_short")
        return [f for f in FLAGS if f in flags]

    def _base_features(self, a: _Analysis) -> dict[str, float]:
        f = {
            "ref_cos_max": float(a.ref_cos.max()) if len(a.ref_cos) else math.nan,
            "question_cos": a.question_cos,
            "token_f1": a.token[2],
            "criteria_met": float(sum(c.met for c in a.criteria)),
            "criteria_total": float(len(a.criteria)),
            "n_words": float(a.n_words),
            "spelling_error_ratio": a.text["spelling_error_ratio"],
            "flesch_reading_ease": a.text["flesch_reading_ease"],
        }
        f.update({f"zero_shot_{k}": v for k, v in a.zs.items()})
        return {k: (round(v, 4) if math.isfinite(v) else None) for k, v in f.items()}

    def _zero_shot_result(self, it: GradingItem, a: _Analysis) -> GradeResult:
        flags = self._flags_final(it, a, math.nan, a.expected_words)
        combined = a.zs["combined"]
        feats = self._base_features(a)
        span = it.max_score - it.min_score
        if not math.isfinite(combined):
            return GradeResult(
                score=None,
                confidence=0.0,
                mode="zero-shot",
                criteria=[],
                flags=flags,
                feedback=feedback.RECEIVED,
                explanation=(
                    "Not graded: no reference answer, no rubric key points, no scored exemplars and no model "
                    "trained on graded answers for this question."
                ),
                features=feats,
                needs_review=True,
                model_version=self.version,
            )
        score = it.min_score + span * combined
        parts = [v for k, v in a.zs.items() if k != "combined"]
        agreement = 1.0 - (max(parts) - min(parts)) if len(parts) > 1 else 0.5
        conf = round(ZERO_SHOT_MAX_CONFIDENCE * agreement, 3)
        if flags:
            conf = 0.0
        if set(flags) & HARD_FLAGS:
            score = it.min_score
        explanation = (
            f"Zero-shot (uncalibrated, no graded examples): suggested {score:.2f} of "
            f"{it.min_score:g}-{it.max_score:g} = {ZS_WEIGHTS[0]:g} x semantic "
            f"{a.zs.get('semantic', math.nan):.2f} + {ZS_WEIGHTS[1]:g} x key-point coverage "
            f"{a.zs.get('coverage', math.nan):.2f} + {ZS_WEIGHTS[2]:g} x word overlap "
            f"{a.zs.get('lexical', math.nan):.2f}"
            + (f" + {ZS_WEIGHTS[0]:g} x scored exemplars {a.zs['exemplars']:.2f}" if "exemplars" in a.zs else "")
            + " (weights renormalised over available parts). "
            + self._evidence_text(a)
            + self._flag_text(flags, a)
        )
        return GradeResult(
            score=round(float(score), 3),
            confidence=conf,
            mode="zero-shot",
            criteria=a.criteria,
            flags=flags,
            feedback=self._feedback(it, a, flags, a.expected_words),
            explanation=explanation,
            features=feats,
            needs_review=True,
            model_version=self.version,
        )

    def _learned_result(
        self,
        it: GradingItem,
        a: _Analysis,
        g: np.ndarray,
        w: np.ndarray,
        p: float,
        p_w: float,
        p_a: float,
        has_w: bool,
        lower: float,
        upper: float,
        conf: float,
    ) -> GradeResult:
        st = self._state
        expected = st["expected_words"].get(it.key, a.expected_words)
        nearest_sim = float(w[WITHIN_NAMES.index("nearest_sim")]) if has_w else math.nan
        flags = self._flags_final(it, a, nearest_sim, expected)
        span = it.max_score - it.min_score
        score = it.min_score + span * p
        grid = st.get("grid_maps", {}).get(it.key) if has_w else None
        if grid is not None:  # a grade on the question's grid, by its learned cut points
            score = float(grid["levels"][int(np.searchsorted(grid["cuts"], p))])
        interval = (round(it.min_score + span * lower, 3), round(it.min_score + span * upper, 3))
        if flags:
            conf = 0.0
        if set(flags) & HARD_FLAGS:
            score = it.min_score
        feats = self._base_features(a)
        feats.update(
            {
                "within_question": float(has_w),
                "within_prediction": round(it.min_score + span * p_w, 4) if has_w else None,
                "across_prediction": round(it.min_score + span * p_a, 4),
                "blend_within_weight": st["blend"] if has_w else 0.0,
                "continuous_score": round(it.min_score + span * p, 4),
            }
        )
        if has_w:
            for name in ("knn_score", "nearest_score", "nearest_sim", "n_graded_log"):
                v = float(w[WITHIN_NAMES.index(name)])
                if name in ("knn_score", "nearest_score"):
                    v = it.min_score + span * v
                feats[name] = round(v, 4)
        if has_w:
            n_graded = len(st["memory"][it.key].y)
            how = (
                f"Learned: within-question model ({st['within_kind']}) using {n_graded} graded "
                f"answers of this question, blended {st['blend']:.1f}/{1 - st['blend']:.1f} with "
                f"the across-question model ({st['across_kind']}). Nearest graded answer "
                f"(cosine {nearest_sim:.2f}) scored {feats['nearest_score']:g}; similarity-"
                f"weighted neighbours {feats['knn_score']:.2f}. "
            )
        else:
            n_here = len(st["memory"][it.key].y) if it.key in st["memory"] else 0
            how = (
                f"Learned: across-question model ({st['across_kind']}) trained on other "
                f"questions; {n_here} graded answers of this question (within-question "
                f"learning needs {MIN_GRADED}). "
            )
        criteria = _consistent_criteria(a.criteria, p, conf)
        explanation = (
            how + f"Suggested {score:.2f} of {it.min_score:g}-{it.max_score:g}, 90% interval "
            f"{interval[0]:.2f}-{interval[1]:.2f}, confidence {conf:.2f}. "
            + self._evidence_text(a)
            + self._flag_text(flags, a)
        )
        return GradeResult(
            score=round(float(score), 3),
            confidence=round(float(conf), 3),
            mode="learned",
            criteria=criteria,
            flags=flags,
            feedback=self._feedback(it, a, flags, expected, criteria),
            explanation=explanation,
            features=feats,
            interval=interval,
            needs_review=bool(flags) or conf < REVIEW_BELOW,
            model_version=self.version,
        )

    @staticmethod
    def _evidence_text(a: _Analysis) -> str:
        parts = []
        if len(a.ref_cos):
            parts.append(
                f"Similarity to the closest reference {a.ref_cos.max():.2f}; content-word F1 {a.token[2]:.2f}."
            )
        if a.criteria:
            met = sum(c.met for c in a.criteria)
            parts.append(f"Key points covered: {met}/{len(a.criteria)}.")
        if math.isfinite(a.question_cos):
            parts.append(f"Similarity to the question {a.question_cos:.2f}.")
        return " ".join(parts)

    @staticmethod
    def _flag_text(flags: list[str], a: _Analysis) -> str:
        if not flags:
            return ""
        detail = []
        for f in flags:
            if f == "gibberish" and a.gibberish:
                detail.append(f"gibberish ({', '.join(a.gibberish)})")
            elif f == "copied_reference":
                detail.append(f"copied_reference (text similarity {a.copy_ratio:.2f})")
            else:
                detail.append(f)
        hard = set(flags) & HARD_FLAGS
        tail = (
            " Not scored as normal: the score shown is the minimum, as a placeholder."
            if hard
            else " Scored, but confidence set to 0 for review."
        )
        return " Flags: " + "; ".join(detail) + "." + tail

    @staticmethod
    def _feedback(
        it: GradingItem,
        a: _Analysis,
        flags: list[str],
        expected: float,
        criteria: Sequence[CriterionResult] | None = None,
    ) -> str:
        """Student-facing feedback, worded in ``multimodal.feedback``."""
        domain = [it.question, *it.reference_answers, *it.key_points]
        return feedback.answer_feedback(
            criteria=a.criteria if criteria is None else criteria,
            flags=flags,
            n_words=a.n_words,
            expected_words=expected,
            text_stats=a.text,
            spelling_errors=tf.spelling_errors(it.answer, domain),
        )

    # -- artifacts ---------------------------------------------------------------------
    def _payload(self) -> dict[str, Any]:
        st = dict(self._state)
        st["memory"] = {k: asdict(m) for k, m in st["memory"].items()}
        return {
            "format": ARTIFACT_FORMAT,
            "state": st,
            "alpha": self.alpha,
            "score_step": self.score_step,
            "seed": self.seed,
            "keypoint_model": self.keypoint_model,  # a KeypointModel (pickled with the grader) or None
        }

    def _payload_bytes(self) -> bytes:
        import joblib

        buf = io.BytesIO()
        joblib.dump(self._payload(), buf)
        return buf.getvalue()

    def _digest(self) -> str:
        return hashlib.sha256(self._payload_bytes()).hexdigest()

    def metadata(self) -> dict[str, Any]:
        return _json_clean(
            {
                "format": ARTIFACT_FORMAT,
                "version": self.version,
                "created_at": self.created_at,
                "encoder": self._encoder_name(),
                "keypoint_model": self.keypoint_model.version if self.keypoint_model is not None else None,
                "alpha": self.alpha,
                "confidence_definition": (
                    "1 - (upper - lower) / (max_score - min_score) of a "
                    f"{1 - self.alpha:.0%} normalised conformal interval"
                ),
                "training_summary": self.summary,
                "metrics": self.metrics,
            }
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``grader.joblib`` and ``metadata.json`` into directory ``path``."""

        if not self.fitted:
            raise ValueError("nothing to save: the grader is not fitted (zero-shot needs no artifact)")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        data = self._payload_bytes()
        self.version = f"{GRADER_VERSION}-{hashlib.sha256(data).hexdigest()[:8]}"
        tmp = path / f".{MODEL_FILE}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path / MODEL_FILE)
        tmp = path / f".{METADATA_FILE}.tmp"
        tmp.write_text(json.dumps(self.metadata(), indent=2, sort_keys=True, allow_nan=False))
        os.replace(tmp, path / METADATA_FILE)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], encoder: Any = None) -> Grader:
        """Load a saved grader; checks format, content digest and encoder name."""
        import joblib

        path = Path(path)
        for p in (path / MODEL_FILE, path / METADATA_FILE):
            if not p.is_file():
                raise FileNotFoundError(f"grader artifact at {path} is incomplete: {p.name} is missing")
        meta = json.loads((path / METADATA_FILE).read_text())
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(
                f"grader artifact {path} has format {meta.get('format')!r}; this code reads {ARTIFACT_FORMAT}"
            )
        data = (path / MODEL_FILE).read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:8]
        if not str(meta.get("version", "")).endswith(digest):
            raise ValueError(
                f"grader artifact {path}: {MODEL_FILE} digest {digest} does not match version {meta.get('version')!r}"
            )
        payload = joblib.load(io.BytesIO(data))
        obj = cls(
            encoder,
            seed=payload["seed"],
            alpha=payload["alpha"],
            score_step=payload["score_step"],
            keypoint_model=payload.get("keypoint_model"),
        )
        st = payload["state"]
        st["memory"] = {
            k: _QuestionMemory(**{**m, "lexical": _LexicalMemory(**m["lexical"]) if m.get("lexical") else None})
            for k, m in st["memory"].items()
        }
        obj._state = st
        obj.fitted = True
        obj.version = meta["version"]
        obj.summary = meta.get("training_summary", {})
        obj.metrics = meta.get("metrics", {})
        obj.created_at = meta.get("created_at", "")
        wanted = meta.get("encoder", "")
        if encoder is not None and wanted and obj._encoder_name() not in (wanted, ""):
            raise ValueError(f"grader {obj.version} was trained with encoder {wanted!r}, got {obj._encoder_name()!r}")
        return obj


def __getattr__(name: str) -> Any:
    # Lets pickle find SmallSafeKNN in a fresh process without importing
    # scikit-learn when this module is imported.
    if name == "SmallSafeKNN":
        return _small_safe_knn()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
