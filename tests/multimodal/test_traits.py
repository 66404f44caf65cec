"""Rubric traits: the total follows the rubric, traits are learned from teacher scores,
results carry confidence, evidence sentences and plain-word feedback."""

from __future__ import annotations

import random

import numpy as np
import pytest

from multimodal import feedback
from multimodal.traits import TraitModel, TraitSpec, essay_feature_matrix, trait_total


def test_total_is_the_sum_of_points_or_the_weighted_mean():
    specs = [TraitSpec("content", 0, 4), TraitSpec("organisation", 0, 4), TraitSpec("spelling", 0, 2)]
    assert trait_total(specs, [3, 2, 1], 0, 10) == pytest.approx(6.0)  # points add up
    ell = [TraitSpec(n, 1, 5) for n in ("cohesion", "syntax", "vocabulary")]
    assert trait_total(ell, [2.0, 3.0, 4.0], 1, 5) == pytest.approx(3.0)  # equal ranges: the mean
    weighted = [TraitSpec("a", 0, 10, weight=3), TraitSpec("b", 0, 10, weight=1)]
    assert trait_total(weighted, [10, 0], 0, 100) == pytest.approx(75.0)
    assert trait_total(specs, [3, None, 1], 0, 10) is None


def test_trait_spec_validates_and_keys_by_name():
    assert TraitSpec(" Grammar  Usage ", 1, 5).key == "grammar usage"
    with pytest.raises(ValueError):
        TraitSpec("x", 3, 3)
    with pytest.raises(ValueError):
        TraitSpec("", 0, 1)


_GOOD = [
    "However, the results of the experiment were clear and convincing.",
    "Furthermore, careful planning helps students organise their ideas.",
    "For example, a well-structured essay guides the reader from one point to the next.",
    "As a result, readers understand the argument without difficulty.",
    "In conclusion, clear writing depends on practice and attention to detail.",
]
_BAD = [
    "i dont no what to rite about this becuase its hard",
    "he have a apple and they was happy alot",
    "u should of done it but u didnt and thats bad",
    "stuff is good and stuff is bad and things happen",
    "me and him goes to school everyday and we dont like it",
]


def _essays(n: int, seed: int = 0):
    """Essays mixing well-written and error-laden sentences; the grammar and conventions
    scores fall with the share of error-laden sentences."""
    rng = random.Random(seed)
    texts, scores = [], []
    for _ in range(n):
        k = rng.randint(0, 6)
        sents = [rng.choice(_BAD) for _ in range(k)] + [rng.choice(_GOOD) for _ in range(6 - k)]
        rng.shuffle(sents)
        texts.append(" ".join(s if s.endswith(".") else s + "." for s in sents))
        share = k / 6
        scores.append({"grammar": 5 - 4 * share, "conventions": 5 - 4 * share + rng.uniform(-0.3, 0.3)})
    return texts, scores


def _vectors(texts):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(len(texts), 16))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_traits_are_learned_with_confidence_evidence_and_feedback():
    texts, scores = _essays(160)
    specs = [TraitSpec("grammar", 1, 5, step=0.5), TraitSpec("conventions", 1, 5), TraitSpec("voice", 1, 5)]
    x = essay_feature_matrix(texts, _vectors(texts))
    model = TraitModel(kinds=("ridge",), folds=3).fit(texts[:120], x[:120], [specs] * 120, scores[:120])
    assert set(model.traits) == {"grammar", "conventions"}  # "voice" has no teacher scores
    results = model.predict(texts[120:], x[120:], [specs] * 40)
    truth = np.array([s["grammar"] for s in scores[120:]])
    pred = np.array([r[0].score for r in results])
    assert np.corrcoef(truth, pred)[0, 1] > 0.8
    assert all(r[0].score % 0.5 == 0 for r in results)  # reported on the trait's grid
    for r in results:
        grammar, conventions, voice = r
        assert 0 <= grammar.confidence <= 1 and grammar.interval[0] <= grammar.score <= grammar.interval[1]
        assert voice.score is None and voice.confidence == 0 and voice.level == ""
        if grammar.level == "work_on":
            assert grammar.evidence and grammar.evidence in texts[120 + results.index(r)]
            assert grammar.feedback.startswith("Grammar: work on this")
            assert grammar.evidence[:40] in grammar.feedback
    weakest = int(np.argmin(truth))
    assert results[weakest][0].level == "work_on"
    assert results[weakest][0].evidence.rstrip(".") in [s for s in _BAD]


def test_trait_feedback_wording():
    line = feedback.trait_feedback(
        name="conventions", level="work_on", evidence="i dont no what to rite", issues=["capital_i", "spelling"]
    )
    assert line.startswith("Conventions: work on this: check spelling, capital letters and punctuation.")
    assert '"i dont no what to rite"' in line and 'write "I" as a capital letter' in line
    assert feedback.trait_feedback(name="voice", level="", evidence="", issues=[]) == ""
    own = feedback.trait_feedback(
        name="use of sources", level="work_on", evidence="", issues=[], description="Cites two sources."
    )
    assert "Cites two sources" in own
    strength = feedback.trait_feedback(name="vocabulary", level="strength", evidence="A precise sentence.", issues=[])
    assert "strength" in strength and "A precise sentence." in strength


def test_grader_learns_traits_and_the_total_follows_the_rubric():
    from multimodal.grader import Grader, GradingItem

    from .test_grader import HashEncoder

    texts, scores = _essays(90, seed=1)
    specs = [TraitSpec("grammar", 1, 5), TraitSpec("conventions", 1, 5)]

    def item(t):
        return GradingItem(
            answer=t, question="Write about school.", min_score=2, max_score=10, traits=specs, question_id="essay"
        )

    totals = [s["grammar"] + s["conventions"] for s in scores]
    grader = Grader(HashEncoder(), candidates=("ridge",), inner_folds=3)
    grader.fit([item(t) for t in texts[:70]], totals[:70], trait_scores=scores[:70])
    assert set(grader.summary["traits"]) == {"grammar", "conventions"}
    results = grader.predict([item(t) for t in texts[70:]])
    for r in results:
        assert [t.name for t in r.traits] == ["grammar", "conventions"]
        assert all(t.score is not None and t.interval is not None for t in r.traits)
        assert r.score == pytest.approx(sum(t.score for t in r.traits), abs=1e-3)  # points add up: 2-10
        assert r.interval[0] <= r.score <= r.interval[1]
        assert "holistic_prediction" in r.features
    # without trait scores the traits are reported unscored, never guessed
    (zs,) = Grader(HashEncoder()).predict([item(texts[0])])
    assert [t.score for t in zs.traits] == [None, None]
