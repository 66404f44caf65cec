"""The one place where multimodal code decides which torch device to use.

Everything below this helper is device-agnostic: training and inference take a
device and move tensors there, so a worker on a GPU node and a laptop run the same
code path. The choice is passed in by the caller (the Django side reads
``EDUPLATFORM_DEVICE`` through ``eduplatform.core.conf``); this package reads no
environment variables of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the device to run models on.

    ``prefer`` (e.g. ``cpu``, ``cuda``, ``cuda:1``) wins when given, so an operator can
    pin a worker to one GPU or force CPU; otherwise CUDA when available, else the CPU.
    Asking for CUDA on a machine without it is a configuration error and raises
    instead of silently falling back.
    """
    import torch

    requested = (prefer or "").strip()
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {requested!r} was requested but CUDA is not available on this machine")
        return device
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
