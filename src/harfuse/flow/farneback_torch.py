"""Farneback dense optical flow in PyTorch, batched over frame pairs, on CPU or CUDA.

A step-by-step port of OpenCV's ``cv::calcOpticalFlowFarneback`` (``optflowgf.cpp``) so
that results match cv2 to about 1e-6 px (``benchmarks/flow_parity.py --method farneback``):
polynomial expansion, pyramid, per-level iterations with box or Gaussian blur of the
matrices, as ``optflowgf.cpp`` orders them. Every convolution is written as shifted
multiply-adds in float32 (no cuDNN, so no TF32 rounding on Ampere and later GPUs).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from harfuse.flow.defaults import FARNEBACK_DEFAULTS as DEFAULTS

OPTFLOW_USE_INITIAL_FLOW = 4
OPTFLOW_FARNEBACK_GAUSSIAN = 256
_BORDER = (0.14, 0.14, 0.4472, 0.4472, 0.4472)  # damping within 5 px of the image edge
_MIN_SIZE = 32  # coarsest pyramid level, px


def gaussian_kernel(ksize: int, sigma: float) -> np.ndarray:
    """OpenCV's ``getGaussianKernel(ksize, sigma)`` (float32, sums to 1)."""
    if sigma <= 0 and ksize == 3:
        return np.array([0.25, 0.5, 0.25], np.float32)  # OpenCV's fixed small kernel
    if sigma <= 0:
        sigma = ((ksize - 1) * 0.5 - 1) * 0.3 + 0.8
    x = np.arange(ksize) - (ksize - 1) * 0.5
    k = np.exp(-0.5 / (sigma * sigma) * x * x)
    return (k / k.sum()).astype(np.float32)


def _separable(img: torch.Tensor, kernel: np.ndarray, mode: str) -> torch.Tensor:
    """Correlate ``(B, C, H, W)`` with ``kernel`` along x then y; ``mode`` is the padding."""
    r = len(kernel) // 2
    padded = F.pad(img, (r, r, 0, 0), mode=mode)
    out = sum(float(w) * padded[..., :, i : i + img.shape[-1]] for i, w in enumerate(kernel))
    padded = F.pad(out, (0, 0, r, r), mode=mode)
    return sum(float(w) * padded[..., i : i + img.shape[-2], :] for i, w in enumerate(kernel))


