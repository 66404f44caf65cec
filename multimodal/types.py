"""Plain result dataclasses returned by the encoders (no torch, no Django).

Why plain dataclasses: workers turn them into database rows and JSON, the fusion
model turns them into tensors; neither should need to know how they were made.
Every numeric group has ``FEATURE_NAMES`` (a fixed, documented order) and
``as_vector()`` returning a float32 array in that order, so the fusion model and
stored artifacts can check that they agree on the layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


def _vector(obj: Any, names: tuple[str, ...]) -> np.ndarray:
    return np.asarray([float(getattr(obj, name)) for name in names], dtype=np.float32)


# -- image -------------------------------------------------------------------


@dataclass
class OCRLine:
    """One detected text line: its text, its quadrilateral box (4 x [x, y] pixels
    in the loaded, EXIF-transposed image) and the recogniser's confidence (0-1)."""

    text: str
    box: list[list[float]]
    score: float


@dataclass
class OCRResult:
    """All lines of one image in reading order (rows top to bottom, left to right in a row).

    ``text`` is what the grader reads: rows joined with "\n", fragments of one row with
    a space, after correction against the assignment's vocabulary when one was given
    (``corrections`` lists each ``(read, corrected)`` word pair, ``raw_text`` the text
    before correction). ``lines`` keep the recogniser's own text, box and score for the
    review screen. ``confidence`` is the character-weighted mean line score;
    ``low_confidence`` says the read should go to a person.
    """

    text: str  # "" when nothing was read
    lines: list[OCRLine]
    seconds: float  # wall time of the OCR call
    model: str = ""  # e.g. "rapidocr-3.10.0"
    raw_text: str = ""
    corrections: list[tuple[str, str]] = field(default_factory=list)
    confidence: float = 0.0
    low_confidence: bool = False
    deskew_deg: float = 0.0  # rotation applied before reading (0 = none)

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = ("ocr_lines", "ocr_chars", "ocr_mean_score", "ocr_confidence")

    @property
    def mean_score(self) -> float:
        return float(np.mean([line.score for line in self.lines])) if self.lines else 0.0

    def as_vector(self) -> np.ndarray:
        return np.asarray(
            [len(self.lines), len(self.text.replace("\n", "")), self.mean_score, self.confidence], dtype=np.float32
        )


@dataclass
class ImageStats:
    """Cheap page statistics that say whether an image is worth grading.

    ``ink_coverage`` is the fraction of pixels darker (or, on dark boards, lighter)
    than the page background; ``blur_var`` the variance of the Laplacian around the
    ink (low = blurred); ``skew_deg`` the text-line angle in degrees, positive when
    the text is rotated counter-clockwise (rotate by ``-skew_deg`` to straighten).
    """

    width: int
    height: int
    blank: bool
    ink_coverage: float
    blur_var: float
    readable: bool
    skew_deg: float

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = (
        "width",
        "height",
        "blank",
        "ink_coverage",
        "blur_var",
        "readable",
        "skew_deg",
    )

    def as_vector(self) -> np.ndarray:
        return _vector(self, self.FEATURE_NAMES)


@dataclass
class ImageFeatures:
    """Everything the image encoder knows about one file.

    ``text_embedding`` is the MiniLM embedding of the OCR text, ``None`` when no
    text was read. ``backbone`` is ``"absent"`` (and ``backbone_embedding`` is
    ``None``) unless local backbone weights are configured: we never embed with
    random weights.
    """

    path: str
    ocr: OCRResult
    stats: ImageStats
    text_embedding: np.ndarray | None
    backbone_embedding: np.ndarray | None = None
    backbone: str = "absent"

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = ImageStats.FEATURE_NAMES + OCRResult.FEATURE_NAMES

    def as_vector(self) -> np.ndarray:
        return np.concatenate([self.stats.as_vector(), self.ocr.as_vector()])

    def summary(self) -> dict[str, Any]:
        """JSON-safe description (no embeddings) for storing next to a result."""
        return {
            "path": self.path,
            "ocr_text": self.ocr.text,
            "ocr_model": self.ocr.model,
            "backbone": self.backbone,
            "features": dict(zip(self.FEATURE_NAMES, self.as_vector().tolist(), strict=False)),
        }


