"""Engagement and behaviour patterns on plain features (no Django): transparent rules a
teacher can check from the numbers shown next to each call.

* :func:`engagement_score` - a 0-100 composite (regularity, recency, submission and
  punctuality), no training needed.
* :func:`classify_pattern` - active / passive / struggling / disengaged, with the
  features and thresholds that drove the call; limits adapt to the course (:class:`Cohort`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from recommendations.risk.features import FAIL_SCORE, MIN_COHORT, RECENT_DAYS, describe_feature

__all__ = ["ENGAGEMENT_WEIGHTS", "Cohort", "Pattern", "classify_pattern", "engagement_score"]

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
