"""uint8 flow storage, the convention of two-stream work (denseflow, mmaction2 rawframes).

A flow value ``f`` (px) is clipped to ``[-bound, bound]`` and mapped linearly onto
``[0, 255]``: ``q = round((clip(f) + bound) * scale)`` with ``scale = 255 / (2 * bound)``,
rounding half to even (numpy). Decoding gives ``q / scale - bound``, so zero flow decodes
to ``+bound/255`` px (code 128 is the nearest to 127.5) and the step is ``2*bound/255`` px.
"""

from __future__ import annotations

import numpy as np


def flow_scale(bound: float) -> float:
    """Codes per pixel for a clipping ``bound`` (px)."""
    if bound <= 0:
        raise ValueError(f"flow bound must be > 0 px, got {bound}")
    return 255.0 / (2.0 * bound)


def quantize(flow: np.ndarray, bound: float = 20.0) -> np.ndarray:
    """Float flow in px (any shape) -> uint8 codes of the same shape."""
    scale = flow_scale(bound)
    q = np.rint((np.clip(flow, -bound, bound) + bound) * scale)
    return q.astype(np.uint8)


def dequantize(codes: np.ndarray, bound: float = 20.0) -> np.ndarray:
    """uint8 codes -> float32 flow in px (inverse of :func:`quantize` up to one step)."""
    return codes.astype(np.float32) / np.float32(flow_scale(bound)) - np.float32(bound)
