"""Answer groups: cluster similar short answers so an instructor grades each group once.

Gradescope-style: identical answers (after lower-casing and removing punctuation and
extra spaces) are always one group; distinct texts are then merged by
average-linkage agglomerative clustering on embedding cosine distance, stopping at
``threshold``. Average linkage (not single) keeps chains of slightly-different
answers from swallowing a wrong answer that happens to share words with a right one.
Blank answers form their own group.

The default threshold (cosine distance 0.25, i.e. similarity 0.75) sits where
MiniLM paraphrases of one short answer usually fall inside and answers that say
something different usually fall outside. It is a setting, not a learned value:
instructors can split or merge groups, so erring towards smaller groups is safer.

Each group lists the representative (medoid: highest mean similarity to the other
members) first, then the other members in input order; groups are sorted by size,
largest first, so the instructor's first click covers the most answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DEFAULT_THRESHOLD", "AnswerGroup", "answer_groups", "group_answers", "normalise_answer"]

DEFAULT_THRESHOLD = 0.25  # cosine distance (1 - cosine similarity)
_NON_WORD = re.compile(r"[^\w]+")


def normalise_answer(text: str) -> str:
    """Lower-case, punctuation-free, single-spaced: the key for exact duplicates."""
    return _NON_WORD.sub(" ", (text or "").lower()).strip()


@dataclass
class AnswerGroup:
    members: list[int]  # input indices, representative first
    representative: int
    cohesion: float  # mean cosine similarity of members to the representative (1.0 if alone)
    blank: bool = False


def _encode(texts: Sequence[str], encoder: Any) -> np.ndarray:
    if encoder is None:
        try:
            from multimodal.registry import get_text_encoder
        except ImportError:
            from multimodal.text import TextEncoder

            encoder = TextEncoder()
        else:
            encoder = get_text_encoder()
    return np.asarray(encoder.encode(list(texts)), dtype=np.float64)


def answer_groups(
    texts: Sequence[str],
    embeddings: np.ndarray | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    encoder: Any = None,
) -> list[AnswerGroup]:
    """Group answers; see the module docstring. ``embeddings`` rows must be unit vectors
    aligned with ``texts`` (they are computed with ``encoder`` when omitted)."""
    if not 0.0 <= threshold <= 2.0:
        raise ValueError("threshold is a cosine distance in [0, 2]")
    n = len(texts)
    if n == 0:
        return []
    keys = [normalise_answer(t) for t in texts]
    blank_idx = [i for i, k in enumerate(keys) if not k]
    uniq: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k:
            uniq.setdefault(k, []).append(i)
    reps = [idx[0] for idx in uniq.values()]  # one row per distinct normalised text
    groups: list[list[int]] = []
    emb = None
    if reps:
        if embeddings is None:
            emb_reps = _encode([texts[i] for i in reps], encoder)
            emb = np.zeros((n, emb_reps.shape[1]))
            emb[reps] = emb_reps
            for idx in uniq.values():
                emb[idx] = emb[idx[0]]
        else:
            emb = np.asarray(embeddings, dtype=np.float64)
            if emb.shape[0] != n:
                raise ValueError(f"{n} texts but {emb.shape[0]} embeddings")
            norms = np.linalg.norm(emb, axis=1, keepdims=True)
            emb = emb / np.clip(norms, 1e-12, None)
        if len(reps) == 1:
            labels = np.zeros(1, dtype=int)
        else:
            from sklearn.cluster import AgglomerativeClustering

            dist = np.clip(1.0 - emb[reps] @ emb[reps].T, 0.0, 2.0)
            np.fill_diagonal(dist, 0.0)
            labels = AgglomerativeClustering(
                n_clusters=None, metric="precomputed", linkage="average", distance_threshold=threshold
            ).fit_predict(dist)
        by_label: dict[int, list[int]] = {}
        for rep_pos, label in enumerate(labels):
            by_label.setdefault(int(label), []).extend(uniq[keys[reps[rep_pos]]])
        groups = [sorted(m) for m in by_label.values()]

    out: list[AnswerGroup] = []
    for members in groups:
        sims = emb[members] @ emb[members].T
        medoid_pos = int(np.argmax(sims.mean(axis=1)))
        rep = members[medoid_pos]
        cohesion = float(sims[medoid_pos].mean()) if len(members) > 1 else 1.0
        ordered = [rep] + [m for m in members if m != rep]
        out.append(AnswerGroup(members=ordered, representative=rep, cohesion=round(cohesion, 4)))
    if blank_idx:
        out.append(AnswerGroup(members=blank_idx, representative=blank_idx[0], cohesion=1.0, blank=True))
    out.sort(key=lambda g: (-len(g.members), g.representative))
    return out


def group_answers(
    texts: Sequence[str],
    embeddings: np.ndarray | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    encoder: Any = None,
) -> list[list[int]]:
    """Indices of ``texts`` per group, representative first, largest group first."""
    return [g.members for g in answer_groups(texts, embeddings, threshold=threshold, encoder=encoder)]