def _poly_kernels(n: int, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """``FarnebackPrepareGaussian``: g, x·g, x²·g on [-n, n] and the inverse-moment terms."""
    if sigma < np.finfo(np.float32).eps:
        sigma = n * 0.3
    x = np.arange(-n, n + 1)
    g = np.exp(-(x * x) / (2 * sigma * sigma)).astype(np.float32)
    g = (g.astype(np.float64) / g.astype(np.float64).sum()).astype(np.float32)
    xg, xxg = (x * g).astype(np.float32), (x * x * g).astype(np.float32)
    gg = np.outer(g, g).astype(np.float64)  # (y, x)
    xx, yy = np.meshgrid(x.astype(np.float64), x.astype(np.float64))
    G = np.zeros((6, 6))
    G[0, 0] = gg.sum()
    G[1, 1] = (gg * xx * xx).sum()
    G[3, 3] = (gg * xx**4).sum()
    G[5, 5] = (gg * xx * xx * yy * yy).sum()
    G[2, 2] = G[0, 3] = G[0, 4] = G[3, 0] = G[4, 0] = G[1, 1]
    G[4, 4] = G[3, 3]
    G[3, 4] = G[4, 3] = G[5, 5]
    iG = np.linalg.inv(G)
    return g, xg, xxg, (iG[1, 1], iG[0, 3], iG[3, 3], iG[5, 5])


def poly_exp(img: torch.Tensor, n: int, sigma: float) -> torch.Tensor:
    """``FarnebackPolyExp``: ``(B, H, W)`` -> ``(B, 5, H, W)`` quadratic-fit coefficients
    ``[y, x, yy, xx, xy]`` with replicate borders."""
    g, xg, xxg, (ig11, ig03, ig33, ig55) = _poly_kernels(n, sigma)
    h, w = img.shape[-2:]
    pad = F.pad(img[:, None], (0, 0, n, n), mode="replicate")[:, 0]  # (B, H+2n, W)

    def row(k: int) -> torch.Tensor:  # image shifted by k rows, replicate
        return pad[:, n + k : n + k + h]

    v0 = float(g[n]) * img
    v1 = torch.zeros_like(img)
    v2 = torch.zeros_like(img)
    for k in range(1, n + 1):
        up, down = row(-k), row(k)
        v0 = v0 + float(g[n + k]) * (up + down)
        v1 = v1 + float(xg[n + k]) * (down - up)
        v2 = v2 + float(xxg[n + k]) * (up + down)
    rows = F.pad(torch.stack([v0, v1, v2], 1), (n, n, 0, 0), mode="replicate")  # (B,3,H,W+2n)

    def col(k: int) -> torch.Tensor:
        return rows[..., n + k : n + k + w]

    c = col(0)
    b1, b3, b5 = float(g[n]) * c[:, 0], float(g[n]) * c[:, 1], float(g[n]) * c[:, 2]
    b2 = b4 = b6 = torch.zeros_like(b1)
    for k in range(1, n + 1):
        right, left = col(k), col(-k)
        gk, xgk, xxgk = float(g[n + k]), float(xg[n + k]), float(xxg[n + k])
        b1 = b1 + gk * (right[:, 0] + left[:, 0])
        b4 = b4 + xxgk * (right[:, 0] + left[:, 0])
        b2 = b2 + xgk * (right[:, 0] - left[:, 0])
        b3 = b3 + gk * (right[:, 1] + left[:, 1])
        b6 = b6 + xgk * (right[:, 1] - left[:, 1])
        b5 = b5 + gk * (right[:, 2] + left[:, 2])
    return torch.stack(
        [b3 * ig11, b2 * ig11, b1 * ig03 + b5 * ig33, b1 * ig03 + b4 * ig33, b6 * ig55], 1
    )


def _border_scale(h: int, w: int, device: torch.device) -> torch.Tensor:
    """``(H, W)`` damping factors of ``FarnebackUpdateMatrices`` near the image edge."""

    def axis(n: int) -> torch.Tensor:
        s = torch.ones(n, dtype=torch.float32, device=device)
        for i, b in enumerate(_BORDER):
            if i < n:
                s[i] *= b
            if n - 1 - i >= 0:
                s[n - 1 - i] *= b
        return s

    return axis(h)[:, None] * axis(w)[None, :]


def update_matrices(r0: torch.Tensor, r1: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``FarnebackUpdateMatrices``: ``R0, R1`` ``(B, 5, H, W)``, flow ``(B, 2, H, W)`` ->
    ``M`` ``(B, 5, H, W)`` = ``[g11, g12, g22, h1, h2]`` per pixel."""
    b, _, h, w = r0.shape
    dx, dy = flow[:, 0], flow[:, 1]
    ys = torch.arange(h, device=r0.device, dtype=torch.float32)[:, None]
    xs = torch.arange(w, device=r0.device, dtype=torch.float32)[None, :]
    fx, fy = xs + dx, ys + dy
    x1, y1 = torch.floor(fx), torch.floor(fy)
    inside = (x1 >= 0) & (x1 < w - 1) & (y1 >= 0) & (y1 < h - 1)
    ax, ay = fx - x1, fy - y1
    xi = x1.clamp(0, w - 2).long()
    yi = y1.clamp(0, h - 2).long()
    flat = r1.reshape(b, 5, h * w)

    def tap(oy: int, ox: int) -> torch.Tensor:
        index = ((yi + oy) * w + xi + ox).reshape(b, 1, h * w).expand(b, 5, h * w)
        return flat.gather(2, index).reshape(b, 5, h, w)

    a00, a01 = ((1 - ax) * (1 - ay))[:, None], (ax * (1 - ay))[:, None]
    a10, a11 = ((1 - ax) * ay)[:, None], (ax * ay)[:, None]
    warped = a00 * tap(0, 0) + a01 * tap(0, 1) + a10 * tap(1, 0) + a11 * tap(1, 1)
    r2 = torch.where(inside, warped[:, 0], 0.0)
    r3 = torch.where(inside, warped[:, 1], 0.0)
    r4 = torch.where(inside, (r0[:, 2] + warped[:, 2]) * 0.5, r0[:, 2])
    r5 = torch.where(inside, (r0[:, 3] + warped[:, 3]) * 0.5, r0[:, 3])
    r6 = torch.where(inside, (r0[:, 4] + warped[:, 4]) * 0.25, r0[:, 4] * 0.5)
    r2 = (r0[:, 0] - r2) * 0.5 + r4 * dy + r6 * dx
    r3 = (r0[:, 1] - r3) * 0.5 + r6 * dy + r5 * dx
    scale = _border_scale(h, w, r0.device)
    r2, r3, r4, r5, r6 = (t * scale for t in (r2, r3, r4, r5, r6))
    return torch.stack(
        [
            r4 * r4 + r6 * r6,
            (r4 + r5) * r6,
            r5 * r5 + r6 * r6,
            r4 * r2 + r6 * r3,
            r6 * r2 + r5 * r3,
        ],
        1,
    )


def _box_blur(m: torch.Tensor, winsize: int) -> torch.Tensor:
    """``FarnebackUpdateFlow_Blur``'s running box sum: a (2·(winsize//2)+1)² window with
    replicate borders, divided by winsize² (as OpenCV does, even for an even winsize)."""
    r = winsize // 2
    x = F.pad(m, (r, r, r, r), mode="replicate").double()
    c = F.pad(x.cumsum(-1), (1, 0))
    x = c[..., 2 * r + 1 :] - c[..., : -(2 * r + 1)]
    c = F.pad(x.cumsum(-2), (0, 0, 1, 0))
    x = c[..., 2 * r + 1 :, :] - c[..., : -(2 * r + 1), :]
    return x / (winsize * winsize)


def _gaussian_blur(m: torch.Tensor, winsize: int) -> torch.Tensor:
    """``FarnebackUpdateFlow_GaussianBlur``'s window: size 2·(winsize//2)+1, σ = 0.3·m."""
    r = winsize // 2
    sigma = r * 0.3
    k = np.array([1.0] + [math.exp(-i * i / (2 * sigma * sigma)) for i in range(1, r + 1)])
    k = np.concatenate([k[:0:-1], k]).astype(np.float32)
    return _separable(m, (k / k.sum()).astype(np.float32), "replicate").double()


def _solve(mb: torch.Tensor) -> torch.Tensor:
    """Per-pixel 2x2 solve of the blurred ``[g11, g12, g22, h1, h2]`` -> ``(B, 2, H, W)``."""
    g11, g12, g22, h1, h2 = mb.unbind(1)
    idet = 1.0 / (g11 * g22 - g12 * g12 + 1e-3)
    return torch.stack([(g11 * h2 - g12 * h1) * idet, (g22 * h1 - g12 * h2) * idet], 1).float()


@torch.inference_mode()
def farneback(
    prev: torch.Tensor,
    nxt: torch.Tensor,
    pyr_scale: float = DEFAULTS["pyr_scale"],
    levels: int = DEFAULTS["levels"],
    winsize: int = DEFAULTS["winsize"],
    iterations: int = DEFAULTS["iterations"],
    poly_n: int = DEFAULTS["poly_n"],
    poly_sigma: float = DEFAULTS["poly_sigma"],
    flags: int = DEFAULTS["flags"],
    initial_flow: torch.Tensor | None = None,
) -> torch.Tensor:
    """Flow from ``prev`` to ``nxt``, both ``(B, H, W)`` gray on a 0..255 scale (any
    dtype); returns ``(B, H, W, 2)`` float32 px (x then y), as ``cv2.calcOpticalFlowFarneback``
    with the same arguments. ``initial_flow`` ``(B, H, W, 2)`` is used with
    ``flags & OPTFLOW_USE_INITIAL_FLOW`` (downscaled by area averaging, which equals
    OpenCV's INTER_AREA for integer factors)."""
    if flags & ~(OPTFLOW_USE_INITIAL_FLOW | OPTFLOW_FARNEBACK_GAUSSIAN):
        raise ValueError(f"unsupported Farneback flags {flags}")
    images = [prev.float(), nxt.float()]
    b, h, w = images[0].shape
    n_levels, scale = 0, 1.0
    for n_levels in range(levels + 1):
        if n_levels == levels:
            break
        scale *= pyr_scale
        if w * scale < _MIN_SIZE or h * scale < _MIN_SIZE:
            break
    blur = _gaussian_blur if flags & OPTFLOW_FARNEBACK_GAUSSIAN else _box_blur
    flow: torch.Tensor | None = None
    for k in range(n_levels, -1, -1):
        scale = pyr_scale**k
        sigma = (1.0 / scale - 1) * 0.5
        ksize = max(round(sigma * 5) | 1, 3)
        lw, lh = round(w * scale), round(h * scale)
        if flow is None:
            if flags & OPTFLOW_USE_INITIAL_FLOW and initial_flow is not None:
                init = initial_flow.permute(0, 3, 1, 2).float()
                flow = F.interpolate(init, size=(lh, lw), mode="area") * scale
            else:
                flow = torch.zeros(b, 2, lh, lw, device=prev.device)
        else:
            flow = F.interpolate(flow, size=(lh, lw), mode="bilinear", align_corners=False)
            flow = flow / pyr_scale
        kernel = gaussian_kernel(ksize, sigma)
        R = []
        for img in images:
            smooth = _separable(img[:, None], kernel, "reflect")
            level = F.interpolate(smooth, size=(lh, lw), mode="bilinear", align_corners=False)
            R.append(poly_exp(level[:, 0], poly_n, poly_sigma))
        m = update_matrices(R[0], R[1], flow)
        for i in range(iterations):
            flow = _solve(blur(m, winsize))
            if i < iterations - 1:
                m = update_matrices(R[0], R[1], flow)
    return flow.permute(0, 2, 3, 1).contiguous()
