"""Upload validation: size, content sniffing (magic bytes, not the extension), decodability.

Runs in the web process, so it uses Pillow and soundfile only (no torch, no librosa).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

from eduplatform.core.conf import settings
from eduplatform.core.errors import ApplicationError

MB = 1024 * 1024
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
AUDIO_TYPES = {"WAV": "audio/wav", "FLAC": "audio/flac", "OGG": "audio/ogg", "MP3": "audio/mpeg"}
MIN_AUDIO_SECONDS = 0.3


@dataclass
class CheckedFile:
    kind: str
    name: str
    content_type: str
    data: bytes
    sha256: str
    meta: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> str | None:
    """Return 'image' or 'audio' from the first bytes, or None when neither."""
    head = data[:16]
    if (
        head.startswith(b"\x89PNG\r\n\x1a\n")
        or head.startswith(b"\xff\xd8\xff")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    ):
        return "image"
    if (
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE")
        or head.startswith((b"fLaC", b"OggS", b"ID3"))
        or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0)
    ):
        return "audio"
    return None


def mb(n: float) -> str:
    """A byte count as people read it in messages (``12.5 MB``)."""
    if n >= 10 * MB:
        return f"{n / MB:.0f} MB"
    return f"{n / MB:.1f} MB" if n >= MB / 10 else f"{n / MB:.2g} MB"


def _fail(name: str, message: str, code: str, status_code: int | None = None, **extra) -> ApplicationError:
    return ApplicationError(
        f"File '{name}': {message}", code=code, field="files", status_code=status_code, extra=extra or None
    )


def check_image(name: str, data: bytes) -> CheckedFile:
    """Refuse by size, then by the pixel count read from the header, and only then decode.

    A 109 KB PNG can declare 30000x30000 pixels (3.6 GB decoded): the header check keeps
    decoding (here and in the OCR worker) within ``MAX_IMAGE_PIXELS`` x 4 bytes.
    """
    from PIL import Image, UnidentifiedImageError

    if len(data) > settings.MAX_IMAGE_BYTES:
        raise _fail(
            name,
            f"image is {mb(len(data))}; the limit is {mb(settings.MAX_IMAGE_BYTES)}.",
            "too_large",
            413,
            limit_mb=round(settings.MAX_IMAGE_BYTES / MB, 3),
        )
    max_pixels = int(settings.MAX_IMAGE_PIXELS)
    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            fmt = img.format
            width, height = img.size
            if width * height > max_pixels:
                raise _too_many_pixels(name, width, height, max_pixels)
            img.verify()
        with Image.open(io.BytesIO(data)) as img:  # verify() leaves the image unusable
            img.load()
    except Image.DecompressionBombError:  # Pillow's own guard, for headers past twice its limit
        raise _fail(name, f"image declares more than {max_pixels / 1e6:.0f} megapixels.", "too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise _fail(name, f"image could not be decoded ({exc.__class__.__name__}).", "corrupt_file") from None
    if fmt not in IMAGE_TYPES:
        raise _fail(name, f"image format {fmt} is not accepted; use PNG, JPEG or WebP.", "unsupported_type")
    if width < 8 or height < 8:
        raise _fail(name, "image is too small to read.", "corrupt_file")
    return CheckedFile(
        "image",
        name,
        IMAGE_TYPES[fmt],
        data,
        hashlib.sha256(data).hexdigest(),
        {"width": width, "height": height, "format": fmt},
    )


def _too_many_pixels(name: str, width: int, height: int, max_pixels: int) -> ApplicationError:
    return _fail(
        name,
        f"image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
        f"the limit is {max_pixels / 1e6:.0f} megapixels. Resize or crop the photo.",
        "too_many_pixels",
    )


def check_audio(name: str, data: bytes) -> CheckedFile:
    import soundfile as sf

    if len(data) > settings.MAX_AUDIO_BYTES:
        raise _fail(
            name,
            f"audio is {mb(len(data))}; the limit is {mb(settings.MAX_AUDIO_BYTES)}.",
            "too_large",
            413,
            limit_mb=round(settings.MAX_AUDIO_BYTES / MB, 3),
        )
    try:
        with sf.SoundFile(io.BytesIO(data)) as snd:
            fmt = snd.format
            frames, rate, channels = snd.frames, snd.samplerate, snd.channels
            probe = snd.read(min(frames, rate), dtype="float32")  # decode the first second
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise _fail(name, f"audio could not be decoded ({exc.__class__.__name__}).", "corrupt_file") from None
    if fmt not in AUDIO_TYPES:
        raise _fail(name, f"audio format {fmt} is not accepted; use WAV, FLAC, OGG or MP3.", "unsupported_type")
    duration = frames / float(rate) if rate else 0.0
    if duration < MIN_AUDIO_SECONDS or len(probe) == 0:
        raise _fail(name, f"audio is empty or shorter than {MIN_AUDIO_SECONDS} s.", "empty_file")
    if duration > settings.MAX_AUDIO_SECONDS:
        raise _fail(name, f"audio is {duration:.0f} s; the limit is {settings.MAX_AUDIO_SECONDS} s.", "too_long")
    return CheckedFile(
        "audio",
        name,
        AUDIO_TYPES[fmt],
        data,
        hashlib.sha256(data).hexdigest(),
        {"duration_s": round(duration, 3), "sample_rate": rate, "channels": channels, "format": fmt},
    )


def check_upload(name: str, data: bytes, accepted: list[str]) -> CheckedFile:
    """Validate one uploaded file for an assignment accepting ``accepted`` modalities."""
    if not data:
        raise _fail(name, "file is empty.", "empty_file")
    kind = sniff(data)
    if kind is None:
        raise _fail(
            name,
            "content is not a recognised image (PNG, JPEG, WebP) or audio "
            "(WAV, FLAC, OGG, MP3) file, whatever its name says.",
            "unsupported_type",
        )
    if kind not in accepted:
        raise _fail(
            name,
            f"this assignment does not accept {kind} files (accepts: {', '.join(accepted)}).",
            "modality_not_accepted",
        )
    return check_image(name, data) if kind == "image" else check_audio(name, data)
