"""The grading model: zero-shot ranking, flags, learned mode, confidence, artifacts.

Fast tests use a deterministic hashed bag-of-words encoder (lexical "embeddings"),
so they check the grader's logic without loading MiniLM; tests marked ``slow`` use
the real shipped MiniLM encoder for what needs semantics (paraphrases, off-topic).
"""

from __future__ import annotations

import hashlib
import json
import random
from types import SimpleNamespace

import numpy as np
import pytest

from multimodal.grader import FLAGS, CriterionResult, Grader, GradeResult, GradingItem
from multimodal.text_features import content_words


class HashEncoder:
    """Unit vectors from hashed content words: same words, same direction."""

    info = SimpleNamespace(name="hash-bow-test")

    def encode(self, texts, progress=False):
        out = np.zeros((len(texts), 384), np.float32)
        for i, text in enumerate(texts):
            for w in content_words(text):
                h = int(hashlib.sha1(w.encode()).hexdigest(), 16)
                out[i, h % 384] += 1.0 if (h >> 20) % 2 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-9, None)


STACK_Q = "What does a stack data structure do?"
STACK_REF = "A stack stores items so that the last item pushed is the first item popped: last in, first out."


def _item(answer, **kw):
    base = {"question": STACK_Q, "reference_answers": [STACK_REF], "min_score": 0, "max_score": 5}
    base.update(kw)
    return GradingItem(answer=answer, **base)


# --------------------------------------------------------------------- synthetic data

_QUESTIONS = {
    "stack": (
        "What does a stack do?",
        "Last in first out: push adds an item on top and pop removes the top item.",
        [
            ["last in first out", "lifo order", "the newest element leaves first"],
            ["push adds an item on top", "push places a value on the top", "insertion happens at the top with push"],
            ["pop removes the top item", "pop takes the top value off", "deletion happens at the top with pop"],
        ],
        ["first in first out", "fifo order like a queue", "oldest element leaves first"],
    ),
    "bst": (
        "How do you search a binary search tree?",
        "Compare the key with the root, go left if smaller, go right if larger, repeat.",
        [
            [
                "compare the key with the root",
                "check the current node value against the key",
                "start at the root and compare",
            ],
            [
                "go left if smaller",
                "smaller keys are in the left subtree",
                "move to the left child when the key is less",
            ],
            [
                "go right if larger",
                "larger keys are in the right subtree",
                "move to the right child when the key is greater",
            ],
        ],
        ["visit every node in order", "scan all nodes linearly", "use breadth first search"],
    ),
    "hash": (
        "How does a hash table find a value?",
        "A hash function maps the key to a bucket index; collisions are resolved by chaining.",
        [
            ["a hash function maps the key", "the key is hashed by a function", "hashing the key gives a number"],
            ["to a bucket index", "that number selects an array slot", "the slot in the array is chosen"],
            [
                "collisions are resolved by chaining",
                "colliding keys share a linked list",
                "chaining handles collisions",
            ],
        ],
        ["it sorts the keys and uses binary search", "keys are kept in sorted order", "binary search over sorted keys"],
    ),
}


def _synthetic(seed: int = 0, per_question: int = 36):
    """Answers built from fact paraphrases (score = 5 x facts / 3) or from a misconception
    that shares the topic's vocabulary but scores 0, as real wrong answers do."""
    rng = random.Random(seed)
    items, scores = [], []
    for qid, (question, ref, facts, wrong) in _QUESTIONS.items():
        for _ in range(per_question):
            if rng.random() < 0.25:
                chosen, parts = [], rng.sample(wrong, 2)
            else:
                chosen = [rng.choice(f) for f in facts if rng.random() < 0.55]
                parts = list(chosen)
            rng.shuffle(parts)
            answer = ". ".join(parts) if parts else rng.choice(["it stores data", "not sure how"])
            score = 5.0 * len(chosen) / 3
            items.append(
                GradingItem(
                    answer=answer, question=question, reference_answers=[ref], min_score=0, max_score=5, question_id=qid
                )
            )
            scores.append(score)
    return items, np.asarray(scores)


