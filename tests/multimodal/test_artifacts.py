"""The one artifact scheme: digest versions, metadata, atomic writes, tamper detection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multimodal import artifacts
from multimodal.knowledge_tracing import BKTModel, Sequence
from multimodal.risk import RiskEstimator, fit_risk_estimator


def test_write_and_read_an_artifact(tmp_path):
    meta = artifacts.write_artifact(
        tmp_path / "a",
        files={"model.bin": b"weights"},
        format="demo/1",
        version_prefix="demo",
        training_summary={"students": 3},
        metrics={"auc": float("nan"), "acc": np.float64(0.5)},
        extra_field=[1, 2],
    )
    assert meta["version"] == artifacts.digest_version("demo", {"model.bin": b"weights"})
    assert set(meta) >= {"format", "version", "created_at", "training_summary", "metrics", "extra_field"}
    assert meta["metrics"] == {"auc": None, "acc": 0.5}  # NaN is not JSON; numpy scalars become floats
    read, files = artifacts.read_artifact(tmp_path / "a", names=("model.bin",), format="demo/1")
    assert read == meta and files == {"model.bin": b"weights"}
    assert not list((tmp_path / "a").glob(".*.tmp"))  # no temporary files left behind


def test_a_changed_file_or_another_format_is_refused(tmp_path):
    artifacts.write_artifact(tmp_path / "a", files={"m.json": b"{}"}, format="demo/1", version_prefix="demo")
    with pytest.raises(ValueError, match="format"):
        artifacts.read_artifact(tmp_path / "a", names=("m.json",), format="demo/2")
    (tmp_path / "a" / "m.json").write_bytes(b'{"tampered": 1}')
    with pytest.raises(ValueError, match="digest"):
        artifacts.read_artifact(tmp_path / "a", names=("m.json",), format="demo/1")
    with pytest.raises(FileNotFoundError, match="missing"):
        artifacts.read_artifact(tmp_path / "a", names=("other.bin",))


def test_the_version_is_the_content():
    one = artifacts.digest_version("m", {"a": b"1", "b": b"2"})
    assert one == artifacts.digest_version("m", {"b": b"2", "a": b"1"})  # order of the mapping does not matter
    assert one != artifacts.digest_version("m", {"a": b"1", "b": b"3"})
    assert one.startswith("m-") and len(one) == len("m-") + 8


def test_save_versioned_names_the_folder_by_version_and_keeps_an_existing_one(tmp_path):
    seqs = [Sequence([1, 1, 2], [0, 1, 1]) for _ in range(5)]
    model = BKTModel(max_iter=3).fit(seqs)
    first = artifacts.save_versioned(tmp_path, model.save, lambda: model.version)
    assert first.name == model.version and BKTModel.load(first).version == model.version
    again = artifacts.save_versioned(tmp_path, model.save, lambda: model.version)
    assert again == first and sorted(p.name for p in tmp_path.iterdir()) == [model.version]


def test_risk_estimator_artifact_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    est = fit_risk_estimator(X, y, ["a", "b"])
    meta = est.save(tmp_path / "r", version_prefix="risk-test", training_summary={"students": 60})
    assert meta["version"] == est.version("risk-test")
    loaded, read = RiskEstimator.load(tmp_path / "r")
    np.testing.assert_allclose(loaded.predict_proba(X), est.predict_proba(X))
    assert read["training_summary"] == {"students": 60}
    assert json.loads((tmp_path / "r" / "metadata.json").read_text())["format"] == "eduplatform-risk/1"


def test_a_bkt_file_from_the_previous_format_still_loads(tmp_path):
    seqs = [Sequence([1, 2, 1], [1, 0, 1]) for _ in range(5)]
    model = BKTModel(max_iter=3).fit(seqs)
    legacy = tmp_path / "old.json"
    legacy.write_text(json.dumps({**model.to_dict(), "version": "bkt-20240101T000000Z", "metrics": {"auc": 0.7}}))
    loaded = BKTModel.load(legacy)
    assert loaded.version == "bkt-20240101T000000Z" and loaded.params_for(1) == model.params_for(1)
