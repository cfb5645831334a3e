"""Optical flow between consecutive frames: OpenCV on the CPU (Farneback, and TV-L1 from
opencv-contrib) or the torch ports; one entry point for the flow stage and predict."""

from __future__ import annotations

from typing import Any

import numpy as np

from harfuse.config_schema import default, filled
from harfuse.flow.defaults import (
    FARNEBACK_DEFAULTS,
    METHODS,
    RAFT_DEFAULTS,
    TVL1_DEFAULTS,
    flow_backend,
)


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
    backend: str = default("flow", "backend"),
    device: str = "auto",
    batch_size: int = default("flow", "batch_size"),
    mode: str = default("flow", "mode"),
    torch_compile: bool = default("flow", "torch_compile"),
    **params: Any,
) -> np.ndarray:
    """Flow from frame ``t`` to ``t+1`` for every consecutive pair.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB or ``(T, H, W)`` uint8 gray, ``T >= 2``.
        method: ``"farneback"``, ``"tvl1"`` or ``"raft"`` (torchvision RAFT from the local
            weights file named by ``weights``; RGB frames of >= 128 px; torch only).
        backend: ``"cv2"`` (OpenCV on the CPU), ``"torch"`` (harfuse's batched PyTorch
            ports, CPU or CUDA) or ``"auto"`` (torch when ``device`` is not ``"cpu"`` and
            CUDA is available, else cv2, which is faster than torch on a CPU).
        device: torch device for ``backend="torch"``: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        batch_size: frame pairs per torch batch.
        mode: TV-L1 on torch: ``"parity"`` or ``"fast"`` (:mod:`harfuse.flow.tvl1_torch`).
        torch_compile: TV-L1 on torch: run its inner iteration through ``torch.compile``.
        params: overrides of OpenCV's defaults, the same names for both backends:
            :data:`FARNEBACK_DEFAULTS`, or :data:`TVL1_DEFAULTS` (snake case).

    Returns:
        ``(T-1, H, W, 2)`` float32 flow in pixels, x (right) then y (down).
    """
    if method not in METHODS:
        raise ValueError(f"unknown flow method {method!r}; expected one of {METHODS}")
    if len(frames) < 2:
        raise ValueError(f"flow needs at least 2 frames, got {len(frames)}")
    defaults = {"farneback": FARNEBACK_DEFAULTS, "tvl1": TVL1_DEFAULTS, "raft": RAFT_DEFAULTS}[
        method
    ]
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {method} parameters {sorted(unknown)}")
    params = {**defaults, **params}
    if backend not in ("auto", "cv2", "torch"):
        raise ValueError(f"flow backend must be auto, cv2 or torch, got {backend!r}")
    if method == "raft":
        return _raft(frames, device, batch_size, params)
    gray = to_gray(frames)
    backend, _ = flow_backend(method, backend, device, _cuda_available())
    if backend == "torch":
        return _torch_flow(gray, method, device, batch_size, mode, torch_compile, params)
    return _cv2_flow(gray, method, params)


def flow_from_config(frames: np.ndarray, config: dict[str, Any], device: str) -> np.ndarray:
    """:func:`compute_flow` with the workflow's ``flow:`` config section (method, backend,
    batch_size, mode, torch_compile, params), as the flow stage and ``harfuse predict``
    run it."""
    config = filled(config, "flow")
    return compute_flow(
        frames,
        config["method"],
        backend=config["backend"],
        device=device,
        batch_size=config["batch_size"],
        mode=config["mode"],
        torch_compile=config["torch_compile"],
        **config["params"],
    )


def _raft(frames: np.ndarray, device: str, batch_size: int, params: dict[str, Any]) -> np.ndarray:
    import torch

    from harfuse.device import resolve_device
    from harfuse.flow.raft import check_rgb, load_raft, raft_flow

    check_rgb(frames)
    if not params["weights"]:
        raise ValueError("RAFT needs flow.params.weights: the path of a local .pth file")
    dev = resolve_device(device)
    model = load_raft(params["arch"], str(params["weights"]), str(dev))
    rgb = torch.from_numpy(np.ascontiguousarray(frames)).to(dev)
    out = []
    for lo in range(0, len(rgb) - 1, batch_size):
        hi = min(lo + batch_size, len(rgb) - 1)
        flow = raft_flow(model, rgb[lo:hi], rgb[lo + 1 : hi + 1], params["num_flow_updates"])
        out.append(flow.cpu().numpy())
    return np.concatenate(out)


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
        p = params
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(
            p["tau"],
            p["lambda_"],
            p["theta"],
            p["nscales"],
            p["warps"],
            p["epsilon"],
            p["inner_iterations"],
            p["outer_iterations"],
            p["scale_step"],
            0.0,
            p["median_filtering"],
            False,
        )  # positional: the Python keyword for inner iterations is misspelled
        for i in range(len(gray) - 1):
            out[i] = tvl1.calc(gray[i], gray[i + 1], None)
    return out


def _torch_flow(
    gray: np.ndarray,
    method: str,
    device: str,
    batch_size: int,
    mode: str,
    torch_compile: bool,
    params: dict[str, Any],
) -> np.ndarray:
    import torch

    from harfuse.device import resolve_device
    from harfuse.flow.farneback_torch import farneback
    from harfuse.flow.tvl1_torch import tvl1

    def run(prev: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        if method == "farneback":
            return farneback(prev, nxt, **params)
        return tvl1(prev, nxt, mode=mode, torch_compile=torch_compile, **params)

    dev = resolve_device(device)
    frames = torch.from_numpy(gray).to(dev)
    out = []
    for lo in range(0, len(gray) - 1, batch_size):
        hi = min(lo + batch_size, len(gray) - 1)
        out.append(run(frames[lo:hi], frames[lo + 1 : hi + 1]).cpu().numpy())
    return np.concatenate(out)
