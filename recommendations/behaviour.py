"""Learning-behaviour analysis on plain arrays: features, engagement, patterns, at-risk model.

No Django here: the service layer turns database rows into :class:`Timeline` objects,
and this module turns timelines into numbers. That keeps the logic testable on a
hand-made timeline and shared by the Celery task, the admin and ``benchmark_risk``.

Time is measured in days since the course start (floats; negative = before the
start). ``as_of`` is an *exclusive* upper bound: an event at day ``t`` is known at
``as_of`` only when ``t < as_of``. "Data available by day D" is ``as_of = D + 1``.

* :func:`compute_features` - activity counts by verb and resource type, active days,
  sessions, recency, streaks, idle gaps, modality mix, deadlines (on time / late /
  missed), score level and trend, enrolment facts. Optionally over a trailing window.
* :func:`engagement_score` - a transparent 0-100 composite (regularity, recency,
  submission and punctuality), no training needed.
* :func:`classify_pattern` - active / passive / struggling / disengaged, with the
  features and thresholds that drove the call, so a teacher can check it.
* :class:`RiskModel` - standardised logistic regression whose parameters are plain
  lists (stored as JSON in the database, no pickles), with per-student reasons
  (the features that pushed the probability up).
* :func:`guardrail_evaluate` - Moodle's acceptance rule: mean evaluation score
  (ROC AUC here) >= 0.7 with standard deviation <= 0.05 over 10 random splits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise

import numpy as np

__all__ = [
    "FEATURE_NAMES",
    "RISK_FEATURES",
    "Cohort",
    "Deadline",
    "Event",
    "GuardrailResult",
    "Pattern",
    "RiskModel",
    "Timeline",
    "classify_pattern",
    "compute_features",
    "confidence_of",
    "describe_feature",
    "engagement_score",
    "fit_risk_model",
    "guardrail_evaluate",
    "resource_category",
    "verb_name",
]

SESSION_GAP_MINUTES = 30.0
RECENT_DAYS = 14.0
FAIL_SCORE = 0.4  # scaled score under which an assessment counts as failed
MIN_COHORT = 10  # students needed before pattern limits follow the course's medians

# Verbs counted one by one (last segment of the verb IRI); everything else is "other".
TRACKED_VERBS = (
    "logged-in",
    "launched",
    "viewed",
    "experienced",
    "attempted",
    "answered",
    "submitted",
    "scored",
    "completed",
    "interacted",
    "commented",
)
# Verbs that show the learner producing something rather than consuming.
CONTRIBUTING_VERBS = frozenset(
    {
        "attempted",
        "answered",
        "submitted",
        "completed",
        "interacted",
        "commented",
        "shared",
        "posted",
        "replied",
        "asked",
    }
)
# Bookkeeping statements: not learning activity (they still set enrolment facts).
ADMIN_VERBS = frozenset({"registered", "unregistered", "passed", "failed", "withdrew", "scored", "voided"})
RESOURCE_CATEGORIES = ("assessment", "video", "audio", "text", "image", "discussion", "other")
MODALITIES = ("video", "audio", "text", "image")

_RESOURCE_WORDS = (
    ("video", ("video", "movie")),
    ("audio", ("audio", "podcast", "recording", "speech")),
    ("image", ("image", "picture", "photo", "figure")),
    ("discussion", ("discussion", "forum", "comment", "chat", "thread", "post")),
    ("assessment", ("assessment", "assignment", "question", "interaction", "quiz", "exam", "test")),
    (
        "text",
        (
            "document",
            "reading",
            "page",
            "file",
            "lesson",
            "text",
            "article",
            "book",
            "link",
            "module",
            "resource",
            "html",
        ),
    ),
)


def verb_name(verb_iri: str) -> str:
    """``http://adlnet.gov/expapi/verbs/completed`` -> ``completed``."""
    return verb_iri.rstrip("/").rsplit("/", 1)[-1].lower()


