"""Knowledge-tracing data: response sequences, the DKVMN file format, splits by student.

numpy only, so the web process can use it (through ``multimodal.knowledge_tracing``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Sequence", "data_summary", "load_dkvmn", "parse_dkvmn", "train_val_split"]


@dataclass
class Sequence:
    """One student's responses in time order: 1-based skill/question ids, 0/1 correctness."""

    skills: np.ndarray  # int64, shape (T,), ids >= 1
    correct: np.ndarray  # int8, shape (T,), 0/1

    def __post_init__(self) -> None:
        self.skills = np.asarray(self.skills, dtype=np.int64)
        self.correct = np.asarray(self.correct, dtype=np.int8)
        if self.skills.shape != self.correct.shape or self.skills.ndim != 1:
            raise ValueError("skills and correct must be 1-D arrays of equal length")

    def __len__(self) -> int:
        return int(self.skills.shape[0])


def _int_fields(line: str) -> list[int]:
    # Tolerate trailing commas, blank fields, spaces and "1.0"-style numbers.
    return [int(float(tok)) for tok in line.replace(";", ",").split(",") if tok.strip()]


def parse_dkvmn(text: str) -> list[Sequence]:
    """Parse DKVMN-format text (count line, id line, correctness line per student).

    Blank lines between records are skipped; inside a record a blank line is an empty
    field list (a student with 0 responses, who is dropped).  When the declared count
    disagrees with the fields, the id and correctness lines win (truncated to the
    shorter of the two).  Ids must be >= 1 and correctness 0/1; anything else raises
    ``ValueError`` naming the line.
    """
    raw = text.splitlines()
    seqs: list[Sequence] = []
    i = 0
    while i < len(raw):
        if not raw[i].strip():
            i += 1
            continue
        if i + 2 >= len(raw):
            raise ValueError(f"line {i + 1}: incomplete record (need 3 lines per student)")
        n_ids, n_cor = i + 2, i + 3
        try:
            ids = _int_fields(raw[i + 1])
            cor = _int_fields(raw[i + 2])
        except ValueError as exc:
            raise ValueError(f"line {n_ids}-{n_cor}: non-numeric field ({exc})") from None
        i += 3
        t = min(len(ids), len(cor))
        if t == 0:
            continue
        ids_a = np.asarray(ids[:t], dtype=np.int64)
        cor_a = np.asarray(cor[:t], dtype=np.int64)
        if ids_a.min() < 1:
            raise ValueError(f"line {n_ids}: ids must be 1-based (>= 1)")
        if not np.isin(cor_a, (0, 1)).all():
            raise ValueError(f"line {n_cor}: correctness must be 0 or 1")
        seqs.append(Sequence(ids_a, cor_a))
    return seqs


def load_dkvmn(path: str | os.PathLike) -> list[Sequence]:
    """Read a DKVMN-format file (see ``parse_dkvmn``)."""
    return parse_dkvmn(Path(path).read_text())


def train_val_split(
    seqs: Seq[Sequence], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Sequence], list[Sequence]]:
    """Split by student (never within a student's sequence)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(seqs))
    n_val = max(1, round(len(seqs) * val_fraction)) if len(seqs) > 1 else 0
    val = set(idx[:n_val].tolist())
    return [s for i, s in enumerate(seqs) if i not in val], [s for i, s in enumerate(seqs) if i in val]


def data_summary(seqs: Seq[Sequence]) -> dict:
    lens = [len(s) for s in seqs]
    return {
        "students": len(seqs),
        "responses": int(sum(lens)),
        "max_id": int(max((s.skills.max() for s in seqs if len(s)), default=0)),
        "mean_correct": float(np.mean(np.concatenate([s.correct for s in seqs]))) if lens else 0.0,
    }
