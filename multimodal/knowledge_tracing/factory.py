"""Build a knowledge-tracing model by its benchmark name (``bkt``, ``bkt_forget``, ``dkt``,
``akt_lite``). Imports the deep side, so it is for workers and management commands."""

from __future__ import annotations

from multimodal.knowledge_tracing.bkt import BKTModel
from multimodal.knowledge_tracing.deep import DeepKTConfig, DeepKTModel

__all__ = ["MODEL_NAMES", "make_model"]

MODEL_NAMES = ("bkt", "bkt_forget", "dkt", "akt_lite")


def make_model(
    name: str,
    *,
    max_epochs: int | None = None,
    time_budget_s: float | None = None,
    seed: int = 0,
    device: str | None = None,
) -> BKTModel | DeepKTModel:
    """An unfitted model by name (see ``MODEL_NAMES``); ``device`` goes to ``pick_device``."""
    if name == "bkt":
        return BKTModel()
    if name == "bkt_forget":
        return BKTModel(forgetting=True)
    if name in ("dkt", "akt_lite"):
        cfg = DeepKTConfig(arch=name, seed=seed)
        if max_epochs is not None:
            cfg.max_epochs = max_epochs
        if time_budget_s is not None:
            cfg.time_budget_s = time_budget_s
        return DeepKTModel(cfg, device=device)
    raise ValueError(f"unknown knowledge tracing model {name!r}; choose from {', '.join(MODEL_NAMES)}")
