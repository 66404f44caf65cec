"""Knowledge tracing algorithms (plain Python, no database) and the ``benchmark_kt`` command."""

from __future__ import annotations

import io

import numpy as np
import pytest

from multimodal.knowledge_tracing import (
    BKTModel,
    BKTParams,
    EnsembleModel,
    Sequence,
    bkt_predict_correct,
    bkt_update,
    evaluate,
    parse_dkvmn,
)
from multimodal.knowledge_tracing.deep import DeepKTConfig, DeepKTModel

PARAMS = BKTParams(prior=0.3, learn=0.2, forget=0.1, guess=0.25, slip=0.1)


# ----------------------------------------------------------------- online update


def test_bkt_update_correct_matches_hand_computed_posterior():
    # posterior = 0.3*0.9 / (0.3*0.9 + 0.7*0.25) = 0.27/0.445 = 0.606742
    # transition = 0.606742*(1-0.1) + 0.393258*0.2 = 0.546067 + 0.078652 = 0.624719
    assert bkt_update(0.3, True, PARAMS) == pytest.approx(0.624719, abs=1e-6)


def test_bkt_update_incorrect_matches_hand_computed_posterior():
    # posterior = 0.3*0.1 / (0.3*0.1 + 0.7*0.75) = 0.03/0.555 = 0.054054
    # transition = 0.054054*0.9 + 0.945946*0.2 = 0.048649 + 0.189189 = 0.237838
    assert bkt_update(0.3, 0, PARAMS) == pytest.approx(0.237838, abs=1e-6)


def test_bkt_update_without_forgetting_and_from_mapping():
    params = {
        "prior": 0.5,
        "learn": 0.1,
        "guess": 0.2,
        "slip": 0.2,
    }  # forget defaults to 0
    # posterior = 0.4 / (0.4 + 0.1) = 0.8; transition = 0.8 + 0.2*0.1 = 0.82
    assert bkt_update(0.5, True, params) == pytest.approx(0.82)
    # posterior = 0.1 / (0.1 + 0.4) = 0.2; transition = 0.2 + 0.8*0.1 = 0.28
    assert bkt_update(0.5, False, params) == pytest.approx(0.28)


def test_bkt_predict_correct():
    assert bkt_predict_correct(0.4, PARAMS) == pytest.approx(0.51)  # 0.4*0.9 + 0.6*0.25


def test_batch_prediction_replays_online_update():
    rng = np.random.default_rng(1)
    seqs = [Sequence(rng.integers(1, 4, 30), rng.integers(0, 2, 30)) for _ in range(20)]
    model = BKTModel(forgetting=True, max_iter=5).fit(seqs)
    seq = seqs[3]
    preds = model.predict_sequences([seq])[0]
    mastery: dict[int, float] = {}
    for t, (s, c) in enumerate(zip(seq.skills.tolist(), seq.correct.tolist(), strict=True)):
        p = model.params_for(s)
        m = mastery.get(s, p.prior)
        assert preds[t] == pytest.approx(bkt_predict_correct(m, p), abs=1e-9)
        mastery[s] = bkt_update(m, c, p)
    assert model.mastery(seq) == pytest.approx(mastery)


# ----------------------------------------------------------------- EM recovery


def _simulate_bkt(params: dict[int, BKTParams], n_students: int, length: int, seed: int) -> list[Sequence]:
    rng = np.random.default_rng(seed)
    seqs = []
    skills = sorted(params)
    for _ in range(n_students):
        ids = rng.choice(skills, size=length)
        known = {s: rng.random() < params[s].prior for s in skills}
        cor = np.empty(length, np.int8)
        for t, s in enumerate(ids):
            p = params[s]
            cor[t] = rng.random() < ((1 - p.slip) if known[s] else p.guess)
            known[s] = (rng.random() >= p.forget) if known[s] else (rng.random() < p.learn)
        seqs.append(Sequence(ids, cor))
    return seqs


def test_em_recovers_known_parameters():
    truth = {
        1: BKTParams(prior=0.2, learn=0.15, forget=0.0, guess=0.2, slip=0.1),
        2: BKTParams(prior=0.5, learn=0.3, forget=0.0, guess=0.1, slip=0.05),
    }
    seqs = _simulate_bkt(truth, n_students=1500, length=20, seed=0)
    model = BKTModel(max_iter=200).fit(seqs)
    for skill, p in truth.items():
        got = model.params_for(skill)
        assert got.prior == pytest.approx(p.prior, abs=0.06)
        assert got.learn == pytest.approx(p.learn, abs=0.05)
        assert got.guess == pytest.approx(p.guess, abs=0.05)
        assert got.slip == pytest.approx(p.slip, abs=0.05)
        assert got.forget == 0.0


def test_em_with_forgetting_recovers_forget_rate():
    truth = {1: BKTParams(prior=0.3, learn=0.2, forget=0.1, guess=0.15, slip=0.1)}
    seqs = _simulate_bkt(truth, n_students=1500, length=25, seed=2)
    got = BKTModel(forgetting=True, max_iter=300).fit(seqs).params_for(1)
    assert got.forget == pytest.approx(0.1, abs=0.05)
    assert got.learn == pytest.approx(0.2, abs=0.07)
    assert got.guess == pytest.approx(0.15, abs=0.05)
    assert got.slip == pytest.approx(0.1, abs=0.05)


def test_bkt_caps_guess_and_slip_and_defaults_unseen_skills():
    rng = np.random.default_rng(3)
    # Responses independent of practice: EM is pushed towards degenerate guess/slip.
    seqs = [Sequence(np.full(15, 1), rng.integers(0, 2, 15)) for _ in range(200)]
    model = BKTModel(max_iter=50).fit(seqs)
    p = model.params_for(1)
    assert p.guess <= 0.3 and p.slip <= 0.3
    assert model.params_for(99) == model.default
    assert len(model.predict_sequences([Sequence([99, 1], [1, 0])])[0]) == 2


