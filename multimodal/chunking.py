"""Whole-text embeddings for long answers: sentence-packed chunks, encoded once, pooled.

MiniLM reads 256 tokens at most and was trained on inputs of about 128, so an essay
is cut into chunks of whole sentences of at most ``CHUNK_WORDS`` words (a sentence
longer than that is cut by words). Every chunk is encoded once (callers pass a
caching encoder, so re-grading and cross-validation never re-encode), and the
answer's vector is the re-normalised mean of its chunk vectors: the whole text
counts, not its first 512 tokens. Short answers are a single chunk equal to the
answer itself, so their vector is exactly ``encoder.encode([answer])``.

Chunk vectors are kept too (``ChunkedEmbeddings.chunks``): their spread says how
much an essay wanders, and the essay model pools them in more than one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from multimodal.text import split_sentences

__all__ = ["CHUNK_WORDS", "ChunkedEmbeddings", "chunk_text", "embed_chunked"]

CHUNK_WORDS = 100  # ~130 word pieces: the length MiniLM was trained on


def chunk_text(text: str, max_words: int = CHUNK_WORDS) -> list[str]:
    """Sentence-packed chunks of at most ``max_words`` words; ``[text]`` when it is short.

    The text itself (stripped) is returned unchanged when it fits, so a short answer's
    chunk is byte-identical to the answer and shares its cached embedding.
    """
    text = (text or "").strip()
    if len(text.split()) <= max_words:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    n = 0
    for sentence in split_sentences(text):
        words = sentence.split()
        while len(words) > max_words:  # a run-on sentence: cut it by words
            if current:
                chunks.append(" ".join(current))
                current, n = [], 0
            chunks.append(" ".join(words[:max_words]))
            words = words[max_words:]
        if not words:
            continue
        if current and n + len(words) > max_words:
            chunks.append(" ".join(current))
            current, n = [], 0
        current.append(" ".join(words))
        n += len(words)
    if current:
        chunks.append(" ".join(current))
    return chunks or [text]


@dataclass
class ChunkedEmbeddings:
    """Per-text pooled unit vectors and the chunk vectors they came from."""

    vectors: np.ndarray  # (n, d) re-normalised mean of each text's chunk vectors
    chunks: list[np.ndarray]  # n arrays of shape (n_chunks_i, d)


def embed_chunked(encoder: Any, texts: Sequence[str], max_words: int = CHUNK_WORDS) -> ChunkedEmbeddings:
    """Encode every distinct chunk of ``texts`` once; pool per text (see module doc)."""
    per_text = [chunk_text(t, max_words) for t in texts]
    unique = list(dict.fromkeys(c for cs in per_text for c in cs))
    vecs = np.asarray(encoder.encode(unique), dtype=np.float32) if unique else np.zeros((0, 384), np.float32)
    dim = vecs.shape[1] if len(unique) else 384
    index = {c: i for i, c in enumerate(unique)}
    chunks = [vecs[[index[c] for c in cs]] if cs else np.zeros((0, dim), np.float32) for cs in per_text]
    pooled = np.zeros((len(texts), dim), dtype=np.float32)
    for i, c in enumerate(chunks):
        if len(c):
            m = c.mean(axis=0)
            pooled[i] = m / max(float(np.linalg.norm(m)), 1e-9)
    return ChunkedEmbeddings(vectors=pooled, chunks=chunks)
