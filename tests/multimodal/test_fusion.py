"""Fusion models, calibrated training and artifacts on a small synthetic task.

The task: the score depends nonlinearly on the text token and the audio token
(image and features are noise), so a model must fuse two modalities to beat the
mean. Models are tiny and trained once per module to keep the file fast on CPU.
"""

from __future__ import annotations

import json
import math
import types

import numpy as np
import pytest
import torch

from multimodal.research.fusion import FusionSpec, build_fusion
from multimodal.research.training import (
    TrainedFusion,
    compare_fusions,
    cross_validate,
    fit_fusion,
    spec_for,
)

MODALITIES = ("text", "image", "audio", "features")
SCORE_RANGE = (0.0, 10.0)


@pytest.fixture
def settings():
    """Stand-in for pytest-django's ``settings`` (which tests/conftest.py's autouse
    media fixture requests): this module is plain Python and must also run with
    ``-p no:django``, where that fixture does not exist."""
    return types.SimpleNamespace()


def make_task(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = {
        "text": rng.normal(size=(n, 8)).astype(np.float32),
        "image": rng.normal(size=(n, 6)).astype(np.float32),
        "audio": rng.normal(size=(n, 4)).astype(np.float32),
        "features": rng.normal(size=(n, 3)).astype(np.float32),
    }
    y = 5 + 2.5 * np.tanh(1.5 * X["text"][:, 0]) + 1.2 * (X["audio"][:, 0] ** 2 - 1)
    y = np.clip(y + 0.2 * rng.normal(size=n), *SCORE_RANGE)
    mask = np.ones((n, len(MODALITIES)), dtype=bool)
    mask[:, 1] = rng.random(n) > 0.3  # image often missing, as with text-only submissions
    return X, mask, y


def small_spec(X: dict[str, np.ndarray], **heads: int) -> FusionSpec:
    return spec_for(X, d_model=32, n_heads=2, n_layers=1, hidden=64, dropout=0.0, **heads)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny models run faster on one thread, and the CI box is shared.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained() -> TrainedFusion:
    X, mask, y = make_task(320, seed=0)
    return fit_fusion(
        X,
        mask,
        y,
        kind="attention",
        spec=small_spec(X),
        score_range=SCORE_RANGE,
        n_members=2,
        max_epochs=60,
        patience=8,
        device="cpu",
        seed=0,
    )


def test_attention_fusion_beats_constant_predictor_on_held_out_data(trained):
    X, mask, y = make_task(300, seed=1)
    pred = trained.predict(X, mask)
    model_rmse = float(np.sqrt(np.mean((pred.score - y) ** 2)))
    constant_rmse = float(np.sqrt(np.mean((trained.data_summary["label_mean"] - y) ** 2)))
    assert model_rmse < 0.7 * constant_rmse
    assert np.all((pred.score >= 0) & (pred.score <= 10))
    assert np.all((pred.lower <= pred.score) & (pred.score <= pred.upper))
    assert np.all((pred.confidence >= 0) & (pred.confidence <= 1))


def test_conformal_intervals_cover_roughly_the_nominal_share(trained):
    X, mask, y = make_task(300, seed=2)
    pred = trained.predict(X, mask)
    coverage = np.mean((y >= pred.lower) & (y <= pred.upper))
    # nominal 0.9 from ~64 calibration rows: allow sampling slack
    assert coverage >= 0.75
    assert math.isfinite(trained.conformal_q)


def test_missing_modalities_give_finite_predictions(trained):
    X, mask, _ = make_task(40, seed=3)
    rng = np.random.default_rng(3)
    mask = rng.random(mask.shape) > 0.5
    for name in MODALITIES:  # values behind the mask must not matter, even NaN
        X[name][~mask[:, MODALITIES.index(name)]] = np.nan
    pred = trained.predict(X, mask)
    assert np.all(np.isfinite(pred.score)) and np.all(np.isfinite(pred.confidence))


def test_row_with_only_one_modality_works_and_empty_row_has_no_confidence(trained):
    X, _, _ = make_task(3, seed=4)
    mask = np.zeros((3, len(MODALITIES)), dtype=bool)
    mask[0, MODALITIES.index("text")] = True
    mask[1, MODALITIES.index("audio")] = True
    pred = trained.predict(X, mask)
    assert np.all(np.isfinite(pred.score))
    assert pred.n_present.tolist() == [1, 1, 0]
    assert pred.confidence[2] == 0.0
    assert (pred.lower[2], pred.upper[2]) == SCORE_RANGE


def test_absent_modality_key_counts_as_missing(trained):
    X, mask, _ = make_task(5, seed=5)
    full = trained.predict(X, np.where(np.arange(4) == 1, False, mask))
    del X["image"]
    without_key = trained.predict(X)  # mask derived: image absent everywhere
    np.testing.assert_allclose(without_key.score, full.score, rtol=1e-5, atol=1e-5)


def test_present_but_nan_input_is_rejected(trained):
    X, mask, _ = make_task(4, seed=6)
    X["text"][0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        trained.predict(X, mask)


def test_save_load_round_trip_keeps_predictions_and_metadata(trained, tmp_path):
    X, mask, _ = make_task(25, seed=7)
    before = trained.predict(X, mask)
    trained.save(tmp_path / "artifact")
    loaded = TrainedFusion.load(tmp_path / "artifact", device="cpu")
    after = loaded.predict(X, mask)
    for field in ("score", "lower", "upper", "confidence"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))
    assert loaded.version == trained.version
    assert loaded.version.startswith("fusion-attention-") and len(loaded.version) == len("fusion-attention-") + 8

    meta = json.loads((tmp_path / "artifact" / "metadata.json").read_text())
    assert meta["version"] == trained.version
    assert meta["created_at"]
    assert meta["data_summary"]["n"] == 320
    assert meta["data_summary"]["modalities_present"] == list(MODALITIES)
    assert meta["metrics"]["calibration"]["rmse"] > 0
    assert FusionSpec.from_dict(meta["spec"]) == trained.spec


def test_load_reports_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="fusion artifact not found"):
        TrainedFusion.load(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError, match="metadata.json is missing"):
        TrainedFusion.load(tmp_path / "half")


