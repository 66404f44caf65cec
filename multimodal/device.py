"""The one place where multimodal code decides which torch device to use.

Everything below this helper is device-agnostic: training and inference take a
``torch.device`` and move tensors there, so a worker on a GPU node and a laptop run
the same code path.
"""

from __future__ import annotations

import os

import torch

ENV_VAR = "EDUPLATFORM_DEVICE"


def pick_device() -> torch.device:
    """Return the device to run models on.

    ``EDUPLATFORM_DEVICE`` (e.g. ``cpu``, ``cuda``, ``cuda:1``) wins when set, so an
    operator can pin a worker to one GPU or force CPU without code changes; otherwise
    CUDA is used when available, else the CPU. Asking for CUDA on a machine without
    it is a configuration error and raises instead of silently falling back.
    """
    requested = os.environ.get(ENV_VAR, "").strip()
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"{ENV_VAR}={requested!r} but CUDA is not available on this machine"
            )
        return device
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