def resource_category(object_type: str) -> str:
    """Map an xAPI activity type IRI (or a short name) to one of RESOURCE_CATEGORIES."""
    name = object_type.rstrip("/").rsplit("/", 1)[-1].lower()
    for category, words in _RESOURCE_WORDS:
        if any(w in name for w in words):
            return category
    return "other"


@dataclass
class Event:
    """One learning event, already reduced to what the features need."""

    day: float
    verb: str  # short verb name (see verb_name)
    resource: str = "other"  # one of RESOURCE_CATEGORIES
    modalities: tuple[str, ...] = ()  # content or answer modalities involved (video/audio/text/image)
    score: float | None = None  # scaled 0..1 when the event carries a score
    key: str = ""  # identifies the scored thing (e.g. "submission:12") so scores are not counted twice


@dataclass
class Deadline:
    """One assignment as seen by one student: due day, first submission day, scaled score."""

    due_day: float | None
    submitted_day: float | None = None
    score: float | None = None
    key: str = ""


@dataclass
class Timeline:
    """Everything the product knows about one student in one course."""

    events: list[Event] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    registered_day: float | None = None
    unregistered_day: float | None = None
    # Facts from outside this course (other enrolments): name -> number.
    context: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------- features

_COUNT_FEATURES = (
    ["events_total"]
    + [f"verb_{v.replace('-', '_')}" for v in TRACKED_VERBS]
    + ["verb_other"]
    + [f"resource_{r}" for r in RESOURCE_CATEGORIES]
)
FEATURE_NAMES: tuple[str, ...] = tuple(
    _COUNT_FEATURES
    + [
        "active_days",
        "active_days_recent",
        "events_recent",
        "sessions",
        "session_minutes_mean",
        "days_since_activity",
        "longest_streak_days",
        "current_streak_days",
        "max_idle_gap_days",
        "mean_idle_gap_days",
        "contributing_share",
        *[f"modality_{m}" for m in MODALITIES],
        "deadlines_due",
        "submitted_on_time",
        "submitted_late",
        "deadlines_missed",
        "submitted_ahead",
        "submission_rate",
        "on_time_rate",
        "mean_days_late",
        "scores_count",
        "score_mean",
        "score_last",
        "score_min",
        "score_trend",
        "scores_failed",
        "registration_lead_days",
        "days_enrolled",
        "withdrawn",
        "prior_enrolments",
        "concurrent_enrolments",
    ]
)

# Features that are counts (log1p before standardising in the risk model).
COUNT_LIKE = frozenset(
    _COUNT_FEATURES
    + [
        "active_days",
        "active_days_recent",
        "events_recent",
        "sessions",
        "deadlines_due",
        "submitted_on_time",
        "submitted_late",
        "deadlines_missed",
        "submitted_ahead",
        "scores_count",
        "scores_failed",
        "prior_enrolments",
        "concurrent_enrolments",
        "session_minutes_mean",
        "longest_streak_days",
        "current_streak_days",
    ]
)

# The at-risk model's inputs: behaviour the product observes, nothing demographic.
RISK_FEATURES: tuple[str, ...] = (
    "events_total",
    "active_days",
    "active_days_recent",
    "days_since_activity",
    "max_idle_gap_days",
    "deadlines_due",
    "submitted_on_time",
    "submitted_late",
    "deadlines_missed",
    "submitted_ahead",
    "submission_rate",
    "mean_days_late",
    "scores_count",
    "score_mean",
    "score_last",
    "score_min",
    "score_trend",
    "scores_failed",
    "registration_lead_days",
    "days_enrolled",
    "withdrawn",
    "prior_enrolments",
    "concurrent_enrolments",
    "contributing_share",
)

# Which way each feature points, for explanations: +1 higher = riskier, -1 higher =
# safer, 0 = context (course timing) that is never given as a reason. A model
# coefficient against this direction (collinear features do that) is not shown.
RISK_DIRECTION: dict[str, int] = {
    "events_total": -1,
    "active_days": -1,
    "active_days_recent": -1,
    "days_since_activity": 1,
    "max_idle_gap_days": 1,
    "deadlines_due": 0,
    "submitted_on_time": -1,
    "submitted_late": 1,
    "deadlines_missed": 1,
    "submitted_ahead": -1,
    "submission_rate": -1,
    "mean_days_late": 1,
    "scores_count": -1,
    "score_mean": -1,
    "score_last": -1,
    "score_min": -1,
    "score_trend": -1,
    "scores_failed": 1,
    "registration_lead_days": -1,
    "days_enrolled": 0,
    "withdrawn": 1,
    "prior_enrolments": 1,
    "concurrent_enrolments": 1,
    "contributing_share": -1,
}

