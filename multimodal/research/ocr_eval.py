"""The OCR benchmark over a folder of labelled images (handwritten text or maths).

A folder holds ``labels.csv`` with at least ``image,text`` (image paths relative to
the folder), as in ``../shared/datasets/handwriting/``. Text mode reports character
and word error rates after ``multimodal.metrics.normalize_ocr_text`` (case, spacing and
punctuation do not count) and seconds per image; maths mode (LaTeX labels) reports the
expression recognition rate (exact token match after ``maths.latex_tokens``) and the
share of final answers judged equivalent (``maths.equivalent``).

Vocabulary correction needs the assignment's words. A benchmark folder has no
assignment, so ``vocabulary`` says where they come from, and the report says which:

* ``none``: no correction (pure recognition);
* ``label``: each image's own label text, i.e. the assignment's text when the task is
  to copy or to answer with known words (for CSAFE, the prompt the writer copied).
  An upper bound on what correction can buy, not a recognition result;
* ``others``: the words of all *other* labels that differ from this image's label (a
  control: an unrelated vocabulary must not make things worse).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multimodal.metrics import char_error_rate, normalize_ocr_text, word_error_rate

if TYPE_CHECKING:
    from multimodal.image import MathsReader, OCREngine

VOCABULARY_MODES = ("none", "label", "others")


def read_labels(directory: str | Path, limit: int | None = None) -> list[dict[str, str]]:
    """``labels.csv`` rows (``image`` resolved against the folder), in file order."""
    folder = Path(directory)
    path = folder / "labels.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (expected a CSV with image,text columns)")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"image", "text"} <= set(rows[0]):
        raise ValueError(f"{path}: needs image and text columns, has {sorted(rows[0])}")
    rows = rows[:limit] if limit else rows
    if not rows:
        raise ValueError(f"{path}: no rows")
    for row in rows:
        row["path"] = str(folder / row["image"])
    return rows


def _vocabularies(rows: Sequence[dict[str, str]], mode: str) -> list[frozenset[str] | None]:
    from multimodal.image import vocabulary_from_texts

    if mode not in VOCABULARY_MODES:
        raise ValueError(f"vocabulary must be one of {VOCABULARY_MODES}, not {mode!r}")
    if mode == "none":
        return [None] * len(rows)
    if mode == "label":
        return [vocabulary_from_texts([r["text"]]) for r in rows]
    texts = sorted({r["text"] for r in rows})
    return [vocabulary_from_texts([t for t in texts if t != r["text"]]) for r in rows]


def benchmark_ocr(
    directory: str | Path,
    *,
    ocr: OCREngine | None = None,
    vocabulary: str = "none",
    limit: int | None = None,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Read every image of a labelled folder and score the text.

    Images go through ``encode_images`` in batches of ``batch_size`` (as the grading
    pipeline reads a claimed batch); ``seconds_per_image`` is the wall time of that
    (decode, page statistics, deskew, OCR, correction) over the number of images.
    Returns ``{"cer", "wer", "seconds_per_image", "n", ..., "per_image": [...]}``,
    where each image also carries its page confidence (for calibrating review).
    """
    from multimodal import registry
    from multimodal.image import LOW_CONFIDENCE, encode_images

    ocr = ocr or registry.get_ocr()
    rows = read_labels(directory, limit)
    vocabs = _vocabularies(rows, vocabulary)
    encode_images([rows[0]["path"]], ocr=ocr)  # warm: ONNX sessions initialise lazily
    per_image: list[dict[str, Any]] = []
    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        feats = encode_images([r["path"] for r in chunk], ocr=ocr, vocabularies=vocabs[start : start + batch_size])
        for row, feat in zip(chunk, feats, strict=True):
            per_image.append(
                {
                    "image": row["image"],
                    "ref": row["text"],
                    "hyp": feat.ocr.text,
                    "raw": feat.ocr.raw_text,
                    "cer": round(char_error_rate(row["text"], feat.ocr.text), 4)
                    if normalize_ocr_text(row["text"])
                    else None,
                    "confidence": round(feat.ocr.confidence, 4),
                    "low_confidence": feat.ocr.low_confidence,
                    "corrections": len(feat.ocr.corrections),
                    "lines": len(feat.ocr.lines),
                    "deskew_deg": feat.ocr.deskew_deg,
                }
            )
    seconds = time.perf_counter() - started
    refs = [p["ref"] for p in per_image]
    hyps = [p["hyp"] for p in per_image]
    raws = [p["raw"] for p in per_image]
    low = [p for p in per_image if p["low_confidence"]]
    return {
        "cer": round(char_error_rate(refs, hyps), 4),
        "wer": round(word_error_rate(refs, hyps, normalize=normalize_ocr_text), 4),
        "seconds_per_image": round(seconds / len(per_image), 3),
        "n": len(per_image),
        "cer_before_correction": round(char_error_rate(refs, raws), 4),
        "vocabulary": vocabulary,
        "low_confidence_threshold": LOW_CONFIDENCE,
        "low_confidence_share": round(len(low) / len(per_image), 4),
        "cer_confident": _cer_of([p for p in per_image if not p["low_confidence"]]),
        "cer_low_confidence": _cer_of(low),
        "model": ocr.version,
        "params": {k: v for k, v in ocr.params.items() if not k.startswith("Global.log")},
        "batch_size": batch_size,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "per_image": per_image,
    }


