"""Analytic rubric traits: each criterion scored on its own range, with evidence.

An assignment may carry analytic criteria ("cohesion 1-5", "grammar 1-5", or a
teacher's own "use of evidence 0-4"). ``TraitSpec`` describes one; the grader
returns a ``TraitResult`` per trait: the predicted score on the trait's own grid,
a confidence from a conformal interval (same definition as the holistic score), an
example sentence from the answer as evidence and one line of feedback.

How the total follows the rubric: with weights ``w`` (``None`` = the trait's point
range, so "the total is the sum of the traits' points" needs no weights) and each
trait's score normalised to [0, 1] as ``n = (score - min) / (max - min)``,

    total = item.min_score + (item.max_score - item.min_score) * sum(w * n) / sum(w)

so traits 0-4, 0-4 and 0-2 under an item scored 0-10 add up their points, and six
ELLIPSE traits of 1-5 under an item scored 1-5 give their mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["TraitResult", "TraitSpec", "trait_total"]


@dataclass
class TraitSpec:
    """One analytic criterion of a rubric.

    ``step`` is the score grid (1 for whole points, 0.5 for ELLIPSE's half points);
    predictions are reported on it. ``description`` is what the rubric says a good
    answer shows (used as context for the wording of feedback, never as a score).
    """

    name: str
    min_score: float
    max_score: float
    weight: float | None = None
    description: str = ""
    step: float | None = None

    def __post_init__(self) -> None:
        self.name = (self.name or "").strip()
        if not self.name:
            raise ValueError("a trait needs a name")
        if not float(self.max_score) > float(self.min_score):
            raise ValueError(f"trait {self.name!r}: max_score must exceed min_score")
        if self.weight is not None and not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"trait {self.name!r}: weight must be a non-negative number")

    @property
    def key(self) -> str:
        """Traits with the same name (case and spacing aside) share one learned model."""
        return " ".join(self.name.lower().split())

    @property
    def points(self) -> float:
        return float(self.weight) if self.weight is not None else float(self.max_score - self.min_score)


@dataclass
class TraitResult:
    """The grader's judgement of one trait for one answer.

    ``score`` is ``None`` when no model for this trait has been trained (no teacher
    trait scores yet): then confidence is 0, and ``feedback`` only repeats facts the
    text checks found (spelling, sentence length), never a level.
    ``level`` is "strength" | "adequate" | "work_on" | "" (not scored).
    """

    name: str
    score: float | None
    confidence: float
    interval: tuple[float, float] | None
    evidence: str  # an example sentence from the answer ("" when none stands out)
    feedback: str  # plain words for the student: what to work on, with the example
    level: str = ""
    min_score: float = 0.0
    max_score: float = 1.0
    features: dict[str, float] = field(default_factory=dict)


def trait_total(
    specs: Sequence[TraitSpec], scores: Sequence[float | None], min_score: float, max_score: float
) -> float | None:
    """The item total from trait scores as the rubric says (module doc); None if any is missing."""
    if not specs or len(specs) != len(scores) or any(s is None for s in scores):
        return None
    weights = [t.points for t in specs]
    total_w = sum(weights)
    if total_w <= 0:
        return None
    acc = 0.0
    for t, s, w in zip(specs, scores, weights, strict=True):
        n = (float(s) - t.min_score) / (t.max_score - t.min_score)
        acc += w * min(1.0, max(0.0, n))
    return float(min_score + (max_score - min_score) * acc / total_w)