_LABELS = {
    "events_total": "learning events",
    "active_days": "active days",
    "active_days_recent": "active days (last 14)",
    "events_recent": "events (last 14 days)",
    "days_since_activity": "days since last activity",
    "max_idle_gap_days": "longest idle gap (days)",
    "deadlines_due": "deadlines passed",
    "submitted_on_time": "submitted on time",
    "submitted_late": "submitted late",
    "deadlines_missed": "missed deadlines",
    "submitted_ahead": "submitted ahead of deadline",
    "submission_rate": "share of due work submitted",
    "on_time_rate": "share submitted on time",
    "mean_days_late": "average days late",
    "scores_count": "scored assessments",
    "score_mean": "average score",
    "score_last": "latest score",
    "score_min": "lowest score",
    "score_trend": "score trend (per 30 days)",
    "scores_failed": "failed assessments",
    "registration_lead_days": "registered days before start",
    "days_enrolled": "days enrolled",
    "withdrawn": "withdrawn",
    "prior_enrolments": "earlier courses taken",
    "concurrent_enrolments": "other courses at the same time",
    "contributing_share": "share of active contributions",
    "sessions": "sessions",
    "session_minutes_mean": "average session (minutes)",
}


def describe_feature(name: str, value: float | None) -> str:
    """A short human-readable phrase: ``"missed deadlines: 2"``, ``"average score: 35%"``."""
    label = _LABELS.get(name, name.replace("_", " "))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{label}: none yet"
    if name in (
        "score_mean",
        "score_last",
        "score_min",
        "submission_rate",
        "on_time_rate",
        "contributing_share",
    ) or name.startswith("modality_"):
        return f"{label}: {value:.0%}"
    if name == "score_trend":
        return f"{label}: {value:+.0%}"
    if name == "withdrawn":
        return "withdrawn from the course" if value else "still enrolled"
    return f"{label}: {value:g}" if float(value).is_integer() else f"{label}: {value:.1f}"


def _streaks(days: Sequence[int]) -> tuple[int, int]:
    """(longest run of consecutive active days, run ending at the last active day)."""
    longest = current = 0
    prev = None
    for d in days:
        current = current + 1 if prev is not None and d == prev + 1 else 1
        longest = max(longest, current)
        prev = d
    return longest, current