@pytest.fixture(scope="module")
def synthetic_split():
    items, y = _synthetic()
    idx = np.arange(len(items))
    test = idx % 3 == 0  # a third of every question held out
    train_items = [items[i] for i in idx[~test]]
    test_items = [items[i] for i in idx[test]]
    return train_items, y[~test], test_items, y[test]


@pytest.fixture(scope="module")
def fitted(synthetic_split):
    train_items, y_train, _, _ = synthetic_split
    grader = Grader(HashEncoder(), candidates=("ridge", "knn", "hgb"), score_step=0.5, inner_folds=3)
    return grader.fit(train_items, y_train)


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ------------------------------------------------------------------------------ tests


def test_learned_mode_beats_constant_and_zero_shot_baselines(fitted, synthetic_split):
    _, y_train, test_items, y_test = synthetic_split
    learned = np.array([r.score for r in fitted.predict(test_items)])
    zero_shot = np.array([r.score for r in Grader(HashEncoder()).predict(test_items)])
    constant = np.full(len(y_test), y_train.mean())
    assert _rmse(y_test, learned) < 0.8 * _rmse(y_test, constant)
    assert _rmse(y_test, learned) < _rmse(y_test, zero_shot)
    assert np.corrcoef(learned, y_test)[0, 1] > np.corrcoef(zero_shot, y_test)[0, 1]


def test_learned_results_are_complete_and_explained(fitted, synthetic_split):
    _, _, test_items, _ = synthetic_split
    results = fitted.predict(test_items[:5])
    for r in results:
        assert isinstance(r, GradeResult)
        assert r.mode == "learned"
        assert 0 <= r.score <= 5
        assert 0.0 <= r.confidence <= 1.0
        lo, hi = r.interval
        assert 0 <= lo <= hi <= 5
        assert r.features["within_question"] == 1.0
        assert "within-question model" in r.explanation
        assert all(isinstance(c, CriterionResult) for c in r.criteria)
        assert r.model_version == fitted.version
        assert set(r.flags) <= set(FLAGS)
    summary = fitted.summary
    assert summary["n_answers"] == 72 and summary["n_questions"] == 3
    assert set(summary["within_model"].split("+")) <= {"ridge", "knn", "hgb"}
    assert 0.0 <= summary["blend_within_weight"] <= 1.0


def test_new_question_uses_the_across_question_model(fitted):
    item = GradingItem(
        answer="Last in first out; push adds on top and pop removes the top item.",
        question="Describe the stack abstract data type.",
        reference_answers=[STACK_REF],
        min_score=0,
        max_score=5,
        question_id="new-question",
    )
    (r,) = fitted.predict([item])
    assert r.mode == "learned"
    assert r.features["within_question"] == 0.0
    assert "across-question model" in r.explanation


def test_low_confidence_means_larger_error(synthetic_split):
    items, y = _synthetic(seed=1, per_question=48)
    idx = np.arange(len(items))
    test = idx % 3 == 0
    grader = Grader(HashEncoder(), candidates=("knn", "hgb")).fit([items[i] for i in idx[~test]], y[~test])
    res = grader.predict([items[i] for i in idx[test]])
    conf = np.array([r.confidence for r in res])
    err = np.abs(np.array([r.score for r in res]) - y[test])
    order = np.argsort(conf)
    half = len(order) // 2
    assert err[order[:half]].mean() >= err[order[half:]].mean()
    report = grader.metrics["calibration_within"]
    assert report["coverage"] >= 0.75  # 90% target on out-of-fold rows, small sample