def _share(count: int, items: Sequence[Any]) -> float | None:
    return round(count / len(items), 4) if items else None


def _cer_of(items: Sequence[dict[str, Any]]) -> float | None:
    if not items:
        return None
    return round(char_error_rate([p["ref"] for p in items], [p["hyp"] for p in items]), 4)


def benchmark_maths(
    directory: str | Path,
    *,
    reader: MathsReader | None = None,
    limit: int | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Read every image of a folder with LaTeX labels with the maths recogniser.

    ``expression_rate``: share of images whose recognised token sequence equals the
    label's (``maths.latex_tokens``, so spacing and ``\\left``/``\\right`` do not count).
    ``final_answer_equivalent``: over the images whose label's final answer (after the
    last ``=``) parses, the share whose recognised final answer is mathematically
    equivalent and read with confidence >= ``MIN_READ_CONFIDENCE`` (what the pipeline
    would accept without a person); ``final_answer_judged`` the share it would judge at
    all (the rest go to review), ``judged_precision`` how often a judged read was right.
    ``in_vocabulary`` counts labels the recogniser's alphabet can express at all; the
    ``numeric_*`` measures repeat the final-answer ones for labels whose final answer is
    a number or fraction (what an assignment with ``answer_format=number`` expects).
    """
    from multimodal import maths
    from multimodal.image import MathsReader

    reader = reader or MathsReader()
    rows = read_labels(directory, limit)
    alphabet = set("0123456789.-<=>{}") | {"\\frac"}
    reader.read([rows[0]["path"]])  # warm
    per_image: list[dict[str, Any]] = []
    started = time.perf_counter()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        readings = reader.read([r["path"] for r in chunk], batch_size=batch_size)
        for row, reading in zip(chunk, readings, strict=True):
            ref_tokens = maths.latex_tokens(row["text"])
            ref_final = maths.final_answer(row["text"])
            try:
                maths.parse_answer(ref_final)
                final_ok = True
            except maths.ParseError:
                final_ok = False
            verdict = maths.equivalent(maths.final_answer(reading.text), ref_final) if final_ok else None
            numeric = final_ok and all(t in alphabet for t in maths.latex_tokens(ref_final))
            per_image.append(
                {
                    "image": row["image"],
                    "ref": row["text"],
                    "hyp": reading.text,
                    "confidence": round(reading.confidence, 4),
                    "exact": maths.latex_tokens(reading.text) == ref_tokens,
                    "in_vocabulary": all(t in alphabet for t in ref_tokens),
                    "final_parses": final_ok,
                    "final_numeric": numeric,
                    "final_equivalent": verdict,
                    "judged": final_ok and verdict is not None and reading.confidence >= maths.MIN_READ_CONFIDENCE,
                }
            )
    seconds = time.perf_counter() - started
    n = len(per_image)
    with_final = [p for p in per_image if p["final_parses"]]
    judged = [p for p in with_final if p["judged"]]
    in_vocab = [p for p in per_image if p["in_vocabulary"]]
    numeric = [p for p in with_final if p["final_numeric"]]
    numeric_judged = [p for p in numeric if p["judged"]]
    return {
        "expression_rate": round(sum(p["exact"] for p in per_image) / n, 4),
        "final_answer_equivalent": round(
            sum(bool(p["final_equivalent"]) and p["judged"] for p in with_final) / len(with_final), 4
        )
        if with_final
        else None,
        "final_answer_judged": round(len(judged) / len(with_final), 4) if with_final else None,
        "judged_precision": round(sum(bool(p["final_equivalent"]) for p in judged) / len(judged), 4)
        if judged
        else None,
        "n": n,
        "n_final_answers": len(with_final),
        "n_numeric_final_answers": len(numeric),
        "numeric_final_equivalent": _share(sum(bool(p["final_equivalent"]) and p["judged"] for p in numeric), numeric),
        "numeric_judged_precision": _share(sum(bool(p["final_equivalent"]) for p in numeric_judged), numeric_judged),
        "in_vocabulary": len(in_vocab),
        "expression_rate_in_vocabulary": round(sum(p["exact"] for p in in_vocab) / len(in_vocab), 4)
        if in_vocab
        else None,
        "seconds_per_image": round(seconds / n, 4),
        "model": reader.name,
        "min_read_confidence": maths.MIN_READ_CONFIDENCE,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "per_image": per_image,
    }


__all__ = ["VOCABULARY_MODES", "benchmark_maths", "benchmark_ocr", "read_labels"]