def _slope_per_30_days(days: Sequence[float], values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    x = np.asarray(days, dtype=float)
    y = np.asarray(values, dtype=float)
    if np.ptp(x) == 0:
        return 0.0
    return float(np.polyfit(x, y, 1)[0] * 30.0)


def compute_features(timeline: Timeline, as_of: float, window_days: float | None = None) -> dict[str, float]:
    """Features of one timeline with the data known before ``as_of`` (days since start).

    Activity features use the trailing window ``[as_of - window_days, as_of)`` when a
    window is given, else everything before ``as_of``. Deadline, score and enrolment
    features always use everything known before ``as_of`` (a missed deadline stays
    missed). Missing values (no scores yet, unknown registration) are NaN; the risk
    model imputes them.
    """
    nan = float("nan")
    start = -math.inf if window_days is None else as_of - window_days
    events = sorted((e for e in timeline.events if start <= e.day < as_of), key=lambda e: e.day)
    learning = [e for e in events if e.verb not in ADMIN_VERBS]
    f: dict[str, float] = dict.fromkeys(FEATURE_NAMES, 0.0)

    # Activity counts by verb and by resource type.
    f["events_total"] = float(len(learning))
    for e in learning:
        key = f"verb_{e.verb.replace('-', '_')}"
        f[key if e.verb in TRACKED_VERBS else "verb_other"] += 1
        f[f"resource_{e.resource if e.resource in RESOURCE_CATEGORIES else 'other'}"] += 1
    f["verb_scored"] = float(sum(1 for e in events if e.verb == "scored"))
    f["contributing_share"] = sum(e.verb in CONTRIBUTING_VERBS for e in learning) / len(learning) if learning else 0.0

    # Days, sessions, streaks, recency, idle gaps.
    active = sorted({math.floor(e.day) for e in learning})
    f["active_days"] = float(len(active))
    f["active_days_recent"] = float(sum(1 for d in active if d >= as_of - RECENT_DAYS))
    f["events_recent"] = float(sum(1 for e in learning if e.day >= as_of - RECENT_DAYS))
    sessions: list[float] = []
    if learning:
        first = last = learning[0].day
        for e in learning[1:]:
            if (e.day - last) * 1440.0 > SESSION_GAP_MINUTES:
                sessions.append((last - first) * 1440.0)
                first = e.day
            last = e.day
        sessions.append((last - first) * 1440.0)
    f["sessions"] = float(len(sessions))
    f["session_minutes_mean"] = float(np.mean(sessions)) if sessions else 0.0
    f["longest_streak_days"], f["current_streak_days"] = map(float, _streaks(active))
    origin = max(0.0, timeline.registered_day or 0.0, start if window_days is not None else 0.0)
    if learning:
        f["days_since_activity"] = float(as_of - learning[-1].day)
        marks = [origin] + [e.day for e in learning] + [as_of]
    else:
        f["days_since_activity"] = float(max(0.0, as_of - origin))
        marks = [origin, as_of]
    gaps = [b - a for a, b in pairwise(marks) if b - a >= 1.0]
    f["max_idle_gap_days"] = float(max(gaps)) if gaps else 0.0
    f["mean_idle_gap_days"] = float(np.mean(gaps)) if gaps else 0.0

    # Modality mix of content and answers.
    mods = [m for e in learning for m in e.modalities if m in MODALITIES]
    mods += [
        {"video": "video", "audio": "audio", "image": "image", "text": "text"}[e.resource]
        for e in learning
        if e.resource in MODALITIES and not e.modalities
    ]
    for m in MODALITIES:
        f[f"modality_{m}"] = mods.count(m) / len(mods) if mods else 0.0

    # Deadlines (everything known before as_of, whatever the window).
    late_days = []
    for d in timeline.deadlines:
        submitted = d.submitted_day is not None and d.submitted_day < as_of
        if d.due_day is not None and d.due_day < as_of:
            f["deadlines_due"] += 1
            if not submitted:
                f["deadlines_missed"] += 1
            elif d.submitted_day <= d.due_day:
                f["submitted_on_time"] += 1
            else:
                f["submitted_late"] += 1
                late_days.append(d.submitted_day - d.due_day)
        elif submitted:
            f["submitted_ahead"] += 1
    due = f["deadlines_due"]
    f["submission_rate"] = (f["submitted_on_time"] + f["submitted_late"]) / due if due else nan
    done = f["submitted_on_time"] + f["submitted_late"]
    f["on_time_rate"] = f["submitted_on_time"] / done if done else nan
    f["mean_days_late"] = float(np.mean(late_days)) if late_days else 0.0

    # Scores: scored events, plus deadline scores not already reported by an event.
    scored: dict[str, tuple[float, float]] = {}
    for e in timeline.events:
        if e.score is not None and e.day < as_of:
            scored[e.key or f"event:{id(e)}"] = (e.day, e.score)
    for d in timeline.deadlines:
        if d.score is not None and d.submitted_day is not None and d.submitted_day < as_of:
            scored.setdefault(d.key or f"deadline:{id(d)}", (d.submitted_day, d.score))
    points = sorted(scored.values())
    f["scores_count"] = float(len(points))
    if points:
        vals = [s for _, s in points]
        f["score_mean"] = float(np.mean(vals))
        f["score_last"] = float(vals[-1])
        f["score_min"] = float(min(vals))
        f["score_trend"] = _slope_per_30_days([t for t, _ in points], vals)
        f["scores_failed"] = float(sum(v < FAIL_SCORE for v in vals))
    else:
        f["score_mean"] = f["score_last"] = f["score_min"] = nan

    # Enrolment.
    reg = timeline.registered_day
    f["registration_lead_days"] = float(-reg) if reg is not None else nan
    withdrawn = timeline.unregistered_day is not None and timeline.unregistered_day < as_of
    f["withdrawn"] = 1.0 if withdrawn else 0.0
    end = timeline.unregistered_day if withdrawn else as_of
    f["days_enrolled"] = float(max(0.0, end - max(reg if reg is not None else 0.0, 0.0)))
    for k in ("prior_enrolments", "concurrent_enrolments"):
        f[k] = float(timeline.context.get(k, 0.0))
    return f


# --------------------------------------------------------------------- engagement

ENGAGEMENT_WEIGHTS = {"regularity": 0.3, "recency": 0.3, "submission": 0.25, "punctuality": 0.15}


def engagement_score(features: dict[str, float]) -> float:
    """0-100: regularity (5+ active days in the last 14 = full), recency (halves every
    ~10 days idle), share of due work submitted, share submitted on time. Parts that
    are undefined (nothing due yet) drop out and the rest are re-weighted."""
    if features.get("withdrawn"):
        return 0.0
    parts = {
        "regularity": min(1.0, features["active_days_recent"] / 5.0),
        "recency": math.exp(-features["days_since_activity"] / 14.0),
        "submission": features["submission_rate"],
        "punctuality": features["on_time_rate"],
    }
    total = weight = 0.0
    for name, value in parts.items():
        if value is None or math.isnan(value):
            continue
        total += ENGAGEMENT_WEIGHTS[name] * value
        weight += ENGAGEMENT_WEIGHTS[name]
    return round(100.0 * total / weight, 1) if weight else 0.0


# ----------------------------------------------------------------------- patterns


class Pattern:
    ACTIVE = "active"
    PASSIVE = "passive"
    STRUGGLING = "struggling"
    DISENGAGED = "disengaged"
    UNKNOWN = "unknown"
    CHOICES = (ACTIVE, PASSIVE, STRUGGLING, DISENGAGED, UNKNOWN)
    HELP = {
        ACTIVE: "takes part regularly and keeps up with deadlines",
        PASSIVE: "present but rarely active: few active days or mostly consuming",
        STRUGGLING: "takes part but scores are low or falling",
        DISENGAGED: "inactive for a long time, missing deadlines, or withdrawn",
        UNKNOWN: "not enough data yet",
    }


def _driver(f: dict[str, float], name: str, rule: str) -> dict:
    value = f.get(name)
    value = None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 3)
    return {"feature": name, "value": value, "rule": rule, "text": describe_feature(name, value)}