def test_save_load_round_trip(fitted, synthetic_split, tmp_path):
    _, _, test_items, _ = synthetic_split
    before = fitted.predict(test_items)
    path = fitted.save(tmp_path / "grader")
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["version"] == fitted.version and meta["version"].startswith("grader-2-")
    assert meta["training_summary"]["n_answers"] == 72
    assert "oof_within_blend" in meta["metrics"]
    loaded = Grader.load(path, encoder=HashEncoder())
    after = loaded.predict(test_items)
    assert loaded.version == fitted.version
    assert [r.score for r in after] == [r.score for r in before]
    assert [r.confidence for r in after] == [r.confidence for r in before]


def test_load_rejects_a_tampered_artifact(fitted, tmp_path):
    path = fitted.save(tmp_path / "grader")
    data = bytearray((path / "grader.joblib").read_bytes())
    data[-10] ^= 0xFF
    (path / "grader.joblib").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match"):
        Grader.load(path)
    with pytest.raises(FileNotFoundError):
        Grader.load(tmp_path / "missing")


def test_fit_validates_input():
    with pytest.raises(ValueError):
        Grader(HashEncoder()).fit([_item("a")] * 3, [1, 2, 3])
    with pytest.raises(ValueError):
        Grader(HashEncoder()).fit([_item("a")] * 6, [1, 2, 3, 4, 5, float("nan")])
    with pytest.raises(ValueError):
        GradingItem(answer="x", min_score=5, max_score=5)


def test_blank_and_non_answers_are_flagged_and_not_scored_as_normal():
    for text in ["", "   ", "?!", "not answered", "I don't know"]:
        (r,) = Grader(HashEncoder()).predict([_item(text)])
        assert "blank" in r.flags
        assert r.score == 0 and r.confidence == 0.0 and r.needs_review
        assert "Not scored as normal" in r.explanation


def test_gibberish_is_flagged():
    (r,) = Grader(HashEncoder()).predict([_item("asdfgh jklqwe zxcvbn qwrtz")])
    assert "gibberish" in r.flags
    assert r.score == 0 and r.confidence == 0.0


def test_copied_reference_is_flagged_but_scored():
    (r,) = Grader(HashEncoder()).predict([_item(STACK_REF.lower())])
    assert "copied_reference" in r.flags
    assert r.score > 2.5  # scored, but sent to review
    assert r.confidence == 0.0 and r.needs_review


def test_short_reference_answered_verbatim_is_not_a_copy():
    item = GradingItem(
        answer="push and pop",
        question="Name the two stack operations.",
        reference_answers=["Push and pop."],
        min_score=0,
        max_score=5,
    )
    (r,) = Grader(HashEncoder()).predict([item])
    assert "copied_reference" not in r.flags


def test_too_short_essay_is_flagged():
    ref = " ".join(["The industrial revolution changed how people worked and lived."] * 6)
    item = GradingItem(
        answer="Factories.",
        question="Discuss the industrial revolution.",
        reference_answers=[ref],
        min_score=0,
        max_score=10,
    )
    (r,) = Grader(HashEncoder()).predict([item])
    assert "too_short" in r.flags and r.confidence == 0.0


def test_zero_shot_without_reference_or_rubric_does_not_pretend():
    item = GradingItem(answer="Some essay text.", question="Write about your holiday.", min_score=0, max_score=10)
    (r,) = Grader(HashEncoder()).predict([item])
    assert r.score is None and r.confidence == 0.0 and r.needs_review
    assert "Not graded" in r.explanation


def test_key_points_become_criteria_with_evidence_and_feedback():
    """Cosine rules (no classifier): met with evidence, missing only when nothing is related."""
    item = GradingItem(
        answer="Push adds an item on top. It is quick.",
        question=STACK_Q,
        key_points=["push adds an item on top", "pop deletes the newest element", "pop removes the top item"],
        min_score=0,
        max_score=3,
    )
    (r,) = Grader(HashEncoder(), keypoint_model=None).predict([item])
    assert r.mode == "zero-shot"
    assert 0 < r.confidence <= 0.3
    by_name = {c.name: c for c in r.criteria}
    assert by_name["push adds an item on top"].met
    assert by_name["push adds an item on top"].evidence == "Push adds an item on top."
    assert by_name["pop deletes the newest element"].level == "missing"
    # shares words with the answer: not confidently absent, so the student is told nothing
    assert by_name["pop removes the top item"].level == "unsure"
    assert "push adds an item on top" in r.feedback.split("What is missing")[0]
    assert "pop deletes the newest element" in r.feedback.split("What is missing")[1]
    assert "pop removes the top item" not in r.feedback