def test_tampered_weights_are_refused(trained, tmp_path):
    trained.save(tmp_path / "a")
    meta_path = tmp_path / "a" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["version"] = "fusion-attention-00000000"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match"):
        TrainedFusion.load(tmp_path / "a")


@pytest.mark.parametrize("kind", ["attention", "concat", "weighted"])
def test_every_kind_shares_the_interface_and_heads(kind):
    spec = FusionSpec(
        {"text": 5, "audio": 3},
        d_model=16,
        n_heads=2,
        n_layers=1,
        hidden=32,
        n_criteria=2,
        n_levels=4,
        n_classes=3,
    )
    model = build_fusion(kind, spec).eval()
    tokens = {"text": torch.randn(4, 5), "audio": torch.full((4, 3), float("nan"))}
    present = torch.tensor([[True, False], [True, False], [False, False], [True, False]])
    out = model(tokens, present)
    assert out.score.shape == (4,) and torch.isfinite(out.score).all()
    assert [c.shape for c in out.criteria] == [(4, 4), (4, 4)]
    assert out.behaviour.shape == (4, 3)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown fusion kind"):
        build_fusion("lstm", FusionSpec({"text": 2}))


def test_auxiliary_heads_train_and_cross_validation_reports_folds():
    X, mask, y = make_task(90, seed=8)
    criteria = np.stack([(X["text"][:, 0] > 0).astype(int), np.full(90, -1)], axis=1)
    criteria[::2, 1] = (X["audio"][::2, 0] > 0).astype(int)
    behaviour = (X["audio"][:, 0] > 0.5).astype(int)
    result = cross_validate(
        X,
        mask,
        y,
        k=2,
        kind="weighted",
        spec=small_spec(X, n_criteria=2, n_levels=2, n_classes=2),
        criteria=criteria,
        behaviour=behaviour,
        score_range=SCORE_RANGE,
        n_members=1,
        max_epochs=4,
        device="cpu",
    )
    assert len(result["folds"]) == 2
    assert {"rmse", "qwk", "coverage", "criteria_accuracy", "behaviour_roc_auc"} <= set(result["mean"])
    assert all(math.isfinite(v) for v in result["std"].values())


def test_compare_fusions_returns_one_row_per_kind_plus_constant():
    X, mask, y = make_task(60, seed=9)
    table = compare_fusions(
        X,
        mask,
        y,
        k=2,
        spec=small_spec(X),
        score_range=SCORE_RANGE,
        n_members=1,
        max_epochs=2,
        device="cpu",
    )
    assert [row["kind"] for row in table] == [
        "attention",
        "concat",
        "weighted",
        "constant",
    ]
    assert all("rmse_mean" in row and "rmse_std" in row for row in table)
