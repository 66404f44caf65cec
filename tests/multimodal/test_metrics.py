"""Metrics against hand-computed values and the documented degenerate cases."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from multimodal import metrics as mm


@pytest.fixture
def settings():
    """Stand-in for pytest-django's ``settings`` (which tests/conftest.py's autouse
    media fixture requests): this module is plain Python and must also run with
    ``-p no:django``, where that fixture does not exist."""
    return types.SimpleNamespace()


def test_qwk_of_perfect_agreement_is_one():
    y = [0, 1, 2, 3, 4, 2]
    assert mm.quadratic_weighted_kappa(y, y, min_score=0, max_score=4) == 1.0


def test_qwk_small_example_by_hand():
    # Grades 0..2; true [0,1,2], pred [0,2,2].
    # Observed O (rows true, cols pred): (0,0)=1, (1,2)=1, (2,2)=1.
    # Weights w_ij = (i-j)^2 / (K-1)^2 with K=3, so w(1,2) = 1/4 and sum(w*O) = 1/4.
    # Expected E = outer(hist_true=[1,1,1], hist_pred=[1,0,2]) / 3:
    # sum(w*E) = (1/3) * [(0 + 1*2) + (1/4 + 1/4*2) + (1 + 0)] = 1.25.
    # kappa = 1 - 0.25 / 1.25 = 0.8.
    w = np.array([[0, 0.25, 1], [0.25, 0, 0.25], [1, 0.25, 0]])
    observed = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1]], dtype=float)
    expected = np.outer([1, 1, 1], [1, 0, 2]) / 3
    assert 1 - (w * observed).sum() / (w * expected).sum() == pytest.approx(0.8)
    assert mm.quadratic_weighted_kappa([0, 1, 2], [0, 2, 2], min_score=0, max_score=2) == pytest.approx(0.8)


def test_qwk_rounds_continuous_predictions_onto_half_point_grid():
    y_true = [0.0, 0.5, 1.0, 1.5]
    y_pred = [0.1, 0.6, 0.9, 1.6]  # each within a quarter point of the truth
    assert mm.quadratic_weighted_kappa(y_true, y_pred, min_score=0, max_score=1.5, step=0.5) == 1.0
    assert mm.score_to_grid([-3, 0.74, 0.76, 9], min_score=0, max_score=1.5, step=0.5).tolist() == [0, 1, 2, 3]


def test_qwk_degenerate_single_shared_grade_is_agreement():
    assert mm.quadratic_weighted_kappa([2, 2, 2], [2, 2, 2], min_score=0, max_score=4) == 1.0
    # constant prediction against varied truth is well defined: no better than chance
    assert mm.quadratic_weighted_kappa([0, 2, 4], [2, 2, 2], min_score=0, max_score=4) == 0.0


def test_regression_metrics_by_hand():
    y, p = [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 6.0]
    assert mm.rmse(y, p) == pytest.approx(1.0)  # sqrt(4/4)
    assert mm.mae(y, p) == pytest.approx(0.5)
    assert mm.pearson_r([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert mm.pearson_r([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    out = mm.regression_metrics(y, p, min_score=0, max_score=6)
    assert set(out) == {"rmse", "mae", "pearson", "qwk"}
    assert all(type(v) is float for v in out.values())


def test_pearson_of_constant_prediction_is_zero_not_nan():
    assert mm.pearson_r([1, 2, 3], [5, 5, 5]) == 0.0
    assert mm.pearson_r([1], [1]) == 0.0


def test_classification_metrics_by_hand():
    y = [0, 0, 1, 1, 2]
    p = [0, 1, 1, 1, 2]
    assert mm.accuracy(y, p) == pytest.approx(0.8)
    # class precisions: 0 -> 1/1, 1 -> 2/3, 2 -> 1/1 ; recalls: 0 -> 1/2, 1 -> 1, 2 -> 1
    assert mm.precision_macro(y, p) == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert mm.recall_macro(y, p) == pytest.approx((0.5 + 1 + 1) / 3)
    f1 = [2 * 1 * 0.5 / 1.5, 2 * (2 / 3) / (5 / 3), 1.0]
    assert mm.f1_macro(y, p) == pytest.approx(np.mean(f1))


def test_auc_and_average_precision():
    y = [0, 0, 1, 1]
    assert mm.roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0  # perfect ranking
    assert mm.roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    # one positive ranked below one negative: 3 of 4 pairs ordered
    assert mm.roc_auc(y, [0.1, 0.6, 0.5, 0.9]) == pytest.approx(0.75)
    assert mm.average_precision(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    # ranking 1,0,1,0 -> precision at recalls 0.5 and 1.0 is 1 and 2/3
    assert mm.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)


def test_multiclass_auc_and_degenerate_ranking_inputs():
    probs = np.eye(3)[[0, 1, 2, 1]]
    assert mm.roc_auc([0, 1, 2, 1], probs) == 1.0
    assert mm.roc_auc([1, 1, 1], [0.2, 0.5, 0.9]) == 0.5  # one class: chance level
    assert mm.average_precision([0, 0, 0], [0.2, 0.5, 0.9]) == 0.0  # nothing to retrieve
    out = mm.classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], [0.2, 0.9, 0.4, 0.1])
    assert out["roc_auc"] == 1.0 and set(out) >= {
        "accuracy",
        "f1_macro",
        "average_precision",
    }
    assert all(math.isfinite(v) for v in out.values())


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        mm.rmse([], [])
    with pytest.raises(ValueError):
        mm.mae([1, 2], [1])


def test_binary_precision_and_recall_of_the_positive_class():
    y = [1, 1, 0, 0, 1]
    flagged = [1, 0, 1, 0, 1]
    # flagged 3, of which 2 are positive; 3 positives, of which 2 are flagged
    assert mm.precision_binary(y, flagged) == pytest.approx(2 / 3)
    assert mm.recall_binary(y, flagged) == pytest.approx(2 / 3)
    assert mm.precision_binary(y, [0, 0, 0, 0, 0]) == 0.0  # nothing flagged
    assert mm.recall_binary([0, 0, 0], [1, 0, 1]) == 0.0  # nothing to find
    assert mm.precision_binary([True, False], [True, True]) == 0.5  # booleans work too
