"""TV-L1 dense optical flow in PyTorch, batched over frame pairs, on CPU or CUDA.

A port of OpenCV's CPU ``cv::optflow::DualTVL1OpticalFlow`` (opencv_contrib
``tvl1flow.cpp``, with its 5x5 median filter and early stopping) following
``shared/research/gpu-flow.md`` §1. Each pair stops on its own convergence test (an
``active`` mask), so a batch gives what cv2 gives pair by pair.

``check_every`` is how often the loop asks the device whether any pair is still active
(a host sync): 1 in ``parity`` mode, 10 in ``fast`` mode. The per-pair stopping is exact
in both; ``fast`` only runs masked no-op iterations up to 9 times after the last pair
converged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harfuse.flow.compute import TVL1_DEFAULTS as DEFAULTS

MODES = {"parity": 1, "fast": 10}
_MIN_SIZE = 16  # a pyramid level smaller than this is not used, px
_FLT_EPSILON = 1.1920929e-07


def _sample(img: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mode: str, pad: str):
    """Sample ``(B, C, h, w)`` at pixel coordinates ``x``, ``y`` ``(B, H, W)``
    (``align_corners=True`` maps pixel centres exactly)."""
    h, w = img.shape[-2:]
    grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)
    return F.grid_sample(img, grid, mode=mode, padding_mode=pad, align_corners=True)


def _downscale(img: torch.Tensor, factor: float) -> torch.Tensor:
    """``cv::resize(img, Size(), factor, factor, INTER_LINEAR)``: size ``round(n·factor)``,
    source ``(dst + 0.5) / factor - 0.5`` clamped to the image."""
    b, _, h, w = img.shape
    nh, nw = round(h * factor), round(w * factor)
    ys = ((torch.arange(nh, device=img.device) + 0.5) / factor - 0.5).clamp(0, h - 1)
    xs = ((torch.arange(nw, device=img.device) + 0.5) / factor - 0.5).clamp(0, w - 1)
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return _sample(img, x.expand(b, nh, nw), y.expand(b, nh, nw), "bilinear", "border")


def _centred_gradient(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """0.5·(next − previous) along x and y, replicate border; ``(B, 1, H, W)`` each."""
    p = F.pad(img, (1, 1, 1, 1), mode="replicate")
    gx = 0.5 * (p[..., 1:-1, 2:] - p[..., 1:-1, :-2])
    gy = 0.5 * (p[..., 2:, 1:-1] - p[..., :-2, 1:-1])
    return gx, gy


def _forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences, 0 in the last column / row."""
    gx = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    gy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return gx, gy


