"""TV-L1 dense optical flow in PyTorch, batched over frame pairs, on CPU or CUDA.

A port of OpenCV's CPU ``cv::optflow::DualTVL1OpticalFlow`` (opencv_contrib
``tvl1flow.cpp``, with its 5x5 median filter and early stopping), step by step in
that file's order. Each pair stops on its own convergence test (an
``active`` mask), so a batch gives what cv2 gives pair by pair.

Every step follows the arithmetic cv2 5.1 runs on an x86 CPU with FMA3
(``benchmarks/opencv_pin.py``): OpenCV's float32
operation order in the iteration (constants rounded to float, the ``rho`` and divergence
associations, ``hypot`` in float64), the IPP kernel behind ``cv::resize`` (float64
coordinates, ``a + (b − a)·t`` as a fused multiply-add; 5.1's 2x2 mean for an exact
half) and OpenCV 5's bicubic ``remap``
(factored Keys weights, fused multiply-adds along x, then along y). TV-L1 with OpenCV's
defaults is ill-conditioned (cv2 moves by 1e-3 to 5e-2 px mean when its input moves by
1e-4 grey levels), so near-parity needs this: in ``parity`` mode the port gives cv2's flow
bit for bit on nearly every pair (``benchmarks/flow_parity.py``).

Two modes (``flow.mode``):

* ``parity`` does that arithmetic (float64 emulation of the fused multiply-adds, ``hypot``
  and the error sum included) and asks the device after every iteration whether a pair is
  still active, ending the warp once none is. OpenCV stops on a sequential float32 sum,
  which has no batched form: the loop sums in float64 and redoes the float32 sum on the
  host for the rare pair whose float64 sum lies within rounding of the threshold (on a
  real clip about 1.3 % of parity's time). Use it where cv2's bits must be guaranteed (the
  parity tests, codes compared with a cv2-made dataset); on CUDA each iteration then
  waits for the device, and a call cannot be captured in a CUDA graph.
* ``fast`` runs the warp and the iteration in float32 arithmetic: float32 multiply-adds in
  the bicubic warp, float32 ``hypot`` and a float32 error sum (the pyramid and the flow
  upscaling, once per level, are parity's). Its stopping rule is OpenCV's, kept on the
  device: a pair whose error falls below ε²·H·W stops (its u and p stay as they are), but
  the loop does not ask whether any pair is left, so every warp runs
  ``outer_iterations × inner_iterations`` masked iterations. Nothing in a call waits for
  the device and the shapes are fixed per pyramid level, so ``torch.compile`` fuses the
  iteration and a whole call can be captured in a CUDA graph. On the CPU it gives cv2's
  bits on as many pairs as ``parity`` (float32 ``hypot`` and sum seldom flip a decision);
  where float32 rounds otherwise, TV-L1 can amplify that to cv2's own noise floor, no
  further (``benchmarks/flow_parity.py``).

The price of ``fast`` is its budget: 300 iterations per warp with OpenCV's defaults, where
most pairs converge in 20-60. A batch waits for its slowest pair in every warp, so a batch
holding a pair that never meets ε (1 pair in 40 of a street clip, 0 in 40 of two other
clips) runs the full budget in either mode, and one whose pairs all converge does up to
~10x less work with early stopping (batches of 8-16 pairs of those clips ran 610-1150 of
the 7500 iterations per call, all 7500 where the street clip's pair was in).
``check_every`` trades the two: it asks the device whether any pair is left every so many
iterations (a host sync each time) and ends the warp once none is, with the same flow bit
for bit, since the iterations it skips leave every pair as it is. By default ``fast``
asks after every iteration on the CPU, where asking costs nothing, and never on other
devices.

On a CPU shared with other jobs, run the torch port with one thread
(``torch.set_num_threads(1)``): its thousands of small operations each wait for every
intra-op thread, and a thread that has lost its core stalls them all (4 pairs of a street
clip at 160x96 took 4.6-5.2 s with one thread and 9.6-51 s with two on a loaded 2-core
machine, in either mode).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from harfuse.flow.defaults import TVL1_DEFAULTS as DEFAULTS

MODES = ("parity", "fast")
_MIN_SIZE = 16  # a pyramid level smaller than this is not used, px
_FLT_EPSILON = 1.1920929e-07


def _f32(value: float) -> float:
    """``value`` rounded to float32, as OpenCV stores its constants (``static_cast<float>``)."""
    return float(np.float32(value))


def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Float32 ``a·b + c`` rounded once, as a fused multiply-add: the float32 product is
    exact in float64, so only the sum rounds (twice, float64 then float32, which differs
    from one rounding only on exact float32 ties)."""
    return torch.addcmul(c.double(), a.double(), b.double()).float()


