"""Section ``graphs`` (reported under ``flow``): one whole eager flow call per batch
captured as a CUDA graph and replayed, or the reason it cannot be captured. Run last: a
capture that fails may leave the device in a bad state."""

from __future__ import annotations

import os
import statistics
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gpu_sections.flow import FLOW_METHODS, flow_frames, flow_kernel, vs_eager
from gpu_sections.runner import Check, empty_cache, error_text


class CaptureError(RuntimeError):
    """A call that a CUDA graph cannot capture: the first error, and where in harfuse."""

    def __init__(self, cause: BaseException):
        frames = traceback.extract_tb(cause.__traceback__)
        ours = [f for f in frames if f"{os.sep}harfuse{os.sep}" in f.filename]
        where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
        super().__init__(f"{error_text(cause)}{where}")


def capture(fn: Callable, prev: torch.Tensor, nxt: torch.Tensor) -> tuple[Callable, Any]:
    """``fn(prev, nxt)`` captured as a CUDA graph (warm-up on a side stream first, as
    ``torch.cuda.graph`` asks); returns ``replay() -> output`` and the graph."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fn(prev, nxt)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    first: Exception | None = None
    try:
        with torch.cuda.graph(graph):
            try:
                out = fn(prev, nxt)
            except Exception as exc:  # the cause; ending the capture then raises another
                first = exc
                raise
    except Exception as exc:
        raise CaptureError(first or exc) from exc

    def replay() -> torch.Tensor:
        graph.replay()
        return out

    return replay, graph


def run(check: Check, deadline: float) -> None:
    """One whole eager call per batch captured as a CUDA graph and replayed; a method
    whose call cannot be captured is reported with the reason, once."""
    if not check.cuda:
        for mi, method in enumerate(FLOW_METHODS):
            check.add("graphs", f"{method} cuda graph", "skipped: no CUDA", key=(mi, 1e9, 2))
        return
    frames = flow_frames(check)
    h, w = check.sizes.flow_hw
    for mi, method in enumerate(FLOW_METHODS):
        fn = flow_kernel(check, method, compiled=False)
        failed = ""
        for b in check.sizes.flow_batches:
            key = (mi, b, 2)
            setting = f"{method} cuda graph batch {b}"
            if failed:
                check.add("graphs", setting, "not capturable", notes=f"as batch {failed}", key=key)
                continue
            if time.monotonic() > deadline:
                check.add("graphs", setting, "skipped: budget", key=key)
                continue
            prev, nxt = frames[:b], frames[1 : b + 1]
            check.reset_peak()
            try:
                replay, graph = capture(fn, prev, nxt)
            except Exception as exc:
                failed = str(b)
                reason = str(exc) if isinstance(exc, CaptureError) else error_text(exc)
                check.add("graphs", setting, "not capturable", notes=reason, key=key)
                traceback.print_exc()
                empty_cache(check)
                continue
            try:
                _, times = check.timed(replay, deadline)
                same = torch.equal(replay(), fn(prev, nxt))
            except Exception as exc:
                check.add("graphs", setting, "error", notes=error_text(exc), key=key)
                del graph
                empty_cache(check)
                continue
            rate = b / statistics.median(times)
            vs = vs_eager(check, mi, b, rate)
            check.add(
                "graphs",
                setting,
                f"{rate:.1f}",
                unit="pairs/s",
                vs=vs,
                peak_mib=check.peak(),
                notes=f"{w}x{h}; median of {len(times)}; replay == eager: {same}",
                key=key,
            )
            del graph, replay
            empty_cache(check)