def test_essay_feedback_mentions_structure_length_and_spelling():
    essay = " ".join(["Teh goverment desided to build more roads becuase trafic was bad."] * 15)
    item = GradingItem(
        answer=essay,
        question="Discuss transport policy.",
        key_points=["more roads reduce traffic"],
        min_score=0,
        max_score=10,
    )
    (r,) = Grader(HashEncoder()).predict([item])
    assert "paragraphs" in r.feedback
    assert "spelling" in r.feedback and "goverment" in r.feedback


# ------------------------------------------------------------- real encoder (semantics)


@pytest.fixture(scope="module")
def minilm():
    from multimodal.registry import get_text_encoder

    return get_text_encoder()


@pytest.mark.slow
def test_zero_shot_paraphrase_scores_higher_than_wrong_answer(minilm):
    grader = Grader(minilm)
    paraphrases = [
        _item("Items come off in reverse order: the most recently pushed element is popped first."),
        _item("The newest element added to the stack is the first one taken out."),
    ]
    wrong = [
        _item("It removes the oldest element first, like people waiting in a queue."),
        _item("It stores data in a table with rows and columns."),
    ]
    results = grader.predict(paraphrases + wrong)
    good, bad = [r.score for r in results[:2]], [r.score for r in results[2:]]
    assert min(good) > max(bad)
    assert all(r.mode == "zero-shot" and 0 < r.confidence <= 0.3 for r in results)


@pytest.mark.slow
def test_off_topic_is_flagged_with_the_real_encoder(minilm):
    (r,) = Grader(minilm).predict([_item("The French Revolution began in 1789 with the storming of the Bastille.")])
    assert "off_topic" in r.flags
    assert r.score == 0 and r.confidence == 0.0
    (ok,) = Grader(minilm).predict([_item("Stacks are LIFO.")])
    assert "off_topic" not in ok.flags


def test_benchmark_runs_both_protocols_and_writes_the_documented_json(tmp_path):
    import csv

    from multimodal.research.grading_benchmark import CachedEncoder, run_benchmark, write_json

    items, y = _synthetic(per_question=8)
    path = tmp_path / "grading.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["question_id", "question", "reference_answer", "answer", "score", "min_score", "max_score"])
        for it, score in zip(items, y, strict=True):
            w.writerow([it.question_id, it.question, it.reference_answers[0], it.answer, score, 0, 5])
    result = run_benchmark(
        path,
        folds=2,
        split="both",
        model="ridge",
        encoder=HashEncoder(),
        cache_dir=tmp_path / "cache",
        log=lambda _msg: None,
    )
    write_json(result, tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["n"] == 24 and data["split"] == "both" and data["date"] and data["machine"]
    assert set(data["overall"]) >= {"qwk", "pearson", "rmse", "zero_shot_pearson"}
    assert set(data["per_question"]) == {"stack", "bst", "hash"}
    assert set(data["splits"]) == {"within-question", "across-question"}
    assert data["score_step"] == 0.5  # thirds of 5 are not whole points
    # the embedding cache is on disk: a new process would encode nothing
    cached = CachedEncoder(HashEncoder(), tmp_path / "cache")
    cached.encode(Grader.texts_to_encode(items))
    assert cached.encoded == 0
    assert np.allclose(cached.encode([items[0].answer]), HashEncoder().encode([items[0].answer]))


def test_zero_shot_uses_scored_exemplars_when_there_is_no_reference():
    exemplars = [
        ("push adds on top and pop removes the top item", 4.0),
        ("it stores things in a table", 0.0),
    ]
    item = GradingItem(
        answer="pop removes the top item and push adds on top",
        question=STACK_Q,
        exemplars=exemplars,
        min_score=0,
        max_score=4,
    )
    far = GradingItem(
        answer="a table of things is stored", question=STACK_Q, exemplars=exemplars, min_score=0, max_score=4
    )
    good, bad = Grader(HashEncoder()).predict([item, far])
    assert good.score is not None and bad.score is not None
    assert good.score > 3 > 1 > bad.score
    assert "scored exemplars" in good.explanation and good.mode == "zero-shot"


def _labelled_csv(path, rows):
    import csv

    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "question_id",
                "question",
                "reference_answer",
                "answer",
                "score",
                "min_score",
                "max_score",
                "label",
                "split",
            ]
        )
        w.writerows(rows)