def _mul_add(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Float32 ``a·b + c`` as the device computes it (fused or not): :func:`_fma` without
    the float64 emulation."""
    return torch.addcmul(c, a, b)


def _linear_taps(n_src: int, n_dst: int, scale: float, device) -> tuple:
    """Source indices and float32 fractions of ``cv::resize(INTER_LINEAR)`` along one axis, as
    the IPP kernel that OpenCV's x86 wheels run computes them: source coordinate
    ``(dst + 0.5)·scale − 0.5`` in float64, clamped below at 0. Shrinking, it is also
    clamped to ``n_src − 1`` and the last interval interpolated with fraction up to 1;
    enlarging, a coordinate past ``n_src − 1`` takes the last sample."""
    dst = torch.arange(n_dst, dtype=torch.float64, device=device)
    pos = ((dst + 0.5) * scale - 0.5).clamp_min(0)
    if n_dst < n_src:
        pos = pos.clamp_max(n_src - 1)
        first = torch.floor(pos).clamp_max(n_src - 2)
        frac = pos - first
    else:
        first = torch.floor(pos)
        frac = torch.where(first >= n_src - 1, 0.0, pos - first)
        first = first.clamp_max(n_src - 1)
    first = first.long()
    return first, (first + 1).clamp_max(n_src - 1), frac.float()


def _resize(img: torch.Tensor, size: tuple[int, int], scale: tuple[float, float]) -> torch.Tensor:
    """``cv::resize(..., INTER_LINEAR)`` of ``(B, C, h, w)`` float32 to ``size`` (h, w), with
    ``scale`` = source px per destination px (y, x) as OpenCV computes it: a horizontal
    pass, then a vertical one, each ``a + (b − a)·t`` as a fused multiply-add in float32
    (bit-exact with the IPP path of cv2 on an FMA CPU)."""
    (h, w), (nh, nw) = img.shape[-2:], size
    x0, x1, tx = _linear_taps(w, nw, scale[1], img.device)
    y0, y1, ty = _linear_taps(h, nh, scale[0], img.device)
    left = img[..., x0]
    rows = _fma(img[..., x1] - left, tx, left)
    top = rows[..., y0, :]
    return _fma(rows[..., y1, :] - top, ty[:, None], top)


def _downscale(img: torch.Tensor, factor: float) -> torch.Tensor:
    """``cv::resize(img, Size(), factor, factor, INTER_LINEAR)``: size ``round(n·factor)``.

    OpenCV 5.1 shrinks by exactly one half on both axes (even sizes) as the mean of each
    2x2 block, ``((a + b) + (c + d))·0.25`` in float32 with ``a, b`` the upper row; other
    factors go through the linear kernel of ``_resize``."""
    h, w = img.shape[-2:]
    nh, nw = round(h * factor), round(w * factor)
    if (2 * nh, 2 * nw) == (h, w):
        top = img[..., 0::2, 0::2] + img[..., 0::2, 1::2]
        return (top + (img[..., 1::2, 0::2] + img[..., 1::2, 1::2])) * 0.25
    return _resize(img, (nh, nw), (1 / factor, 1 / factor))


def _upscale(u: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``cv::resize(u, u_fine, size, 0, 0, INTER_LINEAR)`` (the scale is ``1 / (dst/src)``)."""
    h, w = u.shape[-2:]
    return _resize(u, size, (1 / (size[0] / h), 1 / (size[1] / w)))


_CUBIC_A = -0.75


def _cubic_weights(t: torch.Tensor, exact: bool = True) -> tuple[torch.Tensor, ...]:
    """Keys cubic weights (a = −0.75) of the 4 taps at −1, 0, 1, 2 for the float32 fraction
    ``t``, in the factored float32 form of OpenCV 5's remap kernel: the outer taps as
    ``a·t·(1 − t)²`` and ``a·t²·(1 − t)``, the tap at 0 by two multiply-adds (fused as
    OpenCV's with ``exact``, else as float32 arithmetic gives them), the tap at 1 as the
    rest of 1."""
    mul_add = _fma if exact else _mul_add
    t2 = t * t
    rest = 1 - t
    w0 = _CUBIC_A * (t * (rest * rest))
    w3 = _CUBIC_A * (t2 * rest)
    slope = mul_add(torch.full_like(t, _CUBIC_A + 2), t, torch.full_like(t, -(_CUBIC_A + 3)))
    w1 = mul_add(t2, slope, torch.ones_like(t))
    return w0, w1, ((1 - w0) - w1) - w3, w3


def _warp_bicubic(
    img: torch.Tensor, x: torch.Tensor, y: torch.Tensor, exact: bool = True
) -> torch.Tensor:
    """``cv::remap(img, x, y, INTER_CUBIC)`` with the default zero border: ``img``
    ``(B, C, h, w)`` sampled at pixel coordinates ``x``, ``y`` ``(B, H, W)``.

    An explicit 16-tap gather in pixel units in OpenCV 5's order: each row of 4 taps summed
    with multiply-adds along x, then the rows along y. With ``exact`` they are fused as
    OpenCV's (bit-exact with cv2 on an FMA CPU), else float32 multiply-adds (within a few
    ulp). ``grid_sample`` would normalise the coordinates to [−1, 1] and back, ~1e-5 px
    off, which TV-L1 turns into flow differences as large as cv2's noise floor."""
    mul_add = _fma if exact else _mul_add
    b, c, h, w = img.shape
    left, top = torch.floor(x), torch.floor(y)
    wx, wy = _cubic_weights(x - left, exact), _cubic_weights(y - top, exact)
    left, top = left.long() - 1, top.long() - 1
    flat = img.reshape(b, c, h * w)
    out = None
    for i in range(4):
        yy = top + i
        row = None
        for j in range(4):
            xx = left + j
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            index = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).reshape(b, 1, -1)
            taps = flat.gather(2, index.expand(b, c, -1)).reshape(b, c, *x.shape[1:])
            taps = taps * inside[:, None]
            weight = wx[j][:, None].expand_as(taps)
            row = taps * weight if row is None else mul_add(taps, weight, row)
        weight = wy[i][:, None].expand_as(row)
        out = row * weight if out is None else mul_add(row, weight, out)
    return out


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
    """Backward differences with zero padding on the left and top, summed in OpenCV's order
    (the first column as ``(px + py) − py_above``)."""
    py_above = F.pad(py[..., :-1, :], (0, 0, 1, 0))
    body = (px[..., 1:] - px[..., :-1]) + (py[..., 1:] - py_above[..., 1:])
    first = (px[..., :1] + py[..., :1]) - py_above[..., :1]
    return torch.cat([first, body], dim=-1)