def _divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward differences with zero padding on the left and top."""
    return (px - F.pad(px[..., :, :-1], (1, 0))) + (py - F.pad(py[..., :-1, :], (0, 0, 1, 0)))


def _median5(u: torch.Tensor) -> torch.Tensor:
    """5x5 median with replicate border, ``(B, 1, H, W)``."""
    b, _, h, w = u.shape
    patches = F.unfold(F.pad(u, (2, 2, 2, 2), mode="replicate"), 5)  # (B, 25, H*W)
    return patches.median(dim=1).values.reshape(b, 1, h, w)


def _error(d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """Σ |u_new − u_old|² per pair, ``(B, 1, 1, 1)`` float32, accumulated in float64 like
    ``cv::sum`` and then rounded to float32 as OpenCV's ``estimateU`` returns it. (A
    row-major float32 sum stops the same iterations on the test pairs: the remaining
    difference to cv2 with early stopping is not in this sum; see the README.)"""
    b = d1.shape[0]
    terms = (d1 * d1 + d2 * d2).reshape(b, -1)
    return terms.double().sum(dim=1).float().reshape(b, 1, 1, 1)


def _one_scale(i0, i1, u1, u2, p, check_every):
    """``procOneScale`` for a batch; ``u1``, ``u2`` ``(B, 1, H, W)`` updated in place."""
    b, _, h, w = i0.shape
    l_t = p["lambda_"] * p["theta"]
    taut = p["tau"] / p["theta"]
    scaled_eps = p["epsilon"] ** 2 * h * w
    i1x, i1y = _centred_gradient(i1)
    stack = torch.cat([i1, i1x, i1y], 1)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=i0.device, dtype=torch.float32),
        torch.arange(w, device=i0.device, dtype=torch.float32),
        indexing="ij",
    )
    p11, p12, p21, p22 = (torch.zeros_like(u1) for _ in range(4))
    for _ in range(p["warps"]):
        warped = _sample(stack, xs + u1[:, 0], ys + u2[:, 0], "bicubic", "zeros")
        i1w, i1wx, i1wy = warped[:, :1], warped[:, 1:2], warped[:, 2:3]
        grad = i1wx * i1wx + i1wy * i1wy
        rho_c = i1w - i1wx * u1 - i1wy * u2 - i0
        active = torch.ones(b, 1, 1, 1, dtype=torch.bool, device=i0.device)
        step = 0
        for _ in range(p["outer_iterations"]):
            if p["median_filtering"] > 1:
                u1 = torch.where(active, _median5(u1), u1)
                u2 = torch.where(active, _median5(u2), u2)
            for _ in range(p["inner_iterations"]):
                rho = rho_c + i1wx * u1 + i1wy * u2
                fi = torch.where(grad > _FLT_EPSILON, -rho / grad.clamp_min(_FLT_EPSILON), 0.0)
                d1 = torch.where(
                    rho < -l_t * grad,
                    l_t * i1wx,
                    torch.where(rho > l_t * grad, -l_t * i1wx, fi * i1wx),
                )
                d2 = torch.where(
                    rho < -l_t * grad,
                    l_t * i1wy,
                    torch.where(rho > l_t * grad, -l_t * i1wy, fi * i1wy),
                )
                v1, v2 = u1 + d1, u2 + d2
                new1 = v1 + p["theta"] * _divergence(p11, p12)
                new2 = v2 + p["theta"] * _divergence(p21, p22)
                error = _error(new1 - u1, new2 - u2)
                u1 = torch.where(active, new1, u1)
                u2 = torch.where(active, new2, u2)
                u1x, u1y = _forward_gradient(u1)
                u2x, u2y = _forward_gradient(u2)
                ng1 = 1 + taut * torch.hypot(u1x, u1y)
                ng2 = 1 + taut * torch.hypot(u2x, u2y)
                p11 = torch.where(active, (p11 + taut * u1x) / ng1, p11)
                p12 = torch.where(active, (p12 + taut * u1y) / ng1, p12)
                p21 = torch.where(active, (p21 + taut * u2x) / ng2, p21)
                p22 = torch.where(active, (p22 + taut * u2y) / ng2, p22)
                active = active & (error > scaled_eps)
                step += 1
                if step % check_every == 0 and not bool(active.any()):
                    break
            else:
                continue
            break
    return u1, u2


@torch.inference_mode()
def tvl1(prev: torch.Tensor, nxt: torch.Tensor, mode: str = "parity", **params) -> torch.Tensor:
    """Flow from ``prev`` to ``nxt``, both ``(B, H, W)`` gray on a 0..255 scale; returns
    ``(B, H, W, 2)`` float32 px (x then y). ``params`` override :data:`DEFAULTS` (OpenCV's,
    with ``lambda_``, ``inner_iterations``, ``outer_iterations``, ``scale_step``,
    ``median_filtering`` spelled in snake case); ``gamma`` and an initial flow are not
    supported."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown TV-L1 parameters {sorted(unknown)}")
    if mode not in MODES:
        raise ValueError(f"TV-L1 mode must be one of {sorted(MODES)}, got {mode!r}")
    p = {**DEFAULTS, **params}
    if p["median_filtering"] not in (1, 5):
        raise ValueError(f"median_filtering must be 1 (off) or 5, got {p['median_filtering']}")
    pyramids = [[prev.float()[:, None]], [nxt.float()[:, None]]]
    for _ in range(1, p["nscales"]):
        smaller = [_downscale(pyr[-1], p["scale_step"]) for pyr in pyramids]
        if min(smaller[0].shape[-2:]) < _MIN_SIZE:
            break
        for pyr, level in zip(pyramids, smaller, strict=True):
            pyr.append(level)
    coarsest = pyramids[0][-1]
    u1 = torch.zeros_like(coarsest)
    u2 = torch.zeros_like(coarsest)
    for s in range(len(pyramids[0]) - 1, -1, -1):
        u1, u2 = _one_scale(pyramids[0][s], pyramids[1][s], u1, u2, p, MODES[mode])
        if s > 0:
            size = pyramids[0][s - 1].shape[-2:]
            u1 = F.interpolate(u1, size=size, mode="bilinear", align_corners=False)
            u2 = F.interpolate(u2, size=size, mode="bilinear", align_corners=False)
            u1, u2 = u1 / p["scale_step"], u2 / p["scale_step"]
    return torch.cat([u1, u2], 1).permute(0, 2, 3, 1).contiguous()