@dataclass
class Cohort:
    """What is typical in the course right now (medians over its enrolled students), so
    pattern rules adapt to how a course is run: a course with an assessment every
    month and no click data must not call everyone idle for two weeks disengaged."""

    days_since_activity: float = 0.0
    active_days_recent: float = 5.0

    @classmethod
    def of(cls, rows: Iterable[dict[str, float]]) -> Cohort:
        rows = [r for r in rows if not r.get("withdrawn")]
        if len(rows) < MIN_COHORT:
            return cls()  # too few students for a typical value: absolute limits
        return cls(
            float(np.median([r["days_since_activity"] for r in rows])),
            float(np.median([r["active_days_recent"] for r in rows])),
        )


def classify_pattern(f: dict[str, float], cohort: Cohort | None = None) -> tuple[str, list[dict]]:
    """Rule-based behaviour pattern and the features that drove it (checked in order:
    disengaged, struggling, passive, active). Rules are deliberately simple so a
    teacher can verify every call from the numbers shown next to it.

    Idle and low-activity limits are absolute (14 days idle; 2 or fewer active days
    in the last 14) but loosened to twice / half of what is typical in the course
    when a ``cohort`` is given."""
    cohort = cohort or Cohort()
    if f["withdrawn"]:
        return Pattern.DISENGAGED, [_driver(f, "withdrawn", "withdrawn")]
    if (
        f["events_total"] == 0
        and f["deadlines_due"] == 0
        and f["scores_count"] == 0
        and f["days_since_activity"] < RECENT_DAYS
    ):
        return Pattern.UNKNOWN, []  # just started: no evidence either way yet
    drivers = []
    idle_limit = max(RECENT_DAYS, 2.0 * cohort.days_since_activity)
    if f["days_since_activity"] >= idle_limit:
        drivers.append(
            _driver(
                f,
                "days_since_activity",
                f">= {idle_limit:.0f} days without activity"
                + (" (twice the course median)" if idle_limit > RECENT_DAYS else ""),
            )
        )
    if f["deadlines_missed"] >= 2 and f["deadlines_missed"] >= 0.5 * f["deadlines_due"]:
        drivers.append(_driver(f, "deadlines_missed", "missed at least 2 and half of the deadlines"))
    if drivers:
        return Pattern.DISENGAGED, drivers
    if f["scores_count"] >= 1 and f["score_mean"] < 0.5:
        drivers.append(_driver(f, "score_mean", "average score under 50%"))
    if f["scores_failed"] >= 2:
        drivers.append(_driver(f, "scores_failed", f"2 or more scores under {FAIL_SCORE:.0%}"))
    if f["scores_count"] >= 3 and f["score_trend"] <= -0.1:
        drivers.append(_driver(f, "score_trend", "scores falling by 10 points or more per 30 days"))
    if drivers:
        return Pattern.STRUGGLING, drivers
    low_activity = min(2.5, 0.5 * cohort.active_days_recent)
    if f["active_days_recent"] < low_activity:
        drivers.append(
            _driver(
                f,
                "active_days_recent",
                f"active on fewer than {low_activity:g} of the last 14 days"
                + (" (half the course median)" if low_activity < 2.5 else ""),
            )
        )
    if f["events_total"] >= 10 and f["contributing_share"] < 0.2:
        drivers.append(_driver(f, "contributing_share", "under 20% of events are contributions"))
    if f["deadlines_due"] and f["deadlines_missed"] >= 1:
        drivers.append(_driver(f, "deadlines_missed", "missed a deadline"))
    if drivers:
        return Pattern.PASSIVE, drivers
    return Pattern.ACTIVE, [
        _driver(f, "active_days_recent", "active about as often as the course or more"),
        _driver(f, "deadlines_missed", "no missed deadlines"),
    ]


