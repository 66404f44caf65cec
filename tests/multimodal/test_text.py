"""MiniLM text encoder: semantic similarity, long-text chunking, input order."""

from __future__ import annotations

import numpy as np
import pytest

REFERENCE = "Photosynthesis converts light energy into chemical energy stored in glucose."
PARAPHRASE = "Plants use sunlight to make sugar, storing the light's energy chemically."
UNRELATED = "The French Revolution began in 1789 with the storming of the Bastille."


@pytest.fixture(scope="module")
def encoder():
    from multimodal import registry

    return registry.get_text_encoder()


def test_paraphrase_is_closer_than_unrelated(encoder):
    assert encoder.similarity(REFERENCE, PARAPHRASE) > encoder.similarity(REFERENCE, UNRELATED) + 0.3


def test_embeddings_are_unit_vectors(encoder):
    vecs = encoder.encode([REFERENCE, "", "x"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_long_text_is_chunked_and_keeps_its_meaning(encoder):
    sentences = [
        "Photosynthesis takes place in the chloroplasts of plant cells.",
        "Chlorophyll absorbs mostly red and blue light.",
        "Light energy splits water molecules and releases oxygen.",
        "The Calvin cycle fixes carbon dioxide into sugars.",
    ]
    essay = " ".join(sentences * 12)  # far beyond MiniLM's 256-token window
    assert len(encoder._chunks(essay)) > 1
    vec = encoder.encode([essay])[0]
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    # Truncation would only see the first 256 tokens; chunking sees all of it and
    # stays about photosynthesis.
    assert float(vec @ encoder.encode([REFERENCE])[0]) > float(vec @ encoder.encode([UNRELATED])[0]) + 0.3


def test_order_restored_after_length_sorting(encoder):
    texts = [
        "a much longer sentence about the water cycle and evaporation",
        "short",
        UNRELATED,
        "medium length text here",
        REFERENCE,
    ]
    batched = encoder.encode(texts)
    one_by_one = np.stack([encoder.encode([t])[0] for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)


def test_registry_reports_loaded_text_model(encoder):
    from multimodal import registry

    info = registry.loaded_models()["text"]
    assert info["version"] == "minilm-l6-v2" and info["device"] in {"cpu", "cuda", "cuda:0"}
    assert registry.get_text_encoder() is encoder


def test_registry_loads_each_model_once_across_threads():
    import threading
    import time

    from multimodal import registry

    calls = []

    def slow_factory(_config):
        calls.append(1)
        time.sleep(0.05)
        return object(), {"version": "dummy"}

    got = []
    threads = [threading.Thread(target=lambda: got.append(registry._get("dummy", slow_factory))) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(calls) == 1 and len({id(g) for g in got}) == 1
        assert registry.loaded_models()["dummy"]["version"] == "dummy"
    finally:
        registry._models.pop("dummy", None)
        registry._info.pop("dummy", None)
