"""The fusion benchmark: tokens, folds, the table, the missing-reference check, the command.

Fast tests inject a deterministic hashed bag-of-words encoder (no model load) and
train for a couple of epochs: they check the benchmark's logic, not accuracy. The
``slow`` test runs the real shipped MiniLM on 30 Mohler answers.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from multimodal.research.fusion_benchmark import (
    FEATURE_NAMES,
    MODALITIES,
    build_inputs,
    format_report,
    run_fusion_benchmark,
)
from multimodal.research.grading_benchmark import CachedEncoder, read_grading_csv
from multimodal.text_features import content_words

MOHLER = Path(__file__).resolve().parents[2].parent / "shared/datasets/grading/mohler_short_answers.csv"
COLUMNS = ["question_id", "question", "reference_answer", "answer", "score", "min_score", "max_score"]


class HashEncoder:
    """Unit vectors from hashed content words: same words, same direction."""

    info = SimpleNamespace(name="hash-bow-fusion-test")

    def encode(self, texts, progress=False):
        out = np.zeros((len(texts), 384), np.float32)
        for i, text in enumerate(texts):
            for w in content_words(text):
                h = int(hashlib.sha1(w.encode()).hexdigest(), 16)
                out[i, h % 384] += 1.0 if (h >> 20) % 2 else -1.0
        return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-9, None)


_QUESTIONS = [
    (
        "What does a stack do?",
        "push adds an item on top and pop removes the top item last in first out",
        ["push", "pop", "top", "item", "last", "first"],
        ["queue", "front", "rear", "line"],
    ),
    (
        "How is a binary search tree searched?",
        "compare the key with the root go left when smaller right when larger",
        ["compare", "key", "root", "left", "smaller", "right", "larger"],
        ["random", "guess", "list", "scan"],
    ),
    (
        "What is a linked list?",
        "nodes that each hold a value and a pointer to the next node",
        ["nodes", "value", "pointer", "next", "node", "hold"],
        ["array", "index", "contiguous", "block"],
    ),
    (
        "What does a hash table do?",
        "maps keys to buckets with a hash function for constant time lookup",
        ["maps", "keys", "buckets", "hash", "function", "constant", "lookup"],
        ["sorted", "tree", "log", "scan"],
    ),
]


def _write_csv(path: Path, *, n_per_question: int = 10, seed: int = 0, empty_reference_for: str = "") -> Path:
    """Answers whose score grows with the share of reference words they use."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for q, (question, ref, good, bad) in enumerate(_QUESTIONS):
            for _ in range(n_per_question):
                k = int(rng.integers(0, len(good) + 1))
                words = list(rng.choice(good, size=k, replace=False)) + list(rng.choice(bad, size=2))
                rng.shuffle(words)
                score = round(5 * k / len(good) * 2) / 2
                qid = f"q{q}"
                w.writerow([qid, question, "" if qid == empty_reference_for else ref, " ".join(words), score, 0, 5])
    return path


FAST = {"max_epochs": 2, "patience": 2, "members": 1, "folds": 2}


@pytest.fixture
def tiny_csv(tmp_path):
    return _write_csv(tmp_path / "tiny.csv")


def test_build_inputs_tokens_mask_and_features(tmp_path):
    path = _write_csv(tmp_path / "g.csv", n_per_question=3, empty_reference_for="q1")
    rows = read_grading_csv(path)
    inp = build_inputs(rows, CachedEncoder(HashEncoder(), tmp_path / "cache"))
    n = len(rows)
    assert list(inp.X) == list(MODALITIES)
    assert inp.X["answer"].shape == inp.X["reference"].shape == (n, 384)
    assert inp.X["features"].shape == (n, len(FEATURE_NAMES))
    no_ref = np.array([r.question_id == "q1" for r in rows])
    ref_col = MODALITIES.index("reference")
    # a missing reference is a masked token and unknown reference-derived features
    assert not inp.mask[no_ref, ref_col].any() and inp.mask[~no_ref, ref_col].all()
    assert np.isnan(inp.X["features"][no_ref][:, [0, 2, 3]]).all()
    assert np.isfinite(inp.X["features"][~no_ref]).all()
    assert np.isfinite(inp.X["features"][:, 1]).all()  # the question is always there
    # cosine feature = dot product of the unit embeddings
    i = int(np.flatnonzero(~no_ref)[0])
    assert inp.X["features"][i, 0] == pytest.approx(float(inp.X["answer"][i] @ inp.X["reference"][i]), abs=1e-6)
    assert inp.y_norm.min() >= 0 and inp.y_norm.max() <= 1
    assert np.allclose(inp.y_norm, inp.y / 5)


def test_benchmark_table_both_splits_and_missing_reference(tiny_csv, tmp_path):
    result = run_fusion_benchmark(
        str(tiny_csv),
        encoder=HashEncoder(),
        cache_dir=str(tmp_path / "c"),
        with_grader=False,
        log=lambda _m: None,
        **FAST,
    )
    assert set(result["split"]) == {"across-question", "within-question"}
    for table in result["split"].values():
        assert list(table) == ["attention", "concat", "weighted", "ridge", "constant"]
        for row in table.values():
            for key in ("pearson", "rmse", "qwk", "train_seconds"):
                assert np.isfinite(row[f"{key}_mean"]) and row[f"{key}_std"] >= 0
            assert len(row["folds"]) == 2
        assert table["constant"]["pearson_mean"] == 0.0
    # the robustness check reports both variants with deltas for every learnt model
    miss = result["missing_reference"]["across-question"]
    for kind in ("attention", "concat", "weighted", "ridge"):
        for variant in ("token_masked", "reference_absent"):
            assert np.isfinite(miss[kind][variant]["delta_qwk_mean"])
    assert result["winner"] in ("attention", "concat", "weighted")
    assert result["fusion_beats_grader"] is None
    report = format_report(result)
    assert "[across-question] mean±std over folds" in report
    assert "reference missing for 50%" in report
    assert f"winner (fusion): {result['winner']}" in report