def test_bkt_save_load_roundtrip(tmp_path):
    seqs = _simulate_bkt({1: BKTParams(), 3: BKTParams(guess=0.1)}, 50, 10, seed=4)
    model = BKTModel(max_iter=10).fit(seqs)
    loaded = BKTModel.load(model.save(tmp_path / "bkt"))
    assert loaded.version == model.version
    assert loaded.params_for(3) == model.params_for(3)
    np.testing.assert_allclose(loaded.predict_sequences(seqs[:5])[2], model.predict_sequences(seqs[:5])[2])


# ----------------------------------------------------------------- deep model


def _synthetic_dkt_data(n_students: int, seed: int) -> list[Sequence]:
    """Students with a latent ability answer questions of varying difficulty; ability grows."""
    difficulty = np.random.default_rng(0).normal(0, 1.2, size=21)  # same questions everywhere
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_students):
        ability = rng.normal(0, 1.0)
        ids = rng.integers(1, 21, size=40)
        logits = ability - difficulty[ids] + 0.04 * np.arange(40)
        seqs.append(Sequence(ids, (rng.random(40) < 1 / (1 + np.exp(-logits))).astype(np.int8)))
    return seqs


def test_deep_model_learns_on_tiny_synthetic_set(tmp_path):
    train, test = _synthetic_dkt_data(160, seed=5), _synthetic_dkt_data(60, seed=6)
    cfg = DeepKTConfig(
        emb_dim=16,
        hidden=32,
        max_epochs=8,
        patience=3,
        batch_tokens=1280,
        lr=1e-2,
    )
    model = DeepKTModel(cfg, device="cpu").fit(train)
    result = evaluate(model, test)
    assert result["n"] == 60 * 40
    assert result["auc"] > 0.6

    ensemble = EnsembleModel([model, model])
    np.testing.assert_allclose(ensemble.predict_sequences(test[:2])[0], model.predict_sequences(test[:2])[0])

    model.metrics = {"auc": result["auc"]}
    path = model.save(tmp_path / "dkt")
    loaded = DeepKTModel.load(path, device="cpu")
    assert loaded.version == model.version and loaded.metrics == model.metrics
    np.testing.assert_allclose(
        loaded.predict_sequences(test[:3])[1],
        model.predict_sequences(test[:3])[1],
        rtol=1e-5,
    )


@pytest.mark.parametrize("arch", ["dkt", "akt_lite"])
def test_deep_model_prediction_ignores_the_response_it_predicts(arch):
    train = _synthetic_dkt_data(40, seed=7)
    model = DeepKTModel(DeepKTConfig(arch=arch, emb_dim=8, hidden=8, max_epochs=1), device="cpu").fit(train)
    seq = train[0]
    flipped = Sequence(seq.skills.copy(), seq.correct.copy())
    flipped.correct[10] = 1 - flipped.correct[10]
    a, b = model.predict_sequences([seq, flipped])
    np.testing.assert_allclose(a[:11], b[:11], rtol=1e-6)  # up to and including step 10
    assert not np.allclose(a[11:], b[11:])


# ----------------------------------------------------------------- loader


def test_parse_dkvmn_with_trailing_commas_and_blank_lines():
    text = "3\n1,2,2,\n0,1,1,\n\n2\n5, 7,,\n1,0,\n0\n\n\n1\n4,\n1,\n\n"
    seqs = parse_dkvmn(text)  # the third student has no responses and is dropped
    assert [s.skills.tolist() for s in seqs] == [[1, 2, 2], [5, 7], [4]]
    assert [s.correct.tolist() for s in seqs] == [[0, 1, 1], [1, 0], [1]]


def test_parse_dkvmn_rejects_bad_values():
    with pytest.raises(ValueError):
        parse_dkvmn("1\n0\n1\n")  # ids are 1-based
    with pytest.raises(ValueError):
        parse_dkvmn("1\n3\n2\n")  # correctness must be 0/1
    with pytest.raises(ValueError):
        parse_dkvmn("1\n3\n")  # incomplete record


# ----------------------------------------------------------------- benchmark command


def _write_dkvmn(path, seqs: list[Sequence]) -> None:
    rows = []
    for s in seqs:
        rows += [
            str(len(s)),
            ",".join(map(str, s.skills)) + ",",
            ",".join(map(str, s.correct)) + ",",
        ]
    path.write_text("\n".join(rows) + "\n")


def test_benchmark_command_writes_json(tmp_path):
    import json

    from django.core.management import call_command
    from django.core.management.base import CommandError

    truth = {1: BKTParams(), 2: BKTParams(prior=0.6, guess=0.1)}
    _write_dkvmn(tmp_path / "train.csv", _simulate_bkt(truth, 80, 12, seed=8))
    _write_dkvmn(tmp_path / "test.csv", _simulate_bkt(truth, 30, 12, seed=9))
    out = tmp_path / "bench.json"
    call_command(
        "benchmark_kt",
        train=str(tmp_path / "train.csv"),
        test=str(tmp_path / "test.csv"),
        model="bkt,bkt_forget",
        json_out=str(out),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    report = json.loads(out.read_text())
    assert set(report["models"]) == {"bkt", "bkt_forget"}
    assert report["models"]["bkt"]["n"] == 30 * 12
    assert {"auc", "acc", "train_s", "pred_per_s"} <= set(report["models"]["bkt"])
    assert report["date"] and report["machine"]
    with pytest.raises(CommandError):
        call_command("benchmark_kt", train=str(out), test=str(out), model="nope")
