"""Answer groups: duplicates and near-paraphrases together, anything graded differently apart."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal.answer_groups import answer_groups, compatible, group_answers, normalise_answer, purity_probability


def _unit(*rows):
    m = np.asarray(rows, dtype=float)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_exact_duplicates_group_even_when_embeddings_differ():
    texts = ["Push and pop.", "push AND pop", "push, and pop!"]
    emb = _unit([1, 0, 0], [0, 1, 0], [0, 0, 1])  # orthogonal: only normalised text can join them
    groups = answer_groups(texts, emb)
    assert [g.members for g in groups] == [[0, 1, 2]]
    assert groups[0].exact and groups[0].purity == 1.0
    assert normalise_answer("  Push, and POP! ") == "push and pop"
    # the same content words in the same order: only "it", "is" differ
    same = answer_groups(["It is last in, first out.", "last in first out", "It is not last in first out."], emb)
    assert sorted(map(sorted, (g.members for g in same))) == [[0, 1], [2]]


def test_threshold_separates_distant_answers_and_joins_close_ones():
    texts = ["push adds on top", "push adds items on top", "pop removes the top", "pop removes the top item"]
    emb = _unit([1, 0.05, 0], [1, 0, 0.05], [0, 1, 0], [0, 1, 0.1])
    groups = group_answers(texts, emb, threshold=0.2)
    assert sorted(map(sorted, groups)) == [[0, 1], [2, 3]]
    assert len(group_answers(texts, emb, threshold=0.0001)) == 4


def test_polarity_numbers_antonyms_and_word_overlap_keep_answers_apart():
    assert compatible("a stack is last in first out", "stacks are last in, first out")
    assert not compatible("the array is sorted", "the array is not sorted")
    assert not compatible("a stack is last in first out", "a stack is first in first out")
    assert not compatible("the mass fell by 4 grams", "the mass fell by 7 grams")
    assert not compatible("it uses a hash function", "it sorts keys with binary search")
    texts = ["the array is sorted", "the array is not sorted", "the array is sorted."]
    emb = _unit([1, 0, 0], [1, 0.01, 0], [1, 0, 0.01])  # the encoder cannot tell them apart
    groups = group_answers(texts, emb, threshold=0.2)
    assert sorted(map(sorted, groups)) == [[0, 2], [1]]


def test_key_point_judgements_and_predicted_scores_only_split_groups():
    texts = ["push adds on top", "push adds to the top", "push adds at the top"]
    emb = _unit([1, 0.02, 0], [1, 0, 0.02], [1, 0.01, 0.01])
    assert len(group_answers(texts, emb, threshold=0.2)) == 1
    split = group_answers(texts, emb, threshold=0.2, judgements=[("met",), ("met",), ("missing",)])
    assert sorted(map(sorted, split)) == [[0, 1], [2]]
    by_score = group_answers(texts, emb, threshold=0.2, scores=[5, 5, 3], score_tolerance=0.5)
    assert sorted(map(sorted, by_score)) == [[0, 1], [2]]


def test_representative_first_largest_group_first_blanks_apart_and_purity():
    texts = ["push adds on top", "push adds to the top", "push adds at the top", "", "  ", "pop removes"]
    emb = _unit([1, 0.1, 0], [1, 0, 0], [1, 0, 0.1], [0, 0, 1], [0, 0, 1], [0, 1, 0])
    groups = answer_groups(texts, emb, threshold=0.2)
    assert [sorted(g.members) for g in groups] == [[0, 1, 2], [3, 4], [5]]
    assert groups[0].representative == 1 and groups[0].members[0] == 1  # the medoid
    assert groups[1].blank and not groups[0].blank
    assert 0.9 < groups[0].cohesion <= 1.0
    assert not groups[0].exact and 0 < groups[0].purity < 1
    assert purity_probability(0.99, 1.0) > purity_probability(0.85, 0.5)
    covered = sorted(i for g in groups for i in g.members)
    assert covered == list(range(len(texts)))


def test_empty_and_single_inputs():
    assert group_answers([], np.zeros((0, 3))) == []
    assert group_answers(["only"], _unit([1, 0])) == [[0]]
    with pytest.raises(ValueError):
        group_answers(["a", "b"], _unit([1, 0]))
    with pytest.raises(ValueError):
        group_answers(["a", "b"], _unit([1, 0], [0, 1]), scores=[1.0])


@pytest.mark.slow
def test_near_paraphrases_group_and_different_answers_do_not_with_the_real_encoder():
    from multimodal.registry import get_text_encoder

    texts = [
        "A stack is last in, first out.",
        "a stack is last in first out",
        "A stack is last-in first-out.",
        "A stack is not last in first out.",
        "A stack is first in first out.",
        "Binary search halves the search interval at every step.",
        "A queue is first in, first out.",
    ]
    groups = answer_groups(texts, encoder=get_text_encoder())
    as_sets = [set(g.members) for g in groups]
    assert {0, 1, 2} in as_sets
    for i in (3, 4, 5, 6):
        assert {i} in as_sets