def test_no_drop_means_no_degradation(tiny_csv, tmp_path):
    result = run_fusion_benchmark(
        str(tiny_csv),
        encoder=HashEncoder(),
        cache_dir=str(tmp_path / "c"),
        with_grader=False,
        drop_fraction=0.0,
        kinds=("weighted",),
        splits=("across-question",),
        log=lambda _m: None,
        **FAST,
    )
    miss = result["missing_reference"]["across-question"]
    for kind in ("weighted", "ridge"):
        for variant in ("token_masked", "reference_absent"):
            assert miss[kind][variant]["delta_rmse_mean"] == pytest.approx(0.0, abs=1e-9)


def test_a_dropped_reference_changes_predictions(tiny_csv, tmp_path):
    # if masking the reference had no effect, the check would measure nothing
    result = run_fusion_benchmark(
        str(tiny_csv),
        encoder=HashEncoder(),
        cache_dir=str(tmp_path / "c"),
        with_grader=False,
        drop_fraction=1.0,
        kinds=("attention",),
        splits=("across-question",),
        log=lambda _m: None,
        **FAST,
    )
    miss = result["missing_reference"]["across-question"]["attention"]
    assert miss["token_masked"]["delta_rmse_mean"] != 0.0


def test_grader_row_and_verdict(tiny_csv, tmp_path):
    result = run_fusion_benchmark(
        str(tiny_csv),
        encoder=HashEncoder(),
        cache_dir=str(tmp_path / "c"),
        kinds=("concat",),
        splits=("within-question",),
        log=lambda _m: None,
        **FAST,
    )
    table = result["split"]["within-question"]
    assert "grader" in table and np.isfinite(table["grader"]["qwk_mean"])
    grader_miss = result["missing_reference"]["within-question"]["grader"]
    assert grader_miss["token_masked"] is None  # the grader has no tokens to mask
    assert np.isfinite(grader_miss["reference_absent"]["delta_pearson_mean"])
    assert isinstance(result["fusion_beats_grader"], bool)
    assert "n/a" in format_report(result)


def test_bad_arguments_are_refused(tiny_csv):
    with pytest.raises(ValueError, match="unknown fusion kinds"):
        run_fusion_benchmark(str(tiny_csv), kinds=("lstm",), encoder=HashEncoder())
    with pytest.raises(ValueError, match="splits"):
        run_fusion_benchmark(str(tiny_csv), splits=("random",), encoder=HashEncoder())
    with pytest.raises(ValueError, match="folds"):
        run_fusion_benchmark(str(tiny_csv), folds=1, encoder=HashEncoder())


def test_command_writes_json(tiny_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EDUPLATFORM_CACHE_DIR", str(tmp_path / "cache"))
    import multimodal.research.fusion_benchmark as fb

    real = fb.run_fusion_benchmark
    monkeypatch.setattr(
        fb,
        "run_fusion_benchmark",
        lambda *a, **kw: real(*a, **{**kw, "encoder": HashEncoder(), "kinds": ("weighted",)}),
    )
    out = tmp_path / "out" / "fusion.json"
    call_command(
        "benchmark_fusion",
        "--csv",
        str(tiny_csv),
        "--folds",
        "2",
        "--max-epochs",
        "2",
        "--members",
        "1",
        "--no-grader",
        "--json",
        str(out),
    )
    data = json.loads(out.read_text())
    assert set(data) >= {"split", "missing_reference", "winner", "date", "machine"}
    assert data["winner"] == "weighted"
    assert data["config"]["max_epochs"] == 2
    assert "winner (fusion): weighted" in capsys.readouterr().out


def test_command_reports_a_bad_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("question_id,answer\n1,x\n")
    with pytest.raises(CommandError, match="missing columns"):
        call_command("benchmark_fusion", "--csv", str(bad))


@pytest.mark.slow
def test_real_minilm_on_30_mohler_answers(tmp_path):
    if not MOHLER.exists():
        pytest.skip(f"{MOHLER} not present")
    with open(MOHLER, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_q: dict[str, list[dict]] = {}
    for r in rows:
        by_q.setdefault(r["question_id"], []).append(r)
    subset = [r for q in list(by_q)[:3] for r in by_q[q][:10]]
    path = tmp_path / "mohler30.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows({c: r[c] for c in COLUMNS} for r in subset)
    result = run_fusion_benchmark(str(path), cache_dir=str(tmp_path / "cache"), log=lambda _m: None, **FAST)
    assert result["n"] == 30 and result["n_questions"] == 3
    assert result["config"]["encoder"].startswith("minilm-l6-v2")
    for table in result["split"].values():
        assert {"attention", "concat", "weighted", "ridge", "grader", "constant"} == set(table)
        assert all(np.isfinite(row["rmse_mean"]) for row in table.values())