# --------------------------------------------------------------------- risk model


def confidence_of(probability: float) -> float:
    """Confidence in the at-risk / not-at-risk call: the probability of the called class."""
    return max(probability, 1.0 - probability)


def _matrix(rows: Iterable[dict[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[row.get(n, np.nan) for n in names] for row in rows], dtype=float).reshape(-1, len(names))


@dataclass
class RiskModel:
    """Logistic regression on log1p(counts) and raw rates, median-imputed and standardised.

    All parameters are lists of floats, so the model round-trips through JSON
    (``to_dict`` / ``from_dict``) and predicting needs numpy only.
    """

    feature_names: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]
    coef: list[float]
    intercept: float
    log_features: list[str] = field(default_factory=list)
    C: float = 1.0

    def _transform(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=float, copy=True)
        for j, name in enumerate(self.feature_names):
            if name in self.log_features:
                X[:, j] = np.log1p(np.clip(X[:, j], 0, None))
        nan = np.isnan(X)
        X[nan] = np.take(np.asarray(self.medians), np.nonzero(nan)[1])
        return (X - np.asarray(self.means)) / np.asarray(self.scales)

    def matrix(self, rows: Iterable[dict[str, float]]) -> np.ndarray:
        return _matrix(rows, self.feature_names)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self._transform(X) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-feature log-odds contributions relative to an average student."""
        return self._transform(X) * np.asarray(self.coef)

    def reasons(self, row: dict[str, float], top: int = 3) -> list[dict]:
        """The features that pushed this student's risk up the most, in words.

        Only features whose coefficient agrees with their declared direction
        (RISK_DIRECTION) are given: "submitted all due work" is never a reason for
        risk, even when collinear features give it a positive weight."""
        contrib = self.contributions(self.matrix([row]))[0]
        out = []
        for j in np.argsort(-contrib):
            name = self.feature_names[j]
            direction = RISK_DIRECTION.get(name, 0)
            if contrib[j] <= 0.05 or len(out) >= top:
                break
            if direction == 0 or np.sign(self.coef[j]) != direction:
                continue
            value = row.get(name)
            value = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
            out.append(
                {
                    "feature": name,
                    "value": value,
                    "weight": round(float(contrib[j]), 3),
                    "text": describe_feature(name, value),
                }
            )
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RiskModel:
        return cls(**data)


def fit_risk_model(X: np.ndarray, y: np.ndarray, feature_names: Sequence[str], *, C: float = 1.0) -> RiskModel:
    """Fit the at-risk model on a feature matrix (rows = students, NaN = missing)."""
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        raise ValueError("training data needs both at-risk and not-at-risk students")
    names = list(feature_names)
    log_features = [n for n in names if n in COUNT_LIKE]
    probe = RiskModel(
        names, [0.0] * len(names), [0.0] * len(names), [1.0] * len(names), [0.0] * len(names), 0.0, log_features, C
    )
    Xl = np.array(X, copy=True)
    for j, n in enumerate(names):
        if n in log_features:
            Xl[:, j] = np.log1p(np.clip(Xl[:, j], 0, None))
    medians = np.nan_to_num(np.nanmedian(np.where(np.isnan(Xl).all(axis=0), 0.0, Xl), axis=0))
    probe.medians = medians.tolist()
    Xi = probe._transform(X)  # imputed, log-transformed, not yet scaled (means 0, scales 1)
    means = Xi.mean(axis=0)
    scales = Xi.std(axis=0)
    scales[scales < 1e-9] = 1.0
    Z = (Xi - means) / scales
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(Z, y)
    return RiskModel(
        names,
        medians.tolist(),
        means.tolist(),
        scales.tolist(),
        clf.coef_[0].tolist(),
        float(clf.intercept_[0]),
        log_features,
        C,
    )


@dataclass
class GuardrailResult:
    scores: list[float]
    mean: float
    std: float
    accepted: bool
    min_score: float
    max_std: float
    metric: str = "roc_auc"
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def guardrail_evaluate(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    *,
    runs: int = 10,
    test_size: float = 0.3,
    min_score: float = 0.7,
    max_std: float = 0.05,
    seed: int = 0,
    C: float = 1.0,
) -> GuardrailResult:
    """Moodle's rule: fit on ``runs`` random stratified splits of the training data;
    accept only if mean ROC AUC >= ``min_score`` and its std-dev <= ``max_std``."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    if len(y) < 10 or min(np.bincount(y, minlength=2)) < 2:
        return GuardrailResult(
            [],
            float("nan"),
            float("nan"),
            False,
            min_score,
            max_std,
            reason=f"not enough labelled students to evaluate ({len(y)})",
        )
    splitter = StratifiedShuffleSplit(n_splits=runs, test_size=test_size, random_state=seed)
    scores = []
    for train, test in splitter.split(X, y):
        model = fit_risk_model(X[train], y[train], feature_names, C=C)
        scores.append(float(roc_auc_score(y[test], model.predict_proba(X[test]))))
    mean, std = float(np.mean(scores)), float(np.std(scores))
    accepted = mean >= min_score and std <= max_std
    if accepted:
        reason = f"accepted: mean AUC {mean:.3f} >= {min_score} and std {std:.3f} <= {max_std}"
    else:
        why = []
        if mean < min_score:
            why.append(f"mean AUC {mean:.3f} < {min_score}")
        if std > max_std:
            why.append(f"std {std:.3f} > {max_std}")
        reason = "rejected: " + " and ".join(why)
    return GuardrailResult([round(s, 4) for s in scores], mean, std, accepted, min_score, max_std, reason=reason)