# -- audio -------------------------------------------------------------------


@dataclass
class Word:
    """One recognised word with its start/end time (seconds) and probability."""

    text: str
    start: float
    end: float
    prob: float


@dataclass
class Transcript:
    """What the recogniser heard. ``no_speech`` is True when nothing was recognised, with
    ``reason``: "silence" (no signal), "no_voice" (voice-activity detection found none),
    "no_speech" (Whisper's own no-speech / repetition guards dropped every segment);
    "time_limit" when decoding stopped at the per-file limit (text so far kept)."""

    text: str
    words: list[Word]
    language: str
    duration_s: float  # length of the audio
    seconds: float  # wall time of recognition (so RTF = seconds / duration_s)
    model: str = ""  # e.g. "whisper-tiny.en"
    no_speech: bool = False
    reason: str = ""
    truncated: bool = False  # longer than the maximum duration: only its start was heard
    timed_out: bool = False

    @property
    def confidence(self) -> float:
        """Mean word probability (0 with no words): how sure the recogniser was."""
        return float(np.mean([w.prob for w in self.words])) if self.words else 0.0


@dataclass
class FluencyFeatures:
    """Temporal and prosodic fluency measures of one recording.

    Word timings come from the recogniser; pauses are silences inside the speaking
    span (first word start to last word end) found from word gaps and RMS energy.

    - ``speech_s``: speaking span minus pauses >= 0.25 s (de Jong & Wempe's cut-off)
    - ``wpm``: words per minute over the speaking span (leading/trailing silence excluded)
    - ``articulation_rate``: words per second of ``speech_s``
    - ``pauses_ge_0_5`` / ``pauses_gt_1``: silent pauses of >= 0.5 s / > 1 s
    - ``mean_length_of_run``: mean number of words between pauses >= 0.5 s
    - pitch (pyin, voiced frames only): mean in Hz, 5-95 % range and standard deviation
      in semitones; ``voiced_fraction`` of the analysed frames; 0 when nothing is voiced
    - energy: mean and standard deviation of frame RMS in dBFS over non-silent frames
    """

    duration_s: float
    speech_s: float
    words: int
    wpm: float
    articulation_rate: float
    pauses_ge_0_5: int
    pauses_gt_1: int
    mean_length_of_run: float
    pitch_mean_hz: float
    pitch_range_semitones: float
    pitch_std_semitones: float
    energy_mean_db: float
    energy_std_db: float
    voiced_fraction: float

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = (
        "duration_s",
        "speech_s",
        "words",
        "wpm",
        "articulation_rate",
        "pauses_ge_0_5",
        "pauses_gt_1",
        "mean_length_of_run",
        "pitch_mean_hz",
        "pitch_range_semitones",
        "pitch_std_semitones",
        "energy_mean_db",
        "energy_std_db",
        "voiced_fraction",
    )

    def as_vector(self) -> np.ndarray:
        return _vector(self, self.FEATURE_NAMES)


@dataclass
class AudioFeatures:
    """Transcript, fluency and the MiniLM embedding of the transcript (``None``
    when nothing was recognised)."""

    path: str
    transcript: Transcript
    fluency: FluencyFeatures
    text_embedding: np.ndarray | None

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = FluencyFeatures.FEATURE_NAMES

    def as_vector(self) -> np.ndarray:
        return self.fluency.as_vector()

    def summary(self) -> dict[str, Any]:
        """JSON-safe description (no embeddings) for storing next to a result."""
        return {
            "path": self.path,
            "transcript": self.transcript.text,
            "asr_model": self.transcript.model,
            "features": dict(zip(self.FEATURE_NAMES, self.as_vector().tolist(), strict=False)),
        }


__all__ = [
    "AudioFeatures",
    "FluencyFeatures",
    "ImageFeatures",
    "ImageStats",
    "OCRLine",
    "OCRResult",
    "Transcript",
    "Word",
]
