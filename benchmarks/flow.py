"""Optical-flow throughput at 340x256: cv2 (one process; all cores) vs the torch port.

    .venv/bin/python benchmarks/flow.py [--pairs 64] [--batches 1,8,32,64] [--tvl1-pairs 4]

A textured clip moving 2-3 px per frame, OpenCV's create() defaults. Farneback: cv2 in one
process (OpenCV's own threads), cv2 with one single-threaded process per core, and the
batched torch port on the CPU and, when present, CUDA at each batch size. TV-L1: cv2 (one
process, all cores) on ``--tvl1-pairs`` pairs; the torch port in parity, fast, and fast +
torch.compile modes, on the CPU on those pairs at one batch, on CUDA on all ``--pairs``
at every batch size. Prints pairs/s, ratios against one cv2 process, the mean endpoint
error against cv2 and, on CUDA, the peak memory.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from harfuse.flow import compute_flow

H, W = 256, 340


def clip(n: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (H + 4 * n, W + 4 * n)), (0, 0), 3)
    return np.stack([big[2 * t : 2 * t + H, 3 * t : 3 * t + W] for t in range(n)]).astype(np.uint8)


def _cv2_chunk(args: tuple[np.ndarray, str]) -> np.ndarray:
    import cv2

    cv2.setNumThreads(1)
    frames, method = args
    return compute_flow(frames, method, backend="cv2")


def timed(fn) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--tvl1-pairs", type=int, default=4, help="pairs for cv2 / torch-CPU TV-L1")
    args = parser.parse_args()
    frames = clip(args.pairs + 1)
    cores = os.cpu_count() or 1
    pairs = args.pairs
    print(
        f"{pairs} pairs at {W}x{H}; {cores} cores; torch {torch.__version__}; "
        f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}"
    )

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    batches = [int(b) for b in args.batches.split(",")]
    n = args.tvl1_pairs
    one, farneback_ref = timed(lambda: compute_flow(frames, "farneback", backend="cv2"))
    farneback_base = pairs / one
    farneback_cores = pairs / cv2_all_cores(frames, "farneback", cores)
    one, tvl1_ref = timed(lambda: compute_flow(frames[: n + 1], "tvl1", backend="cv2"))
    tvl1_base = n / one
    tvl1_cores = n / cv2_all_cores(frames[: n + 1], "tvl1", cores)

    print(f"farneback cv2, 1 process:        {farneback_base:8.1f} pairs/s  x1.00")
    print(
        f"farneback cv2, {cores} processes:      {farneback_cores:8.1f} pairs/s  "
        f"x{farneback_cores / farneback_base:.2f}"
    )
    for device in devices:
        for batch in batches:
            report(
                f"farneback torch {device:4s}", frames, farneback_ref, farneback_base, device, batch
            )
    print(f"tvl1 cv2, 1 process:             {tvl1_base:8.2f} pairs/s  x1.00 ({n} pairs)")
    print(
        f"tvl1 cv2, {cores} processes:           {tvl1_cores:8.2f} pairs/s  "
        f"x{tvl1_cores / tvl1_base:.2f}"
    )
    for device in devices:
        # on the CPU a few pairs at one batch; on CUDA all pairs at every batch size
        clip_, sizes = (frames[: n + 1], [n]) if device == "cpu" else (frames, batches)
        for name, options in (
            ("parity", {"mode": "parity"}),
            ("fast", {"mode": "fast"}),
            ("fast+compile", {"mode": "fast", "torch_compile": True}),
        ):
            for batch in sizes:
                label = f"tvl1 torch {device:4s} {name:12s}"
                report(label, clip_, tvl1_ref, tvl1_base, device, batch, method="tvl1", **options)


def cv2_all_cores(frames: np.ndarray, method: str, cores: int) -> float:
    """Seconds for cv2 on all pairs with one single-threaded process per core."""
    chunks = np.array_split(np.arange(len(frames)), cores)
    jobs = [(frames[max(c[0] - 1, 0) : c[-1] + 1], method) for c in chunks if len(c)]
    # forkserver: a child forked from a process whose OpenCV thread pool has run can hang
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context("forkserver")) as pool:
        list(pool.map(_cv2_chunk, [(frames[:2, :32, :32], method)] * cores))  # start-up
        elapsed, _ = timed(lambda: list(pool.map(_cv2_chunk, jobs)))
    return elapsed


def report(label, frames, ref, base, device, batch, method="farneback", **options) -> None:
    """Time the torch port on ``frames`` (after a warm-up that also compiles), print
    pairs/s, the ratio to ``base`` (one cv2 process) and the mean EPE against ``ref``
    (cv2 on the first ``len(ref)`` pairs); on CUDA also the peak memory."""
    run = functools.partial(
        compute_flow, method=method, backend="torch", device=device, batch_size=batch, **options
    )
    run(frames[: min(batch, len(frames) - 1) + 1])  # warm-up (and torch.compile)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    elapsed, ours = timed(lambda: run(frames))
    pairs = len(frames) - 1
    epe = float(np.linalg.norm(ours[: len(ref)] - ref, axis=-1).mean())
    memory = (
        f", peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB" if device == "cuda" else ""
    )
    print(
        f"{label} batch {batch:3d}: {pairs / elapsed:8.2f} pairs/s  x{pairs / elapsed / base:.2f}"
        f"  (mean EPE vs cv2 {epe:.1e} px{memory})"
    )


if __name__ == "__main__":
    main()
