"""Optical flow as the flow stage stores it."""

from __future__ import annotations

from typing import Any

import numpy as np

from harfuse.config_schema import filled
from harfuse.flow.compute import flow_from_config
from harfuse.flow.quantize import flow_scale, quantize
from harfuse.preprocess import Attrs


def flow_field(
    frames: np.ndarray, config: dict[str, Any], device: str, still: bool = False
) -> tuple[np.ndarray, Attrs]:
    """Flow of stored ``(T, H, W, 3)`` RGB frames (or ``(T, H, W)`` gray, as the flow
    stage's feed hands them; not for RAFT) as the flow stage stores it: ``(T-1, H, W,
    2)`` uint8 codes (``storage: uint8``) or float16 px, and its attributes. With
    ``still``, a single frame is taken as a still (one zero-motion pair), as prediction on
    a one-frame segment needs; the stage leaves it off, so a one-frame sample is an error
    it quarantines ("flow needs at least 2 frames")."""
    if still and len(frames) == 1:
        frames = np.concatenate([frames, frames])
    config = filled(config, "flow")
    flow = flow_from_config(frames, config, device)
    bound, storage = float(config["bound"]), config["storage"]
    attrs: Attrs = {"method": config["method"], "bound": bound, "storage": storage}
    if storage == "uint8":
        return quantize(flow, bound), {**attrs, "scale": flow_scale(bound)}
    return flow.astype(np.float16), attrs
