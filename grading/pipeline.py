"""The grading pipeline, run by workers: claimed rows in, grades written back.

One pipeline for every modality, in three phases per claimed batch:

1. **preprocess** (CPU): read every photo of the batch (OCR + page statistics) and
   every recording (speech recognition + fluency) in one call per medium, and build
   one ``GradingItem`` per submission from its typed text and what was read;
2. **forward**: one ``Grader.predict`` per assignment, which embeds every distinct
   text of the batch in one encoder call (no per-file embedding that is thrown away);
3. **postprocess** (plain Python): merge the grader's result with what the media
   readers found (flags, notes) into an ``EngineResult``; the wording students read
   comes from ``multimodal.feedback``.

Only workers, management commands and the embedded (eager) mode import this module:
it reaches torch through ``multimodal``. Writes go through ``grading.services``.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from eduplatform.core.api import Assignment, Submission, artifact_dir, settings
from eduplatform.core.workers import models_configure
from grading import services
from grading.models import AnswerGroup, Grade, GraderModel, RubricCriterion
from multimodal import feedback, registry

log = logging.getLogger(__name__)
S = Submission.Status
MEDIA_HARD_FLAGS = frozenset({"blank_page", "no_speech"})  # nothing to grade in that file
ANSWER_HARD_FLAGS = frozenset({"blank", "gibberish", "off_topic"})  # the grader's "not scored as normal"


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
    delivery: list[dict] = field(default_factory=list)  # pace / pausing / clarity of recordings
    maths: Any = None  # multimodal.maths.MathsJudgement for number / expression answers


# -- preprocess ------------------------------------------------------------------------


def _read_media(
    kind: str, files: list[tuple[int, Any]], prepared: list[_Prepared], vocabularies: list[Any] | None = None
) -> None:
    """Read all files of one medium of the whole claimed batch in one call (OCR: one recogniser pass
    over every page's lines; ASR: one warm model); a file that fails is retried alone so it fails only
    its owner. ``vocabularies`` (per submission: the assignment's words) correct OCR and bias ASR."""
    from multimodal.audio import encode_audio
    from multimodal.image import encode_images

    read = encode_images if kind == "image" else encode_audio
    paths = [Path(f.file.path) for _, f in files]
    vocabs = [vocabularies[i] if vocabularies else None for i, _ in files]
    try:
        feats = read(paths, vocabularies=vocabs)
    except (ValueError, OSError):
        feats = []
        for path, vocab, (i, _) in zip(paths, vocabs, files, strict=True):
            try:
                feats.extend(read([path], vocabularies=[vocab]))
            except (ValueError, OSError) as exc:
                prepared[i].error = f"{kind} file could not be read: {exc}"
                feats.append(None)
    for (i, f), feat in zip(files, feats, strict=True):
        if feat is not None:
            _apply_reading(kind, feat, prepared[i])
            prepared[i].features.setdefault("readings", []).append(reading_record(kind, f.pk, feat))


MAX_READING_LINES = 300  # OCR lines kept per photo for the review screen
MAX_READING_WORDS = 3000  # recognised words (with timings) kept per recording
LONG_PAUSE_S = 1.0


def reading_record(kind: str, file_id: int, feat: Any) -> dict[str, Any]:
    """What the machine read from one file, for the teacher's review screen and the student's "what we read".

    Photos: the recognised lines with their boxes (pixel corners) and confidence.
    Recordings: the transcript with word timings and the long pauses. Bounded in size.
    """
    if kind == "image":
        lines = [
            {
                "text": ln.text,
                "box": [[round(float(x), 1), round(float(y), 1)] for x, y in ln.box],
                "confidence": round(float(ln.score), 3),
            }
            for ln in feat.ocr.lines[:MAX_READING_LINES]
        ]
        return {
            "file_id": file_id,
            "kind": kind,
            "text": feat.ocr.text.strip(),
            "lines": lines,
            "model": feat.ocr.model,
            "confidence": round(float(feat.ocr.confidence), 3),
            "low_confidence": bool(feat.ocr.low_confidence),
            "corrections": [list(c) for c in feat.ocr.corrections[:MAX_READING_LINES]],
            "raw_text": feat.ocr.raw_text.strip() if feat.ocr.corrections else "",
            "deskew_deg": feat.ocr.deskew_deg,
        }
    words = [
        {"text": w.text, "start": round(w.start, 2), "end": round(w.end, 2), "confidence": round(w.prob, 3)}
        for w in feat.transcript.words[:MAX_READING_WORDS]
    ]
    pauses = [
        {"start": a["end"], "end": b["start"], "seconds": round(b["start"] - a["end"], 2)}
        for a, b in zip(words, words[1:], strict=False)
        if b["start"] - a["end"] >= LONG_PAUSE_S
    ]
    return {
        "file_id": file_id,
        "kind": kind,
        "text": feat.transcript.text.strip(),
        "words": words,
        "pauses": pauses,
        "duration_s": round(feat.transcript.duration_s, 2),
        "model": feat.transcript.model,
        "confidence": round(feat.transcript.confidence, 3),
        "no_speech_reason": feat.transcript.reason,
        "truncated": feat.transcript.truncated,
    }


def _apply_reading(kind: str, feat: Any, p: _Prepared) -> None:
    if kind == "image":
        text = feat.ocr.text.strip()
        p.features.setdefault("images", []).append(_medium_summary(feat, "ocr_model"))
        low = bool(text) and feat.ocr.low_confidence and feat.stats.readable
        if feat.stats.blank:
            p.flags.append("blank_page")
        elif not feat.stats.readable:
            p.flags.append("unreadable_image")
        elif low:
            p.flags.append("low_ocr_confidence")  # a person checks what was read before it counts
        p.notes += feedback.photo_notes(blank=feat.stats.blank, readable=feat.stats.readable, low_confidence=low)
    else:
        from multimodal.audio import delivery_criteria

        transcript = feat.transcript
        text = transcript.text.strip()
        p.features.setdefault("audio", []).append(_medium_summary(feat, "asr_model"))
        if not text:
            p.flags.append("no_speech")
        if transcript.timed_out:
            p.flags.append("asr_time_limit")
        delivery = delivery_criteria(feat.fluency, transcript)
        p.delivery += delivery
        p.notes += feedback.speech_notes(
            has_speech=bool(text),
            wpm=feat.fluency.wpm,
            long_pauses=feat.fluency.pauses_gt_1,
            truncated_minutes=round(transcript.duration_s / 60, 1) if transcript.truncated else 0.0,
            unclear=any(c["name"] == "Clarity" and c["level"] == "missing" for c in delivery),
        )
    if text:
        p.extracted = (p.extracted + "\n" + text).strip()


def assignment_vocabulary(assignment: Assignment) -> list[str]:
    """The assignment's own texts (question, references, key points, rubric): OCR corrects towards
    their words and speech recognition is biased with them."""
    return [assignment.instructions or assignment.title, *assignment.reference_answers, *criteria_texts(assignment)]


def preprocess(subs: list[Submission]) -> list[_Prepared]:
    """Turn files into text + medium features: OCR for images, ASR + fluency for audio, for the
    whole claimed batch at once; maths answers are read and compared by value."""
    from multimodal.image import vocabulary_from_texts

    prepared = [_Prepared(answer=s.text) for s in subs]
    texts: dict[int, list[str]] = {}
    for s in subs:
        if s.assignment_id not in texts:
            texts[s.assignment_id] = assignment_vocabulary(s.assignment)
    words = {pk: vocabulary_from_texts(t) for pk, t in texts.items()}
    for kind in ("image", "audio"):
        files = [(i, f) for i, s in enumerate(subs) for f in s.files.all() if f.kind == kind]
        if files:
            vocabs = [words[s.assignment_id] if kind == "image" else texts[s.assignment_id] for s in subs]
            _read_media(kind, files, prepared, vocabs)
    for p in prepared:
        p.answer = "\n".join(t for t in (p.answer.strip(), p.extracted) if t)
    _judge_maths(subs, prepared)
    return prepared


def _judge_maths(subs: list[Submission], prepared: list[_Prepared]) -> None:
    """Number / expression answers: a typed final answer is compared by value; a photographed one is
    read by the maths recogniser (all photos of the batch in one call) and compared when it is sure."""
    from multimodal import maths

    wanted = [i for i, s in enumerate(subs) if s.assignment.answer_format != "text" and not prepared[i].error]
    if not wanted:
        return
    photos = [(i, f) for i in wanted if not subs[i].text.strip() for f in subs[i].files.all() if f.kind == "image"]
    readings: dict[int, Any] = {}
    if photos:
        readings = _read_maths_photos(photos)
    for i in wanted:
        expected = subs[i].assignment.expected_answer
        if subs[i].text.strip():
            judgement = maths.judge(subs[i].text, expected, source="typed")
        elif i in readings:
            r = readings[i]
            judgement = maths.judge(r.text, expected, source="handwriting", confidence=r.confidence)
        elif prepared[i].extracted:  # a recording: the transcript, as typed text
            judgement = maths.judge(prepared[i].extracted, expected, source="typed")
        else:
            continue
        prepared[i].maths = judgement
        prepared[i].features["maths"] = {
            "status": judgement.status,
            "answer": judgement.answer,
            "shown": judgement.shown,
            "source": judgement.source,
            "confidence": judgement.confidence,
            **({"model": readings[i].model} if i in readings else {}),
        }


def _read_maths_photos(photos: list[tuple[int, Any]]) -> dict[int, Any]:
    """The last photo of each submission (the final answer), read in one batch."""
    from multimodal.image import load_image

    last: dict[int, Any] = {}
    for i, f in photos:
        last[i] = f
    reader = registry.get_maths_reader()
    images, owners = [], []
    for i, f in last.items():
        try:
            images.append(load_image(Path(f.file.path)))
            owners.append(i)
        except (ValueError, OSError):
            continue  # the OCR pass already reported an unreadable file
    return dict(zip(owners, reader.read(images), strict=True)) if images else {}


def _medium_summary(feat, model_key: str) -> dict[str, Any]:
    """Numeric features + model name only: no server path, and the text lives in extracted_text."""
    summary = feat.summary()
    return {**{k: round(float(v), 4) for k, v in summary["features"].items()}, "model": summary.get(model_key, "")}


def criteria_texts(assignment: Assignment) -> list[str]:
    """Key points plus, for a checklist rubric, its criteria ("name: what a full-credit answer shows"),
    checked with evidence. An analytic rubric's criteria are scored instead (``rubric_traits``)."""
    rubric = [
        f"{c.name}: {c.description}".strip(": ")
        for c in RubricCriterion.objects.filter(rubric__assignment=assignment, rubric__analytic=False).order_by(
            "position", "id"
        )
    ]
    return list(dict.fromkeys([*assignment.key_points, *rubric]))


def rubric_traits(assignment: Assignment) -> list:
    """An analytic rubric's criteria as traits scored on 0..points (their levels' points give the grid)."""
    from multimodal.traits import TraitSpec

    out = []
    for c in RubricCriterion.objects.filter(rubric__assignment=assignment, rubric__analytic=True).order_by(
        "position", "id"
    ):
        points = float(c.points)
        if points <= 0:
            continue
        level_points = sorted({float(lv.get("points", 0)) for lv in c.levels or []})
        gaps = [b - a for a, b in itertools.pairwise(level_points) if b > a]
        step = min(gaps) if gaps else (1.0 if points.is_integer() else 0.5)
        out.append(TraitSpec(name=c.name, min_score=0.0, max_score=points, description=c.description, step=step))
    return out


def grading_item(assignment: Assignment, answer: str, key_points: list[str] | None = None, traits=None):
    """``key_points`` / ``traits``: the assignment's ``criteria_texts`` / ``rubric_traits`` when the caller
    already has them (a batch queries them once, not once per answer)."""
    from multimodal.grader import GradingItem

    return GradingItem(
        answer=answer,
        question=assignment.instructions or assignment.title,
        reference_answers=list(assignment.reference_answers),
        key_points=criteria_texts(assignment) if key_points is None else list(key_points),
        min_score=float(assignment.min_score),
        max_score=float(assignment.max_score),
        question_id=f"assignment-{assignment.pk}",
        traits=rubric_traits(assignment) if traits is None else list(traits),
    )


def _item_maker():
    """``grading_item`` with each assignment's key points and traits read once."""
    memo: dict[int, tuple[list[str], list]] = {}

    def make(assignment: Assignment, answer: str):
        if assignment.pk not in memo:
            memo[assignment.pk] = (criteria_texts(assignment), rubric_traits(assignment))
        points, traits = memo[assignment.pk]
        return grading_item(assignment, answer, points, traits)

    return make


# -- forward -----------------------------------------------------------------------------


def grader_for(assignment: Assignment):
    """The assignment's active learned grader, else the zero-shot one (bounded per-process cache)."""
    from multimodal.grader import Grader

    models_configure()
    active = GraderModel.objects.filter(assignment=assignment, is_active=True).first()
    if active is None:
        return registry.cached("grader:zero-shot", lambda: Grader(registry.get_text_encoder()))
    try:
        return registry.cached(
            f"grader:{active.path}", lambda: Grader.load(active.path, encoder=registry.get_text_encoder())
        )
    except (FileNotFoundError, ValueError) as exc:
        log.error("grader artifact %s unusable (%s); falling back to zero-shot", active.version, exc)
        return registry.cached("grader:zero-shot", lambda: Grader(registry.get_text_encoder()))


# -- postprocess ---------------------------------------------------------------------------


def _result(sub: Submission, p: _Prepared, r, grader) -> EngineResult:
    if p.maths is not None:
        return _maths_result(sub, p, r, grader)
    flags = list(dict.fromkeys([*r.flags, *p.flags]))
    media_hard = bool(MEDIA_HARD_FLAGS & set(flags))
    # Nothing to grade (an empty page, a silent recording, a blank, gibberish or off-topic answer): no AI
    # score at all, so "accept" cannot turn the grader's placeholder minimum into a grade.
    score = None if media_hard or (ANSWER_HARD_FLAGS & set(flags)) else r.score
    # When nothing was typed and the photo was empty or nothing was heard, the grader's
    # line about an empty or unreadable answer contradicts the note that says why.
    only_media_note = media_hard and not sub.text.strip()
    student_text = feedback.combine(p.notes) if only_media_note else feedback.combine(r.feedback, p.notes)
    return EngineResult(
        sub.pk,
        r.model_version or grader.version,
        r.mode,
        score,
        0.0 if score is None else r.confidence,
        # Delivery (pace, pausing, clarity) is evidence next to the content criteria; it does not
        # change the score: no teacher-graded delivery exists to learn or check a combination on.
        criteria=[c.__dict__ for c in r.criteria]
        + [_trait_criterion(t) for t in r.traits]
        + [{**c, "kind": "delivery"} for c in p.delivery],
        flags=flags,
        feedback=student_text,
        explanation=r.explanation,
        features={
            **{k: (None if v is None else round(float(v), 4)) for k, v in r.features.items()},
            **p.features,
            **({"interval": list(r.interval)} if r.interval else {}),
            **_delivery_features(p),
        },
        extracted_text=p.extracted,
    )


def _trait_criterion(t) -> dict[str, Any]:
    """An analytic criterion's suggested points, in the criteria list the review screen and students read.
    Not scored yet (too few teacher decisions) or unsure: level "unsure", which students never see."""
    scored = t.score is not None
    return {
        "name": t.name,
        "kind": "trait",
        "level": (t.level or "unsure") if scored else "unsure",
        "points": round(float(t.score), 2) if scored else None,
        "max_points": float(t.max_score),
        "confidence": round(float(t.confidence), 3),
        "evidence": t.evidence,
        "feedback": t.feedback,
    }


def _delivery_features(p: _Prepared) -> dict[str, Any]:
    from multimodal.audio import delivery_score

    value = delivery_score(p.delivery)
    return {} if value is None else {"delivery_score": round(value, 3)}


#: Confidence of a value comparison of a typed answer (the comparison is exact; what can be
#: wrong is the teacher's expected value or an answer in an unexpected form).
MATHS_TYPED_CONFIDENCE = 0.95


def _maths_result(sub: Submission, p: _Prepared, r, grader) -> EngineResult:
    """A number / expression answer: full marks when equivalent, the minimum when a typed answer
    differs; a handwritten answer that differs or was not read goes to a person."""
    judgement = p.maths
    assignment = sub.assignment
    flags = [f for f in p.flags if f != "low_ocr_confidence"]  # the maths read has its own confidence
    score: float | None
    if judgement.status == "equivalent":
        score = float(assignment.max_score)
        confidence = MATHS_TYPED_CONFIDENCE if judgement.source == "typed" else judgement.confidence
    elif judgement.status == "different" and judgement.source == "typed":
        score, confidence = float(assignment.min_score), MATHS_TYPED_CONFIDENCE
    else:
        score, confidence = None, 0.0
        flags.append("maths_unreadable" if judgement.status == "unreadable" else "maths_check")
    if MEDIA_HARD_FLAGS & set(flags):
        score, confidence = None, 0.0
    criteria = [
        {
            "name": f"Final answer equals {assignment.expected_answer}",
            "met": judgement.status == "equivalent",
            "level": {"equivalent": "met", "different": "missing"}.get(judgement.status, "unsure"),
            "score": 1.0 if judgement.status == "equivalent" else 0.0,
            "evidence": judgement.shown,
        }
    ]
    notes = feedback.maths_notes(status=judgement.status, shown=judgement.shown, source=judgement.source)
    return EngineResult(
        sub.pk,
        f"maths-equivalence+{r.model_version or grader.version}",
        "maths",
        score,
        confidence,
        criteria=criteria,
        flags=list(dict.fromkeys(flags)),
        feedback=feedback.combine(notes, [n for n in p.notes if n != feedback.HARD_TO_READ_PHOTO]),
        explanation=(
            f"Final answer read as {judgement.shown!r} ({judgement.source}"
            + (f", recogniser confidence {judgement.confidence:.2f}" if judgement.source == "handwriting" else "")
            + f"); expected {assignment.expected_answer!r}: {judgement.status}."
        ),
        features={**p.features},
        extracted_text=p.extracted,
    )


#: Seconds this process spent in each phase (read by ``benchmark_pipeline`` from the
#: "grading phases" log line: where a worker's time goes besides the model).
PHASES: dict[str, float] = defaultdict(float)


def _phase(name: str, started: float) -> float:
    now = time.perf_counter()
    PHASES[name] += now - started
    return now


def grade_batch(assignment: Assignment, submissions: list[Submission]) -> list[EngineResult]:
    """Preprocess, forward and postprocess one assignment's claimed submissions."""
    models_configure()
    t = time.perf_counter()
    prepared = preprocess(submissions)
    t = _phase("preprocess", t)
    out: list[EngineResult | None] = [None] * len(submissions)
    to_grade = []
    for i, (s, p) in enumerate(zip(submissions, prepared, strict=True)):
        if p.error:
            out[i] = EngineResult(s.pk, "none", "failed", None, 0.0, error=p.error, extracted_text=p.extracted)
        else:
            to_grade.append(i)
    if to_grade:
        grader = grader_for(assignment)
        make = _item_maker()
        items = [make(assignment, prepared[i].answer) for i in to_grade]
        t = _phase("items", t)
        results = grader.predict(items)
        t = _phase("forward", t)
        for i, r in zip(to_grade, results, strict=True):
            out[i] = _result(submissions[i], prepared[i], r, grader)
        _phase("postprocess", t)
    return out  # type: ignore[return-value]


# -- the worker loop -------------------------------------------------------------------------


class LeaseHeartbeat:
    """Renews a claim's lease every third of ``GRADING_LEASE_SECONDS`` while its batch runs.

    A thread with its own database connection, because one model call can hold the
    main thread for minutes (a batch of photos): a lease that ran out under a live
    worker would let the sweeper hand the rows to a second worker. It stops when the
    batch ends or the claim was taken back, and dies with its process, so the leases
    of a killed worker expire and the sweeper takes its rows back. Only where workers
    run concurrently (PostgreSQL); the embedded SQLite mode grades inline in one process.
    """

    def __init__(self, token: str, interval: float | None = None) -> None:
        self.token = token
        self.interval = interval if interval is not None else max(0.5, settings.GRADING_LEASE_SECONDS / 3)
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-heartbeat-{token[:8]}", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        if connection.features.has_select_for_update_skip_locked:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    held = services.claims_extend(token=self.token)
                except DatabaseError:  # the next beat tries again; the lease has two beats of slack
                    log.warning("claim %s: lease renewal failed", self.token[:8], exc_info=True)
                    continue
                self.beats += 1
                if not held:
                    break
        finally:
            connections.close_all()  # this thread's connections only


def _grade_group(assignment: Assignment, subs: list[Submission], token: str, model_failed: list[int]) -> int:
    """Grade one assignment's claimed rows; when the model raises, find the row by halving the batch.

    The row that raises on its own is charged a model failure (``submission_model_failed``)
    and left for a later try; the others are graded. Database errors and time limits are
    not the rows' fault: they propagate (the claims are given back).
    """
    try:
        results = grade_batch(assignment, subs)
    except (DatabaseError, SoftTimeLimitExceeded):
        raise
    except Exception:
        if len(subs) == 1:
            log.exception("submission %s: the grading model raised", subs[0].pk)
            services.submission_model_failed(submission_id=subs[0].pk, token=token)
            model_failed.append(subs[0].pk)
            return 0
        log.warning("a batch of %d raised; grading it in halves to find the row", len(subs), exc_info=True)
        mid = len(subs) // 2
        return _grade_group(assignment, subs[:mid], token, model_failed) + _grade_group(
            assignment, subs[mid:], token, model_failed
        )
    t = time.perf_counter()
    for result in results:
        if result.mode == "failed":
            services.submission_fail(submission_id=result.submission_id, token=token, reason=result.error)
    written = services.grades_write(token=token, results=[r for r in results if r.mode != "failed"])
    _phase("write", t)
    PHASES["rows"] += len(subs)
    log.info("grading phases %s", json.dumps({k: round(v, 3) for k, v in PHASES.items()}))
    return written


def grade_claimed(*, token: str, ids: list[int], model_failed: list[int] | None = None) -> int:
    """Run the model once per assignment group of the claimed rows and write results.

    ``model_failed`` collects the rows the model raised on (given back for a later try).
    """
    delay = float(settings.GRADING_FAULT_DELAY_SECONDS)
    if delay:
        time.sleep(delay)  # fault-injection hook for the worker-kill tests (0 in production)
    subs = list(
        Submission.objects.filter(pk__in=ids, claim_token=token).select_related("assignment").prefetch_related("files")
    )
    by_assignment = defaultdict(list)
    for sub in subs:
        by_assignment[sub.assignment_id].append(sub)
    failed = model_failed if model_failed is not None else []
    return sum(_grade_group(group[0].assignment, group, token, failed) for group in by_assignment.values())


def grade_pending_batches(
    *, hint_ids: list[int] | None = None, max_batches: int = 1000, budget_s: float | None = None
) -> int:
    """Claim and grade batches until no pending row is left, ``max_batches`` or ``budget_s`` seconds.

    Each batch runs under a ``LeaseHeartbeat``. A run out of budget with rows still
    pending wakes a fresh task instead of claiming more, so a long backlog never runs a
    task into its hard time limit (which would kill the process mid-batch) and other
    tasks get their turn. Rows the model raised on wait for a later wake-up.
    """
    started = time.monotonic()
    total = 0
    model_failed: list[int] = []
    for _ in range(max_batches):
        if budget_s is not None and time.monotonic() - started > budget_s:
            left = list(
                Submission.objects.filter(status=S.PENDING)
                .exclude(pk__in=model_failed)
                .values_list("pk", flat=True)[: settings.GRADING_BATCH_SIZE]
            )
            services.grading_enqueue(submission_ids=left)
            break
        token, ids = services.submissions_claim(
            limit=settings.GRADING_BATCH_SIZE, hint_ids=hint_ids, exclude_ids=model_failed
        )
        if not ids:
            break
        batch_started = time.monotonic()
        try:
            with LeaseHeartbeat(token) as heartbeat:
                written = grade_claimed(token=token, ids=ids, model_failed=model_failed)
        except SoftTimeLimitExceeded:
            services.claims_release(token=token, ids=ids, lost=True)  # retried in a smaller batch
            raise
        except Exception:
            services.claims_release(token=token, ids=ids)  # the retry (or the sweeper) picks them up again
            raise
        total += written
        log.info(
            "claim %s: %d of %d rows written in %.1fs (%d lease renewals)",
            token[:8],
            written,
            len(ids),
            time.monotonic() - batch_started,
            heartbeat.beats,
        )
        hint_ids = None
    return total


# -- learned graders ---------------------------------------------------------------------------


def graded_examples(*, assignment_id: int) -> tuple[list, list[float], int, list[dict[str, float] | None]]:
    """Instructor-confirmed scores of this assignment and its course's related assignments.

    Human review decisions (accept/adjust/override, answer-group grades) and imported
    scores are training examples; unreviewed AI grades never are. The fourth list holds,
    per example, the teacher's points per analytic-rubric criterion (``Grade.final_criteria``)
    or None.
    """
    assignment = Assignment.objects.get(pk=assignment_id)
    related = Assignment.objects.filter(course_id=assignment.course_id)
    items, scores, traits, own = [], [], [], 0
    make = _item_maker()
    grades = Grade.objects.filter(
        submission__assignment__in=related, is_current=True, review_state__in=services.HUMAN_STATES
    ).select_related("submission", "submission__assignment")
    seen = set()
    for g in grades:
        sub = g.submission
        item = make(sub.assignment, services.answer_text(sub))
        items.append(item)
        scores.append(float(g.final_score))
        traits.append(_teacher_trait_points(item, g.final_criteria))
        seen.add(sub.pk)
        own += sub.assignment_id == assignment_id
    for sub in (
        Submission.objects.filter(assignment__in=related, imported_score__isnull=False)
        .exclude(pk__in=seen)
        .select_related("assignment")
    ):
        items.append(make(sub.assignment, services.answer_text(sub)))
        scores.append(float(sub.imported_score))
        traits.append(None)
        own += sub.assignment_id == assignment_id
    return items, scores, own, traits


def _teacher_trait_points(item, final_criteria: list[dict] | None) -> dict[str, float] | None:
    """{criterion name: points} of the analytic criteria the teacher scored on this answer."""
    if not item.traits or not final_criteria:
        return None
    names = {t.name for t in item.traits}
    out = {}
    for c in final_criteria:
        try:
            if c.get("name") in names and c.get("points") is not None:
                out[c["name"]] = float(c["points"])
        except (TypeError, ValueError, AttributeError):
            continue
    return out or None


def grader_train(*, assignment_id: int, regrade: bool = True) -> GraderModel | None:
    """Fit a learned grader when enough graded answers exist; activate it; regrade unreviewed rows."""
    from multimodal.grader import Grader

    models_configure()
    items, scores, own, trait_points = graded_examples(assignment_id=assignment_id)
    if own < services.MIN_EXAMPLES_TO_LEARN:
        log.info(
            "assignment %s: %d graded examples, need %d for learned mode",
            assignment_id,
            own,
            services.MIN_EXAMPLES_TO_LEARN,
        )
        return None
    has_traits = any(t is not None for t in trait_points)
    grader = Grader(registry.get_text_encoder()).fit(items, scores, trait_scores=trait_points if has_traits else None)
    path = grader.save(artifact_dir(f"grader-assignment-{assignment_id}", f"{timezone.now():%Y%m%d%H%M%S}"))
    with transaction.atomic():
        GraderModel.objects.filter(assignment_id=assignment_id, is_active=True).update(is_active=False)
        model = GraderModel.objects.create(
            assignment_id=assignment_id,
            version=grader.version,
            path=str(path),
            n_examples=len(items),
            n_examples_this_assignment=own,
            metrics=grader.metrics,
        )
    log.info("assignment %s: learned grader %s from %d examples", assignment_id, grader.version, len(items))
    if regrade:
        services.submissions_regrade_unreviewed(assignment_id=assignment_id)
    return model


# -- answer groups -------------------------------------------------------------------------------


def answer_groups_build(*, assignment_id: int) -> int:
    """Cluster an assignment's answers (typed, OCR'd or transcribed) into groups to grade once."""
    from multimodal.answer_groups import group_answers

    models_configure()
    subs = list(
        Submission.objects.filter(assignment_id=assignment_id).exclude(status__in=[S.PENDING, S.RUNNING]).order_by("id")
    )
    texts = [services.answer_text(s) for s in subs]
    groups = group_answers(texts, encoder=registry.get_text_encoder()) if subs else []
    with transaction.atomic():
        AnswerGroup.objects.filter(assignment_id=assignment_id, graded_score__isnull=True).delete()
        done = set(AnswerGroup.objects.filter(assignment_id=assignment_id).values_list("members", flat=True))
        n = 0
        for group in groups:  # representative first
            members = [subs[i] for i in group if subs[i].pk not in done]
            if not members:
                continue
            g = AnswerGroup.objects.create(assignment_id=assignment_id, representative=members[0], size=len(members))
            g.members.set(members)
            n += 1
    return n