def _labelled_rows(seed, n_per_label=4):
    """SemEval-shaped rows: paraphrases of the reference are correct, antonym swaps
    contradictory, unrelated answers incorrect."""
    rng = random.Random(seed)
    facts = [
        ("q1", "What happens to the bulbs?", "the bulbs stay on", "bulbs stay on", "the bulbs go off"),
        (
            "q2",
            "Which way does heat flow?",
            "heat flows from hot to cold",
            "heat moves from hot to cold",
            "heat flows from cold to hot",
        ),
        ("q3", "Is the switch open?", "the switch is open", "switch is open", "the switch is closed"),
        ("q4", "How does a stack behave?", "last in first out", "the last in is first out", "first in first out"),
        (
            "q5",
            "What does the magnet do?",
            "the magnet attracts iron",
            "iron is attracted by the magnet",
            "the magnet repels iron",
        ),
        (
            "q6",
            "Where is the battery terminal?",
            "the terminal is positive",
            "positive terminal",
            "the terminal is negative",
        ),
    ]
    rows = []
    for qid, q, ref, para, contra in facts:
        for _ in range(n_per_label):
            rows.append([qid, q, ref, para + rng.choice(["", ".", " indeed"]), 1, 0, 1, "correct", "unseen-answers"])
            rows.append(
                [qid, q, ref, contra + rng.choice(["", ".", " indeed"]), 0, 0, 1, "contradictory", "unseen-answers"]
            )
            rows.append(
                [
                    qid,
                    q,
                    ref,
                    rng.choice(["i like lunch", "no idea about it", "the sky is blue"]),
                    0,
                    0,
                    1,
                    "incorrect",
                    "unseen-answers",
                ]
            )
    return rows


@pytest.mark.slow
def test_train_test_benchmark_reports_scores_auto_release_and_three_way_labels(tmp_path):
    from multimodal.research.grading_benchmark import format_report, run_train_test, write_json

    _labelled_csv(tmp_path / "train.csv", _labelled_rows(0, 6))
    test_rows = _labelled_rows(1, 2)
    for r in test_rows[: len(test_rows) // 2]:
        r[8] = "unseen-questions"
    _labelled_csv(tmp_path / "test.csv", test_rows)
    result = run_train_test(
        tmp_path / "train.csv",
        tmp_path / "test.csv",
        model="ridge",
        encoder=HashEncoder(),
        cache_dir=tmp_path / "cache",
        log=lambda _m: None,
    )
    write_json(result, tmp_path / "out.json")
    data = json.loads((tmp_path / "out.json").read_text())
    assert set(data["overall"]) >= {"qwk_mean", "qwk_pooled", "pearson", "rmse", "auto_release_share_at_rmse_0.5"}
    assert 0.0 <= data["overall"]["auto_release_share_at_rmse_0.5"] <= 1.0
    assert set(data["per_question"]) == {f"q{i}" for i in range(1, 7)}
    cl = data["classification"]
    assert set(cl) >= {"accuracy", "macro_f1", "weighted_f1", "per_split"}
    assert set(cl["per_split"]) == {"unseen-answers", "unseen-questions"}
    assert data["n"] == len(test_rows)
    assert "3-way labels" in format_report(result)
