"""Bridge from database rows to the model package: rows in, plain results out.

Runs only in workers and management commands (it imports torch through
``multimodal``). Per batch: OCR every image, transcribe every recording, then one
``Grader.predict`` call, so all texts of the batch are encoded together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eduplatform.models import Assignment, Submission

log = logging.getLogger(__name__)

# Speaking pace bands (words per minute) used in student feedback on spoken answers.
SLOW_WPM, FAST_WPM = 90, 180


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
    extracted_text: str = ""


@dataclass
class _Prepared:
    answer: str
    extracted: str = ""
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # feedback about the medium (pace, legibility)
    features: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def _prepare(subs: list[Submission]) -> list[_Prepared]:
    """Turn files into text + medium features: OCR for images, ASR + fluency for audio."""
    from multimodal.audio import encode_audio
    from multimodal.image import encode_images

    prepared = [_Prepared(answer=s.text) for s in subs]
    images = [(i, f) for i, s in enumerate(subs) for f in s.files.all() if f.kind == "image"]
    audios = [(i, f) for i, s in enumerate(subs) for f in s.files.all() if f.kind == "audio"]
    for kind, pairs, encode in (("image", images, encode_images), ("audio", audios, encode_audio)):
        for i, f in pairs:
            try:
                (feat,) = encode([Path(f.file.path)])
            except (ValueError, OSError) as exc:
                prepared[i].error = f"{kind} file could not be read: {exc}"
                continue
            p = prepared[i]
            if kind == "image":
                text = feat.ocr.text.strip()
                p.features.setdefault("images", []).append(_medium_summary(feat, "ocr_model"))
                if feat.stats.blank:
                    p.flags.append("blank_page")
                elif not feat.stats.readable:
                    p.flags.append("unreadable_image")
                    p.notes.append("Your photo is hard to read (blurred or faint); retake it in good light.")
            else:
                text = feat.transcript.text.strip()
                fl = feat.fluency
                p.features.setdefault("audio", []).append(_medium_summary(feat, "asr_model"))
                if not text:
                    p.flags.append("no_speech")
                elif fl.wpm < SLOW_WPM:
                    p.notes.append(f"You spoke at about {fl.wpm:.0f} words per minute with {fl.pauses_gt_1} long "
                                   "pauses; practise saying it more fluently.")
                elif fl.wpm > FAST_WPM:
                    p.notes.append(f"You spoke quickly (about {fl.wpm:.0f} words per minute); slow down a little.")
                else:
                    p.notes.append(f"Good pace (about {fl.wpm:.0f} words per minute).")
            if text:
                p.extracted = (p.extracted + "\n" + text).strip()
    for p in prepared:
        p.answer = "\n".join(t for t in (p.answer.strip(), p.extracted) if t)
    return prepared


def _medium_summary(feat, model_key: str) -> dict[str, Any]:
    """Numeric features + model name only: no server path, and the text lives in extracted_text."""
    summary = feat.summary()
    return {**{k: round(float(v), 4) for k, v in summary["features"].items()}, "model": summary.get(model_key, "")}


def criteria_texts(assignment: Assignment) -> list[str]:
    """Key points plus rubric criteria ("name: what a full-credit answer shows"), checked with evidence."""
    from grading.models import RubricCriterion

    rubric = [f"{c.name}: {c.description}".strip(": ") for c in
              RubricCriterion.objects.filter(rubric__assignment=assignment).order_by("position", "id")]
    return list(dict.fromkeys([*assignment.key_points, *rubric]))


def grading_item(assignment: Assignment, answer: str):
    from multimodal.grader import GradingItem

    return GradingItem(answer=answer, question=assignment.instructions or assignment.title,
                       reference_answers=list(assignment.reference_answers), key_points=criteria_texts(assignment),
                       min_score=float(assignment.min_score), max_score=float(assignment.max_score),
                       question_id=f"assignment-{assignment.pk}")


_GRADERS: dict[str, Any] = {}


def grader_for(assignment: Assignment):
    """The assignment's active learned grader, else the zero-shot one (cached per process)."""
    from grading.models import GraderModel
    from multimodal.grader import Grader
    from multimodal.registry import get_text_encoder

    active = GraderModel.objects.filter(assignment=assignment, is_active=True).first()
    key = active.path if active else "zero-shot"
    if key not in _GRADERS:
        if active is None:
            _GRADERS[key] = Grader(get_text_encoder())
        else:
            try:
                _GRADERS[key] = Grader.load(active.path, encoder=get_text_encoder())
            except (FileNotFoundError, ValueError) as exc:
                log.error("grader artifact %s unusable (%s); falling back to zero-shot", active.version, exc)
                return grader_for_zero_shot()
    return _GRADERS[key]


def grader_for_zero_shot():
    from multimodal.grader import Grader
    from multimodal.registry import get_text_encoder

    return _GRADERS.setdefault("zero-shot", Grader(get_text_encoder()))


def grade_batch(assignment: Assignment, submissions: list[Submission]) -> list[EngineResult]:
    prepared = _prepare(submissions)
    out: list[EngineResult | None] = [None] * len(submissions)
    to_grade = []
    for i, (s, p) in enumerate(zip(submissions, prepared, strict=True)):
        if p.error:
            out[i] = EngineResult(s.pk, "none", "failed", None, 0.0, error=p.error, extracted_text=p.extracted)
        else:
            to_grade.append(i)
    if to_grade:
        grader = grader_for(assignment)
        results = grader.predict([grading_item(assignment, prepared[i].answer) for i in to_grade])
        for i, r in zip(to_grade, results, strict=True):
            s, p = submissions[i], prepared[i]
            flags = list(dict.fromkeys([*r.flags, *p.flags]))
            score = None if {"blank_page", "no_speech"} & set(flags) else r.score
            out[i] = EngineResult(
                s.pk, r.model_version or grader.version, r.mode, score, 0.0 if score is None else r.confidence,
                criteria=[c.__dict__ for c in r.criteria], flags=flags,
                feedback="\n".join(t for t in (r.feedback, *p.notes) if t), explanation=r.explanation,
                features={**{k: round(float(v), 4) for k, v in r.features.items()}, **p.features,
                          **({"interval": list(r.interval)} if r.interval else {})},
                extracted_text=p.extracted)
    return out  # type: ignore[return-value]
