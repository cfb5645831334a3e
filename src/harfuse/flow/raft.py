"""RAFT (torchvision) optical flow from a local weights file; never downloaded."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from harfuse.weights import WeightsNotFoundError

ARCHS = ("raft_small", "raft_large")
MIN_SIZE = 128  # torchvision's RAFT needs feature maps of >= 16 px at 1/8 resolution


def missing_raft_weights(arch: str, weights: str | None) -> str | None:
    """Why RAFT ``arch`` cannot load ``weights`` (``flow.params.weights``), with what to do,
    or ``None`` when the file is there."""
    import torchvision

    if arch not in ARCHS:
        return f"flow.params.arch: unknown RAFT architecture {arch!r}; known: {', '.join(ARCHS)}"
    if weights is not None and Path(weights).is_file():
        return None
    url = torchvision.models.get_model_weights(arch).DEFAULT.url
    what = "not set" if weights is None else f"{weights} not found"
    return (
        f"flow.params.weights: RAFT weights {what}: download {url} on a machine with "
        "internet, copy it here, and name it in flow.params.weights"
    )


@functools.lru_cache(maxsize=4)
def load_raft(arch: str, weights: str, device: str) -> torch.nn.Module:
    """torchvision ``arch`` with the state dict at ``weights``, in eval mode on ``device``."""
    import torchvision

    problem = missing_raft_weights(arch, weights)
    if problem and arch not in ARCHS:
        raise ValueError(problem)
    if problem:
        raise WeightsNotFoundError(problem)
    path = Path(weights)
    model = torchvision.models.get_model(arch, weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval().to(device)


@torch.inference_mode()
def raft_flow(
    model: torch.nn.Module, prev: torch.Tensor, nxt: torch.Tensor, num_flow_updates: int = 12
) -> torch.Tensor:
    """Flow ``(B, H, W, 2)`` px from ``prev`` to ``nxt``, both ``(B, H, W, 3)`` uint8 RGB
    with ``H, W >= 128``; frames are padded (replicate) to a multiple of 8 and the last of
    RAFT's refinements is returned."""
    h, w = prev.shape[1:3]
    if min(h, w) < MIN_SIZE:
        raise ValueError(f"RAFT needs frames of at least {MIN_SIZE} px, got {h}x{w}")
    pad = (0, (-w) % 8, 0, (-h) % 8)

    def prepare(x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (B, 3, H, W) in [-1, 1]
        return F.pad(x, pad, mode="replicate")

    flow = model(prepare(prev), prepare(nxt), num_flow_updates=num_flow_updates)[-1]
    return flow[:, :, :h, :w].permute(0, 2, 3, 1).contiguous()  # (B, H, W, 2)


def check_rgb(frames: np.ndarray) -> None:
    """RAFT works on colour: reject gray ``(T, H, W)`` input with a clear message."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"RAFT takes (T, H, W, 3) RGB frames, got {frames.shape}")
