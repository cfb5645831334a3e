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


def compute_flow(
    frames: np.ndarray,
    method: str = "farneback",
    backend: str = "auto",
    device: str = "auto",
    batch_size: int = 32,
    **params: Any,
) -> np.ndarray:
    """Flow from frame ``t`` to ``t+1`` for every consecutive pair.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB or ``(T, H, W)`` uint8 gray, ``T >= 2``.
        method: ``"farneback"`` or ``"tvl1"``.
        backend: ``"cv2"`` (OpenCV on the CPU), ``"torch"`` (batched PyTorch port, CPU or
            CUDA; Farneback only so far) or ``"auto"`` (torch when CUDA is available, else
            cv2, which is faster than torch on a CPU).
        device: torch device for ``backend="torch"``: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: frame pairs per torch batch.
        params: overrides of OpenCV's defaults for the method (same names for both backends).

    Returns:
        ``(T-1, H, W, 2)`` float32 flow in pixels, x (right) then y (down).
    """
    gray = to_gray(frames)
    if len(gray) < 2:
        raise ValueError(f"flow needs at least 2 frames, got {len(gray)}")
    if method not in METHODS:
        raise ValueError(f"unknown flow method {method!r}; expected one of {METHODS}")
    if method == "farneback":
        unknown = set(params) - set(FARNEBACK_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown Farneback parameters {sorted(unknown)}")
        params = {**FARNEBACK_DEFAULTS, **params}
    if backend not in ("auto", "cv2", "torch"):
        raise ValueError(f"flow backend must be auto, cv2 or torch, got {backend!r}")
    if backend == "auto":
        backend = "torch" if method == "farneback" and _cuda_available() else "cv2"
    if backend == "torch":
        if method != "farneback":
            raise ValueError("the torch backend implements farneback only; use backend='cv2'")
        return _farneback_torch(gray, device, batch_size, params)
    return _cv2_flow(gray, method, params)


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # an environment without torch: the cv2 backend
        return False
    return torch.cuda.is_available()


def _cv2_flow(gray: np.ndarray, method: str, params: dict[str, Any]) -> np.ndarray:
    import cv2

    out = np.empty((len(gray) - 1, *gray.shape[1:], 2), np.float32)
    if method == "farneback":
        for i in range(len(gray) - 1):
            out[i] = cv2.calcOpticalFlowFarneback(gray[i], gray[i + 1], None, **params)
    else:
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(**params)
        for i in range(len(gray) - 1):
            out[i] = tvl1.calc(gray[i], gray[i + 1], None)
    return out


def _farneback_torch(
    gray: np.ndarray, device: str, batch_size: int, params: dict[str, Any]
) -> np.ndarray:
    import torch

    from harfuse.device import resolve_device
    from harfuse.flow.farneback_torch import farneback

    dev = resolve_device(device)
    frames = torch.from_numpy(gray).to(dev)
    out = []
    for lo in range(0, len(gray) - 1, batch_size):
        hi = min(lo + batch_size, len(gray) - 1)
        out.append(farneback(frames[lo:hi], frames[lo + 1 : hi + 1], **params).cpu().numpy())
    return np.concatenate(out)
