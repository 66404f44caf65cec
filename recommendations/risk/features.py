"""Behaviour features on plain data: what a student's timeline in a course says, as numbers.

No Django here: ``recommendations.risk.selectors`` turns database rows into
:class:`Timeline` objects, and this module turns timelines into features. That keeps
the logic testable on a hand-made timeline and shared by the periodic task, the admin
and ``benchmark_risk``.

Time is measured in days since the course start (floats; negative = before the
start). ``as_of`` is an *exclusive* upper bound: an event at day ``t`` is known at
``as_of`` only when ``t < as_of``. "Data available by day D" is ``as_of = D + 1``.

* :func:`compute_features` - activity counts by verb and resource type, active days,
  sessions, recency, streaks, idle gaps, modality mix, deadlines (on time / late /
  missed), score level and trend, enrolment facts. Optionally over a trailing window.
* :data:`RISK_FEATURES` / :data:`COUNT_LIKE` / :data:`RISK_DIRECTION` - what the at-risk
  estimator (``multimodal.risk``) is fitted on, which features are counts, and which way
  each one points; :func:`risk_reasons` turns its contributions into words a teacher reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from multimodal.risk import RiskEstimator
from recommendations.xapi import RESOURCE_CATEGORIES

__all__ = [
    "COUNT_LIKE",
    "FEATURE_NAMES",
    "RISK_DIRECTION",
    "RISK_FEATURES",
    "Deadline",
    "Event",
    "Timeline",
    "compute_features",
    "describe_feature",
    "risk_reasons",
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
MODALITIES = ("video", "audio", "text", "image")


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


def risk_reasons(estimator: RiskEstimator, row: Mapping[str, float], top: int = 3) -> list[dict]:
    """The features that pushed this student's risk up the most, in words.

    Only features whose coefficient agrees with their declared direction
    (RISK_DIRECTION) are given: "submitted all due work" is never a reason for risk,
    even when collinear features give it a positive weight."""
    contrib = estimator.contributions(estimator.matrix([row]))[0]
    out = []
    for j in np.argsort(-contrib):
        name = estimator.feature_names[j]
        direction = RISK_DIRECTION.get(name, 0)
        if contrib[j] <= 0.05 or len(out) >= top:
            break
        if direction == 0 or np.sign(estimator.coef[j]) != direction:
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
