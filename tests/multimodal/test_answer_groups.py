"""Answer groups: duplicates and paraphrases together, different answers apart."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal.answer_groups import answer_groups, group_answers, normalise_answer


def _unit(*rows):
    m = np.asarray(rows, dtype=float)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_exact_duplicates_group_even_when_embeddings_differ():
    texts = ["Push and pop.", "push AND pop", "push, and pop!"]
    emb = _unit([1, 0, 0], [0, 1, 0], [0, 0, 1])  # orthogonal: only normalised text can join them
    assert group_answers(texts, emb) == [[0, 1, 2]]
    assert normalise_answer("  Push, and POP! ") == "push and pop"


def test_threshold_separates_distant_answers_and_joins_close_ones():
    texts = ["a", "b", "c", "d"]
    emb = _unit([1, 0.05, 0], [1, 0, 0.05], [0, 1, 0], [0, 1, 0.1])
    groups = group_answers(texts, emb, threshold=0.2)
    assert sorted(map(sorted, groups)) == [[0, 1], [2, 3]]
    assert len(group_answers(texts, emb, threshold=0.0001)) == 4


def test_representative_first_largest_group_first_and_blanks_apart():
    texts = ["x", "y", "z", "", "  ", "w"]
    emb = _unit([1, 0.1, 0], [1, 0, 0], [1, 0, 0.1], [0, 0, 1], [0, 0, 1], [0, 1, 0])
    groups = answer_groups(texts, emb, threshold=0.2)
    assert [sorted(g.members) for g in groups] == [[0, 1, 2], [3, 4], [5]]
    assert groups[0].representative == 1 and groups[0].members[0] == 1  # the medoid
    assert groups[1].blank and not groups[0].blank
    assert 0.9 < groups[0].cohesion <= 1.0
    covered = sorted(i for g in groups for i in g.members)
    assert covered == list(range(len(texts)))


def test_empty_and_single_inputs():
    assert group_answers([], np.zeros((0, 3))) == []
    assert group_answers(["only"], _unit([1, 0])) == [[0]]
    with pytest.raises(ValueError):
        group_answers(["a", "b"], _unit([1, 0]))


@pytest.mark.slow
def test_paraphrases_group_together_with_the_real_encoder():
    from multimodal.registry import get_text_encoder

    texts = [
        "A stack is last in, first out.",
        "The last element added to a stack is removed first.",
        "a stack is last in first out",
        "Binary search halves the search interval at every step.",
        "A queue is first in, first out.",
    ]
    groups = group_answers(texts, encoder=get_text_encoder())
    as_sets = [set(g) for g in groups]
    assert {0, 1, 2} in as_sets
    assert {3} in as_sets and {4} in as_sets
