"""Encoder throughput on the current device (numbers for the README's benchmark table).

Why a function rather than timed tests: speed depends on the machine and on what
else runs on it, so it is measured on demand (``manage.py benchmark_encoders``)
and reported with the device and date, never asserted.
"""

from __future__ import annotations

import csv
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_BATCH_SIZES = (1, 8, 32, 64)


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _timed_chunks(fn: Callable[[list], Any], items: Sequence, size: int) -> float:
    """Seconds to run ``fn`` over ``items`` in consecutive chunks of ``size``."""
    start = time.perf_counter()
    for i in range(0, len(items), size):
        fn(list(items[i : i + size]))
    return time.perf_counter() - start


def _row(
    encoder: str, batch_size: int, items: int, seconds: float, device: str, model: str, **extra: Any
) -> dict[str, Any]:
    return {
        "encoder": encoder,
        "batch_size": batch_size,
        "items": items,
        "seconds": round(seconds, 3),
        "items_per_s": round(items / seconds, 2) if seconds > 0 else None,
        "device": device,
        "model": model,
        **extra,
    }


def encoder_throughput(
    texts: Sequence[str] = (),
    images: Sequence[str | Path] = (),
    audios: Sequence[str | Path] = (),
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
) -> list[dict[str, Any]]:
    """Items per second for each encoder and batch size, models from the registry.

    Each encoder runs once untimed first (lazy initialisation, JIT), then once per
    batch size over all its inputs. Text batch size is the MiniLM forward batch. For
    images it is the number of pages read together (one recogniser pass over all their
    lines); speech recognition decodes one recording at a time (faster-whisper's
    batched pipeline batches 30-s windows *within* a recording, which short answers do
    not have), so for audio it only groups the calls. Media rows are measured for batch
    sizes up to the number of inputs. Audio rows also give ``realtime_x`` (seconds of
    audio per second of compute).
    """
    from multimodal import registry

    rows: list[dict[str, Any]] = []
    encoder = registry.get_text_encoder()
    if texts:
        encoder.encode(list(texts[:8]))
        saved = encoder.batch_size
        try:
            for bs in batch_sizes:
                encoder.batch_size = bs
                seconds = _timed(lambda: encoder.encode(list(texts)))
                rows.append(
                    _row("text", bs, len(texts), seconds, encoder.info.device, registry.model_versions()["text"])
                )
        finally:
            encoder.batch_size = saved

    if images:
        from multimodal.image import encode_images

        encode_images(list(images[:1]))
        media_sizes = sorted({min(bs, len(images)) for bs in batch_sizes})
        for bs in media_sizes:
            seconds = _timed_chunks(encode_images, images, bs)
            rows.append(
                _row("image", bs, len(images), seconds, "cpu (onnxruntime OCR)", registry.model_versions()["ocr"])
            )

    if audios:
        from multimodal.audio import encode_audio, load_audio, warm_librosa

        warm_librosa()
        encode_audio(list(audios[:1]))
        audio_s = sum(len(load_audio(p)[0]) / 16_000 for p in audios)
        asr = registry.get_asr()
        media_sizes = sorted({min(bs, len(audios)) for bs in batch_sizes})
        for bs in media_sizes:
            seconds = _timed_chunks(encode_audio, audios, bs)
            rows.append(
                _row(
                    "audio",
                    bs,
                    len(audios),
                    seconds,
                    asr.device,
                    asr.name,
                    audio_s=round(audio_s, 2),
                    beam_size=asr.beam_size,
                    realtime_x=round(audio_s / seconds, 2) if seconds else None,
                )
            )
    return rows


# -- inputs -------------------------------------------------------------------


def load_texts(csv_path: str | Path, n: int, column: str = "answer") -> list[str]:
    """The first ``n`` non-empty values of ``column`` of a CSV (e.g. Mohler answers)."""
    texts: list[str] = []
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            value = (row.get(column) or "").strip()
            if value:
                texts.append(value)
            if len(texts) >= n:
                break
    return texts


def render_text_pages(
    texts: Sequence[str], out_dir: str | Path, n: int, size: tuple[int, int] = (1240, 1754)
) -> list[Path]:
    """Render ``n`` A4 pages (150 dpi) of ``texts`` with Pillow's built-in font, as
    stand-ins for scanned answer sheets when no real images are at hand."""
    from PIL import Image, ImageDraw, ImageFont

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    font = ImageFont.load_default(size=30)
    paths = []
    for page in range(n):
        img = Image.new("L", size, 248)
        draw = ImageDraw.Draw(img)
        y = 90
        for k in range(4):
            text = texts[(page * 4 + k) % len(texts)] if texts else "Sample answer."
            for line in textwrap.wrap(text, width=70)[:8]:
                draw.text((90, y), line, fill=25, font=font)
                y += 44
            y += 60
        path = out / f"page_{page:03d}.png"
        img.save(path)
        paths.append(path)
    return paths


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of ``encoder_throughput`` rows."""
    header = f"{'encoder':<8} {'device':<22} {'batch':>5} {'items':>6} {'seconds':>8} {'items/s':>9}  extra"
    lines = [header, "-" * len(header)]
    for r in rows:
        extra = f"{r['realtime_x']}x realtime" if r.get("realtime_x") else ""
        lines.append(
            f"{r['encoder']:<8} {str(r['device'])[:22]:<22} {r['batch_size']:>5} {r['items']:>6} "
            f"{r['seconds']:>8.2f} {r['items_per_s'] or 0:>9.2f}  {extra}"
        )
    return "\n".join(lines)


__all__ = ["encoder_throughput", "format_table", "load_texts", "render_text_pages"]
