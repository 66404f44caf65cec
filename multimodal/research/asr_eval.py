"""The ASR benchmark over a folder of utterances (WER and real-time factor).

The error rates and the transcript normaliser live in ``multimodal.metrics``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multimodal.metrics import word_error_rate

if TYPE_CHECKING:
    from multimodal.audio import ASRModel


def read_transcripts(directory: str | Path) -> list[tuple[str, str]]:
    """``transcripts.tsv`` lines ``utt_id<TAB>TEXT`` -> [(utt_id, text)], in file order."""
    path = Path(directory) / "transcripts.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (expected utt_id<TAB>TEXT lines)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        utt_id, sep, text = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{number}: expected utt_id<TAB>TEXT")
        rows.append((utt_id.strip(), text.strip()))
    return rows


#: A control vocabulary for biasing: classroom words unrelated to the read-aloud clips
#: (what biasing with the *wrong* assignment's words does).
GENERIC_VOCABULARY = (
    "Photosynthesis turns light energy into chemical energy stored in glucose; plants release oxygen. "
    "A stack is a last-in first-out structure with push and pop. The water cycle: evaporation, "
    "condensation, precipitation. Fractions, denominators, equations and the Pythagorean theorem."
)
BIAS_VOCABULARIES = ("none", "own", "generic")


def benchmark_asr(
    directory: str | Path,
    asr: ASRModel | None = None,
    beam_size: int | None = None,
    limit: int | None = None,
    *,
    vocabulary: str = "none",
    bias: str = "hotwords",
) -> dict[str, Any]:
    """Transcribe every ``<utt_id>.wav`` listed in ``transcripts.tsv`` and score it.

    ``vocabulary`` says which words bias the decoder (through ``bias``: "hotwords" or
    "prompt"): "none"; "own" (each clip's own reference transcript: an *upper bound*,
    the decoder is told the answer's words); "generic" (``GENERIC_VOCABULARY``, words of
    unrelated assignments: a control that biasing with the wrong words does no harm).

    Returns ``{"wer", "rtf", "n", "audio_s", "asr_s", "model", "device",
    "beam_size", "per_utt": [{utt_id, ref, hyp, wer, duration_s, seconds}]}``.
    ``rtf`` (real-time factor) is recognition time / audio duration, model loading
    and audio decoding excluded.
    """
    from multimodal import registry
    from multimodal.audio import load_audio

    if vocabulary not in BIAS_VOCABULARIES:
        raise ValueError(f"vocabulary must be one of {BIAS_VOCABULARIES}, not {vocabulary!r}")
    asr = asr or registry.get_asr()
    rows = read_transcripts(directory)[:limit]
    if not rows:
        raise ValueError(f"{directory}: transcripts.tsv lists no utterances")
    per_utt = []
    for utt_id, ref in rows:
        y, _ = load_audio(Path(directory) / f"{utt_id}.wav")
        words = {"none": None, "own": [ref], "generic": [GENERIC_VOCABULARY]}[vocabulary]
        transcript = asr.transcribe(y, beam_size=beam_size, vocabulary=words, bias=bias)
        per_utt.append(
            {
                "utt_id": utt_id,
                "ref": ref,
                "hyp": transcript.text,
                "wer": round(word_error_rate(ref, transcript.text), 4),
                "duration_s": round(transcript.duration_s, 3),
                "seconds": round(transcript.seconds, 3),
                "no_speech": transcript.no_speech,
                "confidence": round(transcript.confidence, 4),
            }
        )
    audio_s = sum(u["duration_s"] for u in per_utt)
    asr_s = sum(u["seconds"] for u in per_utt)
    return {
        "wer": word_error_rate([u["ref"] for u in per_utt], [u["hyp"] for u in per_utt]),
        "rtf": asr_s / audio_s if audio_s else 0.0,
        "n": len(per_utt),
        "audio_s": round(audio_s, 3),
        "asr_s": round(asr_s, 3),
        "model": asr.name,
        "device": asr.device,
        "beam_size": beam_size or asr.beam_size,
        "vocabulary": vocabulary,
        "bias": bias if vocabulary != "none" else "none",
        "vad": asr.vad,
        "no_speech": sum(u["no_speech"] for u in per_utt),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "per_utt": per_utt,
    }


__all__ = ["BIAS_VOCABULARIES", "GENERIC_VOCABULARY", "benchmark_asr", "read_transcripts"]
