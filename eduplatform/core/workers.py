"""Worker-side set-up: hand the model settings to ``multimodal`` and warm models.

Only workers, management commands and the embedded (eager) mode call this; no web
module imports it (import-linter: web-facing modules never reach torch).
"""

from __future__ import annotations

import logging
import threading

from eduplatform.core.conf import settings
from multimodal import registry

log = logging.getLogger(__name__)


def models_configure() -> registry.ModelConfig:
    """Give the registry this deployment's model paths and device (idempotent)."""
    return registry.configure(
        registry.ModelConfig(
            device=str(settings.DEVICE or ""),
            text_model_path=str(settings.TEXT_MODEL_PATH or ""),
            asr_model_path=str(settings.ASR_MODEL_PATH or ""),
            asr_beam_size=int(settings.ASR_BEAM_SIZE),
            asr_max_seconds=float(settings.MAX_AUDIO_SECONDS),
            image_backbone_weights=str(settings.IMAGE_BACKBONE_WEIGHTS or ""),
            image_backbone_arch=str(settings.IMAGE_BACKBONE_ARCH),
            artifact_cache_size=int(settings.ARTIFACT_CACHE_SIZE),
        )
    )


def warm_models_in_background() -> threading.Thread | None:
    """Load the configured warm models in a background thread.

    Celery gives a new pool process a few seconds to report ready; loading MiniLM,
    OCR and Whisper takes longer, so a process that loaded them synchronously in
    ``worker_process_init`` was killed and restarted forever after its first crash.
    Loading in the background lets the process report ready at once; a task that
    arrives first waits on the registry's lock for the model it needs.
    """
    models_configure()
    wanted = settings.WARM_MODELS
    if isinstance(wanted, str):
        wanted = [m.strip() for m in wanted.split(",")]
    wanted = tuple(m for m in wanted if m and m != "none")
    if not wanted:
        return None

    def _warm() -> None:
        try:
            info = registry.warm_up(wanted)
            log.info("models warm: %s", {k: v.get("load_s") for k, v in info.items()})
        except Exception:  # a broken model path must not kill the worker silently
            log.exception("warming models %s failed; tasks will load them on first use", wanted)

    thread = threading.Thread(target=_warm, name="eduplatform-warm-models", daemon=True)
    thread.start()
    return thread
