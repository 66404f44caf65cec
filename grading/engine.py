"""Bridge from database rows to the model package: rows in, plain results out.

Runs only in workers and management commands (it imports torch through
``multimodal``). One model forward per batch: all texts of a batch are encoded
together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eduplatform.models import Assignment, Submission


@dataclass
class EngineResult:
    submission_id: int
    model_version: str
    mode: str
    score: float | None
    confidence: float
    criteria: list[dict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    feedback: str = ""
    explanation: str = ""
    features: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _answer_text(sub: Submission) -> str:
    return sub.text


def grade_batch(assignment: Assignment, submissions: list[Submission]) -> list[EngineResult]:
    """Zero-shot similarity grading of a batch of one assignment's submissions."""
    from multimodal.text import TextEncoder

    encoder = _encoder()
    refs = [r for r in assignment.reference_answers if r.strip()]
    texts = [_answer_text(s) for s in submissions]
    lo, hi = float(assignment.min_score), float(assignment.max_score)
    if not refs:
        return [EngineResult(s.pk, "none", "unavailable", None, 0.0,
                             error="No reference answer and no trained model for this assignment.")
                for s in submissions]
    vecs = encoder.encode(texts + refs)
    answers, ref_vecs = vecs[: len(texts)], vecs[len(texts):]
    sims = (answers @ ref_vecs.T).max(axis=1)
    out = []
    for s, text, sim in zip(submissions, texts, sims, strict=True):
        frac = min(1.0, max(0.0, (float(sim) - 0.3) / 0.6))
        out.append(EngineResult(
            s.pk, f"zero-shot-{encoder.info.name}", "zero-shot", round(lo + frac * (hi - lo), 2), 0.5,
            features={"similarity": round(float(sim), 4)},
            explanation=f"Cosine similarity {sim:.2f} to the closest reference answer.",
            feedback="Compared with the reference answer."))
    del TextEncoder
    return out


_ENCODER = None


def _encoder():
    global _ENCODER
    if _ENCODER is None:
        from multimodal.text import TextEncoder

        _ENCODER = TextEncoder()
    return _ENCODER
