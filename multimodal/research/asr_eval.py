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


def benchmark_asr(
    directory: str | Path, asr: ASRModel | None = None, beam_size: int | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Transcribe every ``<utt_id>.wav`` listed in ``transcripts.tsv`` and score it.

    Returns ``{"wer", "rtf", "n", "audio_s", "asr_s", "model", "device",
    "beam_size", "per_utt": [{utt_id, ref, hyp, wer, duration_s, seconds}]}``.
    ``rtf`` (real-time factor) is recognition time / audio duration, model loading
    and audio decoding excluded.
    """
    from multimodal import registry
    from multimodal.audio import load_audio

    asr = asr or registry.get_asr()
    rows = read_transcripts(directory)[:limit]
    if not rows:
        raise ValueError(f"{directory}: transcripts.tsv lists no utterances")
    per_utt = []
    for utt_id, ref in rows:
        y, _ = load_audio(Path(directory) / f"{utt_id}.wav")
        transcript = asr.transcribe(y, beam_size=beam_size)
        per_utt.append(
            {
                "utt_id": utt_id,
                "ref": ref,
                "hyp": transcript.text,
                "wer": round(word_error_rate(ref, transcript.text), 4),
                "duration_s": round(transcript.duration_s, 3),
                "seconds": round(transcript.seconds, 3),
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
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "per_utt": per_utt,
    }


__all__ = ["benchmark_asr", "read_transcripts"]
