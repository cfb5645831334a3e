"""Section ``flow``: pairs/s of the torch flow ports at 340x256 (Farneback; TV-L1 in
``fast`` mode) on device-resident frames at each batch size, eager and ``torch.compile``
(TV-L1: the project's ``flow.torch_compile``; Farneback: the whole call)."""

from __future__ import annotations

import contextlib
import functools
import statistics
import time
from collections.abc import Callable, Iterator

import torch

from gpu_sections.runner import Check, empty_cache, error_text, moving_texture

FLOW_METHODS = ("farneback", "tvl1 fast")
FLOW_VARIANTS = ("eager", "compile", "cuda graph")
#: the order the flow section measures in: the whole-call compile of Farneback (no project
#: option; its unrolled levels and iterations compile slowly) last
FLOW_RUNS = (
    ("farneback", "eager"),
    ("tvl1 fast", "eager"),
    ("tvl1 fast", "compile"),
    ("farneback", "compile"),
)


def flow_kernel(check: Check, method: str, compiled: bool) -> Callable:
    """``fn(prev, nxt) -> (B, H, W, 2)`` flow of ``method`` (``farneback`` or ``tvl1
    fast``) on device tensors ``(B, H, W)``."""
    from harfuse.flow.farneback_torch import farneback
    from harfuse.flow.tvl1_torch import tvl1

    if method == "farneback":
        params = check.sizes.farneback
        run = compiled_farneback(check.sizes.compile_backend) if compiled else farneback
        return lambda prev, nxt: run(prev, nxt, **params)
    params = check.sizes.tvl1
    return lambda prev, nxt: tvl1(prev, nxt, mode="fast", torch_compile=compiled, **params)


@functools.cache
def compiled_farneback(backend: str) -> Callable:
    from harfuse.flow.farneback_torch import farneback

    return torch.compile(farneback, backend=backend)


@contextlib.contextmanager
def tvl1_compile_backend(backend: str) -> Iterator[None]:
    """``flow.torch_compile`` with ``backend`` instead of inductor (the tiny dry run: the
    iteration is traced by dynamo, nothing is code-generated, which takes ~30 s on a CPU)."""
    from harfuse.flow import tvl1_torch

    if backend == "inductor":
        yield
        return
    original = tvl1_torch._compiled_iteration
    tvl1_torch._compiled_iteration = functools.cache(
        lambda: torch.compile(tvl1_torch._iteration, backend=backend, dynamic=True, fullgraph=True)
    )
    try:
        yield
    finally:
        tvl1_torch._compiled_iteration = original


def flow_frames(check: Check) -> torch.Tensor:
    h, w = check.sizes.flow_hw
    n = max(check.sizes.flow_batches) + 1
    return torch.from_numpy(moving_texture(n, h, w)).to(check.device)


def vs_eager(check: Check, method_index: int, batch: int, rate: float) -> str:
    """``"x{ratio} vs eager"``: ``rate`` (pairs/s) against the flow section's eager row of
    the method and batch, or "" when that row has no figure."""
    eager = [
        r
        for r in check.rows
        if r.section == "flow" and r.key == (method_index, batch, 0) and r.unit
    ]
    return f"x{rate / float(eager[0].value):.2f} vs eager" if eager else ""


def run(check: Check, deadline: float) -> None:
    """Eager and compiled pairs/s of both ports at every batch size."""
    frames = flow_frames(check)
    h, w = check.sizes.flow_hw
    for method, variant in FLOW_RUNS:
        mi = FLOW_METHODS.index(method)
        per_pair = 0.0
        fn = flow_kernel(check, method, compiled=variant == "compile")
        for b in check.sizes.flow_batches:
            key = (mi, b, FLOW_VARIANTS.index(variant))
            setting = f"{method} {variant} batch {b}"
            guess = per_pair * b * (1 + check.repeats)
            if variant == "compile" and not per_pair:
                guess = check.sizes.min_compile_s  # the first call compiles
            if time.monotonic() + guess > deadline:
                check.add("flow", setting, "skipped: budget", key=key)
                continue
            prev, nxt = frames[:b], frames[1 : b + 1]
            check.reset_peak()
            try:
                warm, times = check.timed(lambda fn=fn, p=prev, n=nxt: fn(p, n), deadline)
            except Exception as exc:
                check.add("flow", setting, "error", notes=error_text(exc), key=key)
                empty_cache(check)
                continue
            per_pair = statistics.median(times) / b
            check.per_pair[method, variant, b] = per_pair
            rate = b / statistics.median(times)
            vs = vs_eager(check, mi, b, rate) if variant != "eager" else ""
            check.add(
                "flow",
                setting,
                f"{rate:.1f}",
                unit="pairs/s",
                vs=vs,
                peak_mib=check.peak(),
                notes=f"{w}x{h}; median of {len(times)}; first call {warm:.1f} s",
                key=key,
            )
    del frames
    empty_cache(check)
