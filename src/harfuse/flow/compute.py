"""Optical flow with OpenCV on the CPU (Farneback, and TV-L1 from opencv-contrib)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: ``cv::FarnebackOpticalFlow::create()`` defaults, the parity reference.
FARNEBACK_DEFAULTS: dict[str, Any] = {
    "pyr_scale": 0.5,
    "levels": 5,
    "winsize": 13,
    "iterations": 10,
    "poly_n": 5,
    "poly_sigma": 1.1,
    "flags": 0,
}
METHODS = ("farneback", "tvl1")


def to_gray(frames: np.ndarray) -> np.ndarray:
    """``(T, H, W, 3)`` RGB or ``(T, H, W)`` gray uint8 -> ``(T, H, W)`` uint8 gray."""
    import cv2

    if frames.ndim == 3:
        return frames
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) or (T, H, W), got {frames.shape}")
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])


def compute_flow(frames: np.ndarray, method: str = "farneback", **params: Any) -> np.ndarray:
    """Flow from frame ``t`` to ``t+1`` for every consecutive pair.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB or ``(T, H, W)`` uint8 gray, ``T >= 2``.
        method: ``"farneback"`` or ``"tvl1"``.
        params: overrides of OpenCV's defaults for the method.

    Returns:
        ``(T-1, H, W, 2)`` float32 flow in pixels, x (right) then y (down).
    """
    import cv2

    gray = to_gray(frames)
    if len(gray) < 2:
        raise ValueError(f"flow needs at least 2 frames, got {len(gray)}")
    out = np.empty((len(gray) - 1, *gray.shape[1:], 2), np.float32)
    if method == "farneback":
        unknown = set(params) - set(FARNEBACK_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown Farneback parameters {sorted(unknown)}")
        p = {**FARNEBACK_DEFAULTS, **params}
        for i in range(len(gray) - 1):
            out[i] = cv2.calcOpticalFlowFarneback(gray[i], gray[i + 1], None, **p)
    elif method == "tvl1":
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(**params)
        for i in range(len(gray) - 1):
            out[i] = tvl1.calc(gray[i], gray[i + 1], None)
    else:
        raise ValueError(f"unknown flow method {method!r}; expected one of {METHODS}")
    return out
