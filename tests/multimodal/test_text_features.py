"""Hand-crafted text features: spelling, readability, structure, gibberish checks."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal import text_features as tf


def test_word_list_ships_with_an_installed_package():
    words = tf.word_list()
    assert len(words) > 10_000
    assert {"the", "memory", "function"} <= words


def test_spelling_ratio_on_a_known_misspelled_sentence():
    sentence = "Thiss sentense has sevral mispeled wordz."
    errors = tf.spelling_errors(sentence)
    assert {"Thiss", "sevral", "mispeled", "wordz"} <= set(errors)
    assert "has" not in errors
    # 6 checkable words, at least 4 flagged
    assert tf.spelling_error_ratio(sentence) >= 4 / 6 - 1e-9


def test_correct_text_has_no_spelling_errors_including_inflections():
    text = "The pointers were stored in linked lists; recursion uses the call stack."
    assert tf.spelling_errors(text) == []
    assert tf.spelling_error_ratio(text) == 0.0


def test_domain_vocabulary_counts_as_known():
    assert tf.spelling_errors("use enqueue", extra_words=["Enqueue adds an item"]) == []


def test_feature_vector_matches_feature_names():
    vec = tf.text_features("One sentence here. Another one follows!\n\nA new paragraph.")
    assert vec.shape == (len(tf.FEATURE_NAMES),)
    assert vec.dtype == np.float32
    d = tf.text_feature_dict("One sentence here. Another one follows!\n\nA new paragraph.")
    assert list(d) == list(tf.FEATURE_NAMES)
    assert d["n_sentences"] == 3
    assert d["n_paragraphs"] == 2


def test_readability_orders_simple_above_complex_text():
    simple = "The cat sat on the mat. It was a big cat. The dog ran."
    complex_ = (
        "Notwithstanding considerable methodological heterogeneity, the investigators "
        "systematically characterised multidimensional organisational interdependencies."
    )
    fs = tf.text_feature_dict(simple)
    fc = tf.text_feature_dict(complex_)
    assert fs["flesch_reading_ease"] > fc["flesch_reading_ease"]
    assert fs["flesch_kincaid_grade"] < fc["flesch_kincaid_grade"]


def test_empty_text_gives_finite_zero_features():
    vec = tf.text_features("")
    assert np.all(np.isfinite(vec))
    assert vec[tf.FEATURE_NAMES.index("n_words_log")] == 0.0


@pytest.mark.parametrize("text", ["asdfgh jklqwe zxcvbn", "aaaaaaaaaaaa", "lol lol lol lol", "sdkfj woeiru xcmvn"])
def test_gibberish_is_detected(text):
    assert tf.gibberish_reasons(text)


@pytest.mark.parametrize(
    "text", ["42", "iterative", "xPtr + 1", "enqueue, dequeue", "O(n log n)", "A stack is last in, first out."]
)
def test_short_technical_answers_are_not_gibberish(text):
    assert tf.gibberish_reasons(text) == []


def test_light_stem_and_content_words():
    assert tf.light_stem("pointers") == tf.light_stem("pointer")
    assert tf.light_stem("stopped") == "stop"
    assert tf.content_words("The pointers are stored") == ["pointer", "stor"]
