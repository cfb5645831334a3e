"""Optical-flow throughput at 340x256: cv2 (one process; all cores) vs the torch port.

    .venv/bin/python benchmarks/flow.py [--pairs 64] [--batches 1,8,32,64]

Farneback with OpenCV's create() defaults on a textured clip moving 1-3 px per frame:
cv2 in one process (OpenCV's own threads), cv2 with one process per core, and the
batched torch port on the CPU and, when present, on CUDA, at each batch size. TV-L1 is
timed on a few pairs for cv2 and the torch port (parity and fast modes). Prints pairs/s
and ratios against one cv2 process, plus the torch-vs-cv2 mean endpoint error.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--tvl1-pairs", type=int, default=4)
    args = parser.parse_args()
    frames = clip(args.pairs + 1)
    cores = os.cpu_count() or 1
    pairs = args.pairs
    print(
        f"{pairs} pairs at {W}x{H}; {cores} cores; torch {torch.__version__}; "
        f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}"
    )

    one, ref = timed(lambda: compute_flow(frames, "farneback", backend="cv2"))
    base = pairs / one
    print(f"farneback cv2, 1 process:        {base:8.1f} pairs/s  x1.00")
    chunks = np.array_split(np.arange(pairs + 1), cores)
    jobs = [(frames[max(c[0] - 1, 0) : c[-1] + 1], "farneback") for c in chunks]
    with ProcessPoolExecutor(cores) as pool:
        elapsed, _ = timed(lambda: list(pool.map(_cv2_chunk, jobs)))
    print(
        f"farneback cv2, {cores} processes:      {pairs / elapsed:8.1f} pairs/s  "
        f"x{pairs / elapsed / base:.2f}"
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for batch in (int(b) for b in args.batches.split(",")):
            compute_flow(frames[:3], backend="torch", device=device)  # warm-up
            if device == "cuda":
                torch.cuda.synchronize()
            elapsed, ours = timed(
                lambda d=device, b=batch: compute_flow(
                    frames, "farneback", backend="torch", device=d, batch_size=b
                )
            )
            epe = float(np.linalg.norm(ours - ref, axis=-1).mean())
            print(
                f"farneback torch {device:4s} batch {batch:3d}: {pairs / elapsed:8.1f} pairs/s  "
                f"x{pairs / elapsed / base:.2f}  (mean EPE vs cv2 {epe:.1e} px)"
            )
    n = args.tvl1_pairs
    elapsed, ref = timed(lambda: compute_flow(frames[: n + 1], "tvl1", backend="cv2"))
    base = n / elapsed
    print(f"tvl1 cv2, 1 process:             {base:8.2f} pairs/s  x1.00 ({n} pairs)")
    for device in devices:
        for mode in ("parity", "fast"):
            elapsed, ours = timed(
                lambda d=device, m=mode: compute_flow(
                    frames[: n + 1], "tvl1", backend="torch", device=d, batch_size=n, mode=m
                )
            )
            epe = float(np.linalg.norm(ours - ref, axis=-1).mean())
            print(
                f"tvl1 torch {device:4s} {mode:6s} batch {n:3d}: {n / elapsed:8.2f} pairs/s  "
                f"x{n / elapsed / base:.2f}  (mean EPE vs cv2 {epe:.1e} px)"
            )


if __name__ == "__main__":
    main()