def _median5(u: torch.Tensor) -> torch.Tensor:
    """5x5 median with replicate border, ``(B, 1, H, W)``."""
    b, _, h, w = u.shape
    patches = F.unfold(F.pad(u, (2, 2, 2, 2), mode="replicate"), 5)  # (B, 25, H*W)
    return patches.median(dim=1).values.reshape(b, 1, h, w)


def _change(d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """The float32 terms ``d1² + d2²`` of OpenCV's stopping error, ``(B, H·W)`` in row-major
    order, from the changes ``d1``, ``d2`` ``(B, 1, H, W)`` of u1 and u2."""
    return (d1 * d1 + d2 * d2).reshape(d1.shape[0], -1)


def _error(d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """Σ |u_new − u_old|² per pair, ``(B, 1, 1, 1)`` float64, summed in float64 (within
    ~1e-11 of the exact sum). OpenCV's CPU ``estimateU`` adds the terms one by one into a
    float, which has no batched form; :func:`_settle_near_threshold` redoes that sum where
    the two can fall on different sides of the threshold."""
    return _change(d1, d2).double().sum(dim=1).reshape(-1, 1, 1, 1)


def _settle_near_threshold(
    was_active: torch.Tensor,
    active: torch.Tensor,
    error: torch.Tensor,
    old: tuple[torch.Tensor, torch.Tensor],
    new: tuple[torch.Tensor, torch.Tensor],
    scaled_eps: float,
) -> torch.Tensor:
    """The stopping decisions ``active`` ``(B, 1, 1, 1)`` as OpenCV takes them, from its
    sequential float32 sum. A sequential float sum of n non-negative terms is within
    γ = n·u / (1 − n·u) (u = 2⁻²⁴) of the exact sum relative to it, so only a pair whose
    float64 ``error`` lies that close to ``scaled_eps`` can decide otherwise; for those
    (rare) pairs the terms are summed one by one on the host. ``old`` / ``new`` are
    (u1, u2) before and after the iteration."""
    n = old[0][0].numel()
    gamma = 1.01 * n * 2.0**-24 / (1 - n * 2.0**-24)
    near = was_active & ((error - scaled_eps).abs() <= gamma * error)
    if not bool(near.any()):
        return active
    active = active.clone()
    for i in torch.nonzero(near.flatten()).flatten().tolist():
        pair = slice(i, i + 1)
        terms = _change(new[0][pair] - old[0][pair], new[1][pair] - old[1][pair])
        total = np.add.accumulate(terms.flatten().cpu().numpy(), dtype=np.float32)[-1]
        active[i] = bool(total > np.float32(scaled_eps))
    return active


def _hypot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``static_cast<float>(hypot(x, y))`` as OpenCV computes it: in float64, then rounded.
    Float32 ``torch.hypot`` is off by one ulp on ~1e-7 of inputs on the CPU (and CUDA's
    ``hypotf`` by up to 3 ulp), enough to move TV-L1's flow now and then."""
    return torch.hypot(x.double(), y.double()).float()


def _iteration(
    state: tuple, warped: tuple, constants: tuple, exact: bool = True
) -> tuple[tuple, torch.Tensor]:
    """One inner iteration for a batch: the threshold step (v), the primal step (u), the
    dual step (p) and the per-pair convergence test, in OpenCV's float32 order.

    ``state`` is ``(u1, u2, p11, p12, p21, p22, active)``, each ``(B, 1, H, W)`` but
    ``active`` ``(B, 1, 1, 1)`` bool (a pair that has converged keeps its state);
    ``warped`` is ``(I1wx, I1wy, grad, rho_c)`` of the current warp; ``constants`` is
    ``(λθ, τ/θ, θ, ε²·H·W)`` as float32 values. ``exact`` takes ``hypot`` and the stopping
    error in float64 as OpenCV does (``parity``); otherwise everything is float32
    (``fast``). Returns the new state and the stopping error ``(B, 1, 1, 1)`` (float64 with
    ``exact``, see :func:`_error`; else float32). No host synchronisation either way."""
    u1, u2, p11, p12, p21, p22, active = state
    i1wx, i1wy, grad, rho_c = warped
    l_t, taut, theta, scaled_eps = constants
    rho = rho_c + (i1wx * u1 + i1wy * u2)
    fi = torch.where(grad > _FLT_EPSILON, -rho / grad.clamp_min(_FLT_EPSILON), 0.0)
    below, above = rho < -l_t * grad, rho > l_t * grad
    d1 = torch.where(below, l_t * i1wx, torch.where(above, -l_t * i1wx, fi * i1wx))
    d2 = torch.where(below, l_t * i1wy, torch.where(above, -l_t * i1wy, fi * i1wy))
    new1 = (u1 + d1) + theta * _divergence(p11, p12)
    new2 = (u2 + d2) + theta * _divergence(p21, p22)
    if exact:
        error = _error(new1 - u1, new2 - u2)
    else:
        change1, change2 = new1 - u1, new2 - u2
        error = (change1 * change1 + change2 * change2).sum(dim=(1, 2, 3), keepdim=True)
    norm = _hypot if exact else torch.hypot
    u1 = torch.where(active, new1, u1)
    u2 = torch.where(active, new2, u2)
    u1x, u1y = _forward_gradient(u1)
    u2x, u2y = _forward_gradient(u2)
    ng1 = 1 + taut * norm(u1x, u1y)
    ng2 = 1 + taut * norm(u2x, u2y)
    p11 = torch.where(active, (p11 + taut * u1x) / ng1, p11)
    p12 = torch.where(active, (p12 + taut * u1y) / ng1, p12)
    p21 = torch.where(active, (p21 + taut * u2x) / ng2, p21)
    p22 = torch.where(active, (p22 + taut * u2y) / ng2, p22)
    return (u1, u2, p11, p12, p21, p22, active & (error > scaled_eps)), error


@functools.cache
def _compiled_iteration():
    """:func:`_iteration` through ``torch.compile`` (dynamic shapes: a compilation or two
    per mode serve every pyramid level and batch size). Fuses the ~40 elementwise kernels of
    an iteration; in ``parity`` mode bit-identical to eager on the CPU
    (``tests/test_flow_torch.py``)."""
    return torch.compile(_iteration, dynamic=True, fullgraph=True)


def _one_scale(
    i0: torch.Tensor,
    i1: torch.Tensor,
    u1: torch.Tensor,
    u2: torch.Tensor,
    p: dict,
    exact: bool,
    check_every: int,
    iteration=_iteration,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``procOneScale`` for a batch: ``i0``, ``i1`` ``(B, 1, H, W)`` one pyramid level on a
    0..255 scale, ``u1``, ``u2`` ``(B, 1, H, W)`` the flow (px) from the coarser level;
    returns the refined flow. ``exact`` is ``parity`` mode; every ``check_every``
    iterations (a host sync) the warp ends if no pair is active; with 0 every warp runs
    ``outer_iterations × inner_iterations`` iterations, masked per pair."""
    b, _, h, w = i0.shape
    constants = (
        _f32(p["lambda_"] * p["theta"]),
        _f32(p["tau"] / p["theta"]),
        _f32(p["theta"]),
        _f32(p["epsilon"] ** 2 * h * w),
    )
    i1x, i1y = _centred_gradient(i1)
    stack = torch.cat([i1, i1x, i1y], 1)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=i0.device, dtype=torch.float32),
        torch.arange(w, device=i0.device, dtype=torch.float32),
        indexing="ij",
    )
    p11, p12, p21, p22 = (torch.zeros_like(u1) for _ in range(4))
    for _ in range(p["warps"]):
        warped = _warp_bicubic(stack, xs + u1[:, 0], ys + u2[:, 0], exact)
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
                old, was_active = (u1, u2), active
                (u1, u2, p11, p12, p21, p22, active), error = iteration(
                    (u1, u2, p11, p12, p21, p22, active),
                    (i1wx, i1wy, grad, rho_c),
                    constants,
                    exact,
                )
                if exact:
                    active = _settle_near_threshold(
                        was_active, active, error, old, (u1, u2), constants[3]
                    )
                step += 1
                if check_every and step % check_every == 0 and not bool(active.any()):
                    break
            else:
                continue
            break
    return u1, u2


@torch.inference_mode()
def tvl1(
    prev: torch.Tensor,
    nxt: torch.Tensor,
    mode: str = "parity",
    torch_compile: bool = False,
    check_every: int | None = None,
    **params,
) -> torch.Tensor:
    """Flow from ``prev`` to ``nxt``, both ``(B, H, W)`` gray on a 0..255 scale; returns
    ``(B, H, W, 2)`` float32 px (x then y). ``params`` override :data:`DEFAULTS` (OpenCV's,
    with ``lambda_``, ``inner_iterations``, ``outer_iterations``, ``scale_step``,
    ``median_filtering`` spelled in snake case); ``gamma`` and an initial flow are not
    supported. ``torch_compile`` runs the inner iteration through ``torch.compile`` (the first
    call compiles, ~10-30 s; needs a C++ compiler on the CPU, Triton on CUDA).

    ``check_every`` (``fast`` mode; ``parity`` asks after every iteration): every so many
    iterations ask the device whether any pair is still active and end the warp if none
    is; 0 never asks, so the call never waits for the device and can be captured in a CUDA
    graph. None: 1 on the CPU, 0 elsewhere. The flow is the same for every value."""
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
    iteration = _compiled_iteration() if torch_compile else _iteration
    exact = mode == "parity"
    if check_every is None:
        check_every = 1 if prev.device.type == "cpu" else 0
    if check_every < 0:
        raise ValueError(f"check_every must be >= 0 (0: never), got {check_every}")
    if exact:
        check_every = 1
    coarsest = pyramids[0][-1]
    u1 = torch.zeros_like(coarsest)
    u2 = torch.zeros_like(coarsest)
    for s in range(len(pyramids[0]) - 1, -1, -1):
        level = (pyramids[0][s], pyramids[1][s])
        u1, u2 = _one_scale(*level, u1, u2, p, exact, check_every, iteration)
        if s > 0:
            size = pyramids[0][s - 1].shape[-2:]
            u1 = _upscale(u1, size) * _f32(1 / p["scale_step"])
            u2 = _upscale(u2, size) * _f32(1 / p["scale_step"])
    return torch.cat([u1, u2], 1).permute(0, 2, 3, 1).contiguous()
