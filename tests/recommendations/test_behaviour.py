"""Behaviour features, engagement, patterns and the at-risk estimator on hand-made data (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from multimodal.risk import RiskEstimator, confidence_of, fit_risk_estimator, guardrail_evaluate
from recommendations.risk.features import COUNT_LIKE, Deadline, Event, Timeline, compute_features, risk_reasons
from recommendations.risk.patterns import Cohort, Pattern, classify_pattern, engagement_score
from recommendations.xapi import resource_category


def _timeline() -> Timeline:
    """A student over the first three weeks of a course (days since the course start).

    day 0.50 + 0.51: two video views 14.4 minutes apart (one session)
    day 1.50: answers a quiz question        day 2.50: reads a page
    day 3.00: submits A1 (text+image)          day 3.02: A1 scored 0.8
    day 10.0: submits A2, 2 days late          day 10.1: A2 scored 0.5
    day 12.0: comments in the forum            day 25.0: (after the cut-off) views a video
    Deadlines: A1 due day 5, A2 due day 8, A3 due day 11 (never submitted),
    A4 due day 30 but already submitted on day 12.5.
    """
    ev = [
        Event(0.50, "viewed", "video"),
        Event(0.51, "viewed", "video"),
        Event(1.50, "answered", "assessment"),
        Event(2.50, "viewed", "text"),
        Event(3.00, "submitted", "assessment", modalities=("text", "image"), key="submission:1"),
        Event(3.02, "scored", "assessment", score=0.8, key="submission:1"),
        Event(10.0, "submitted", "assessment", modalities=("text",), key="submission:2"),
        Event(10.1, "scored", "assessment", score=0.5, key="submission:2"),
        Event(12.0, "commented", "discussion"),
        Event(25.0, "viewed", "video"),
    ]
    deadlines = [
        Deadline(5, 3.0, 0.8, "submission:1"),
        Deadline(8, 10.0, 0.5, "submission:2"),
        Deadline(11, None, None, "assignment:3"),
        Deadline(30, 12.5, None, "submission:4"),
    ]
    return Timeline(
        events=ev,
        deadlines=deadlines,
        registered_day=-3.0,
        unregistered_day=None,
        context={"prior_enrolments": 1, "concurrent_enrolments": 2},
    )


def test_features_of_a_hand_made_timeline():
    f = compute_features(_timeline(), as_of=20.0)
    # activity counts by verb and resource type ("scored" is bookkeeping, not activity)
    assert f["events_total"] == 7
    assert (f["verb_viewed"], f["verb_answered"], f["verb_submitted"], f["verb_commented"]) == (3, 1, 2, 1)
    assert f["verb_scored"] == 2
    assert (f["resource_video"], f["resource_text"], f["resource_assessment"], f["resource_discussion"]) == (2, 1, 3, 1)
    # days 0, 1, 2, 3, 10, 12 -> 6 active days, longest streak 4 (days 0-3), current streak 1
    assert f["active_days"] == 6
    assert (f["longest_streak_days"], f["current_streak_days"]) == (4, 1)
    assert f["active_days_recent"] == 2  # days 10 and 12 fall in [6, 20)
    assert f["sessions"] == 6
    assert f["session_minutes_mean"] == pytest.approx(14.4 / 6, abs=1e-6)
    assert f["days_since_activity"] == pytest.approx(8.0)
    assert f["max_idle_gap_days"] == pytest.approx(8.0)  # day 12 -> as_of 20 (and day 3 -> 10 is 7)
    # 4 answers are contributions (answered, 2 submitted, commented) out of 7
    assert f["contributing_share"] == pytest.approx(4 / 7)
    # modality mix: video 2, text 1 (page) + 2 (answers), image 1 -> of 6
    assert (f["modality_video"], f["modality_text"], f["modality_image"], f["modality_audio"]) == pytest.approx(
        (2 / 6, 3 / 6, 1 / 6, 0)
    )
    # deadlines: A1 on time, A2 late by 2 days, A3 missed, A4 ahead of its deadline
    assert (f["deadlines_due"], f["submitted_on_time"], f["submitted_late"], f["deadlines_missed"]) == (3, 1, 1, 1)
    assert f["submitted_ahead"] == 1
    assert f["submission_rate"] == pytest.approx(2 / 3)
    assert f["on_time_rate"] == pytest.approx(0.5)
    assert f["mean_days_late"] == pytest.approx(2.0)
    # scores counted once each although both an event and a deadline carry them; falling
    assert f["scores_count"] == 2
    assert f["score_mean"] == pytest.approx(0.65)
    assert (f["score_last"], f["score_min"]) == (0.5, 0.5)
    assert f["score_trend"] == pytest.approx((0.5 - 0.8) / (10.1 - 3.02) * 30)
    assert f["registration_lead_days"] == 3.0
    assert f["withdrawn"] == 0 and f["days_enrolled"] == 20
    assert (f["prior_enrolments"], f["concurrent_enrolments"]) == (1, 2)


def test_cutoff_uses_only_what_was_known():
    tl = _timeline()
    early = compute_features(tl, as_of=9.0)  # before A2 was submitted and A3 was due
    assert early["events_total"] == 5
    assert (early["deadlines_due"], early["submitted_on_time"], early["submitted_late"], early["deadlines_missed"]) == (
        2,
        1,
        0,
        1,
    )  # A2 not yet submitted at day 9: missed so far
    assert early["scores_count"] == 1 and early["score_mean"] == pytest.approx(0.8)
    later = compute_features(tl, as_of=30.0)
    assert later["events_total"] == 8  # the day-25 view is now known
    # a window limits activity, not deadlines or scores
    windowed = compute_features(tl, as_of=20.0, window_days=10)
    assert windowed["events_total"] == 2 and windowed["deadlines_missed"] == 1 and windowed["scores_count"] == 2


def test_empty_timeline_and_withdrawal():
    f = compute_features(Timeline(registered_day=2.0), as_of=10.0)
    assert f["events_total"] == 0 and f["days_since_activity"] == 8.0
    assert math.isnan(f["score_mean"]) and math.isnan(f["submission_rate"])
    assert classify_pattern(f)[0] == Pattern.UNKNOWN
    w = compute_features(Timeline(registered_day=-1.0, unregistered_day=4.0), as_of=10.0)
    assert w["withdrawn"] == 1 and w["days_enrolled"] == 4.0
    assert engagement_score(w) == 0.0
    assert classify_pattern(w)[0] == Pattern.DISENGAGED
    # an unregistration after the cut-off is not known yet
    assert compute_features(Timeline(unregistered_day=40.0), as_of=10.0)["withdrawn"] == 0


def test_engagement_score_is_bounded_and_orders_students():
    f = compute_features(_timeline(), as_of=20.0)
    score = engagement_score(f)
    assert 0 < score < 100
    busy = Timeline(
        events=[Event(d + 0.5, "viewed", "text") for d in range(20)], deadlines=[Deadline(5, 4.0), Deadline(10, 9.0)]
    )
    assert engagement_score(compute_features(busy, as_of=20.0)) > score
    idle = Timeline(events=[Event(0.5, "viewed", "text")], deadlines=[Deadline(5, None), Deadline(10, None)])
    assert engagement_score(compute_features(idle, as_of=20.0)) < score


def test_patterns_name_their_drivers():
    base = compute_features(_timeline(), as_of=20.0)
    pattern, drivers = classify_pattern(base)
    # two of the last 14 days active and a missed deadline: present but passive
    assert pattern == Pattern.PASSIVE
    assert {d["feature"] for d in drivers} >= {"active_days_recent", "deadlines_missed"}
    assert all(d["text"] for d in drivers)

    struggling = dict(base, score_mean=0.3, scores_failed=2.0, active_days_recent=6.0)
    pattern, drivers = classify_pattern(struggling)
    assert pattern == Pattern.STRUGGLING and drivers[0]["feature"] == "score_mean"

    gone = dict(base, days_since_activity=21.0, active_days_recent=0.0)
    assert classify_pattern(gone)[0] == Pattern.DISENGAGED

    busy = dict(base, active_days_recent=8.0, deadlines_missed=0.0, contributing_share=0.5)
    assert classify_pattern(busy)[0] == Pattern.ACTIVE


def _synthetic(n=400, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    missed = rng.poisson(1.0, n).astype(float)
    score = rng.uniform(0, 1, n)
    logit = 1.5 * missed - 3.0 * score + rng.normal(0, noise, n)
    y = (logit > np.median(logit)).astype(int)
    X = np.column_stack([missed, score, rng.normal(size=n)])
    return X, y, ["deadlines_missed", "score_mean", "noise"]


def test_risk_estimator_fits_round_trips_and_explains():
    X, y, names = _synthetic()
    X[::7, 1] = np.nan  # missing scores are imputed
    model = fit_risk_estimator(X, y, names, log_features=COUNT_LIKE)
    p = model.predict_proba(X)
    assert p.shape == (len(y),) and np.all((p >= 0) & (p <= 1)) and not np.isnan(p).any()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, p) > 0.8
    again = RiskEstimator.from_dict(model.to_dict())
    np.testing.assert_allclose(again.predict_proba(X), p)
    risky = {"deadlines_missed": 4.0, "score_mean": 0.9, "noise": 0.0}
    reasons = risk_reasons(model, risky)
    assert reasons[0]["feature"] == "deadlines_missed" and reasons[0]["text"] == "missed deadlines: 4"
    safe = {"deadlines_missed": 0.0, "score_mean": 0.95, "noise": 0.0}
    assert model.predict_proba(model.matrix([safe]))[0] < model.predict_proba(model.matrix([risky]))[0]


def test_risk_estimator_needs_both_classes():
    X, _, names = _synthetic(n=20)
    with pytest.raises(ValueError, match="both"):
        fit_risk_estimator(X, np.zeros(20, dtype=int), names, log_features=COUNT_LIKE)


def test_guardrail_accepts_a_good_model_and_rejects_noise():
    X, y, names = _synthetic(n=600, noise=0.5)
    good = guardrail_evaluate(X, y, names, log_features=COUNT_LIKE, runs=10)
    assert good.accepted and len(good.scores) == 10 and good.mean >= 0.7 and good.std <= 0.05
    assert good.reason.startswith("accepted")
    rng = np.random.default_rng(1)
    bad = guardrail_evaluate(X, rng.integers(0, 2, len(y)), names, log_features=COUNT_LIKE, runs=10)
    assert not bad.accepted and "mean AUC" in bad.reason
    tiny = guardrail_evaluate(X[:5], y[:5], names, log_features=COUNT_LIKE)
    assert not tiny.accepted and "not enough" in tiny.reason


def test_confidence_is_the_probability_of_the_called_class():
    assert confidence_of(0.9) == pytest.approx(0.9)
    assert confidence_of(0.2) == pytest.approx(0.8)
    assert confidence_of(0.55) == pytest.approx(0.55)


@pytest.mark.parametrize(
    ("object_type", "category"),
    [
        ("http://adlnet.gov/expapi/activities/media/video", "video"),
        ("http://id.tincanapi.com/activitytype/podcast", "audio"),
        ("http://adlnet.gov/expapi/activities/assessment", "assessment"),
        ("http://id.tincanapi.com/activitytype/discussion", "discussion"),
        ("http://adlnet.gov/expapi/activities/file", "text"),
        ("Assignment", "assessment"),
        ("http://adlnet.gov/expapi/activities/course", "other"),
    ],
)
def test_resource_categories(object_type, category):
    assert resource_category(object_type) == category


def test_reasons_never_contradict_the_features_meaning():
    """Collinear features can get a coefficient of the 'wrong' sign; such a feature
    (or a context feature like the number of deadlines so far) is never a reason."""
    names = ["submission_rate", "deadlines_missed", "deadlines_due"]
    model = RiskEstimator(names, [0.0] * 3, [0.5, 0.0, 0.0], [1.0] * 3, [2.0, 1.0, 1.0], 0.0)
    reasons = risk_reasons(model, {"submission_rate": 1.0, "deadlines_missed": 2.0, "deadlines_due": 4.0})
    assert [r["feature"] for r in reasons] == ["deadlines_missed"]


def test_patterns_adapt_to_how_the_course_is_run():
    """Assessment-only courses (one submission a month, no clicks) are quiet for weeks:
    the idle limit follows the course median, so only the outliers are disengaged."""
    f = compute_features(
        Timeline(events=[Event(40.5, "submitted", "assessment")], deadlines=[Deadline(41, 40.5)]), as_of=60.0
    )
    assert f["days_since_activity"] == pytest.approx(19.5)
    assert classify_pattern(f)[0] == Pattern.DISENGAGED  # by the absolute 14-day rule
    quiet = Cohort.of(
        [dict(f, days_since_activity=d, active_days_recent=0.0) for d in (10, 12, 15, 18, 20, 20, 22, 25, 30, 40)]
    )
    assert quiet.days_since_activity == 20
    assert Cohort.of([f] * 9) == Cohort()  # too few to say what is typical
    pattern, drivers = classify_pattern(f, quiet)
    assert pattern == Pattern.ACTIVE
    gone = dict(f, days_since_activity=45.0)
    pattern, drivers = classify_pattern(gone, quiet)
    assert pattern == Pattern.DISENGAGED and "twice the course median" in drivers[0]["rule"]
