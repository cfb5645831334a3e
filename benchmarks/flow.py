"""Optical-flow throughput at 340x256: cv2 (one process; all cores) vs the torch port.

    .venv/bin/python benchmarks/flow.py [--pairs 64] [--batches 1,8,32,64] [--tvl1-pairs 4]
                                        [--rounds 3]

A textured clip moving 2-3 px per frame, OpenCV's create() defaults. Farneback: cv2 in one
process (OpenCV's own threads), cv2 with one single-threaded process per core, and the
batched torch port on the CPU and, when present, CUDA at each batch size. TV-L1: cv2 (one
process, all cores) on ``--tvl1-pairs`` pairs; the torch port in parity, fast, and fast +
torch.compile modes, on the CPU on those pairs at one batch, on CUDA on all ``--pairs``
at every batch size. Every contender of a method runs in turn, ``--rounds`` times
(after one warm-up each, which also compiles); prints pairs/s at the median round, the
ratio against one cv2 process as the median over rounds with its min and max, the mean
endpoint error against cv2 and, on CUDA, each contender's peak memory.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from harfuse.environment import describe
from harfuse.flow import compute_flow
from harfuse.timing import Ratio, interleaved, rate

H, W = 256, 340
TVL1_MODES = {
    "parity": {"mode": "parity"},
    "fast": {"mode": "fast"},
    "fast+compile": {"mode": "fast", "torch_compile": True},
}


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


def cv2_all_cores(pool: ProcessPoolExecutor, frames: np.ndarray, method: str, cores: int):
    """cv2 on all pairs of ``frames`` with one single-threaded process per core."""
    chunks = np.array_split(np.arange(len(frames)), cores)
    jobs = [(frames[max(c[0] - 1, 0) : c[-1] + 1], method) for c in chunks if len(c)]
    return list(pool.map(_cv2_chunk, jobs))


def torch_run(frames: np.ndarray, method: str, device: str, batch: int, **options) -> Callable:
    """The torch port on ``frames`` as a callable returning the flow (synchronised on
    CUDA), after a warm-up on one batch (which also compiles)."""
    run = functools.partial(
        compute_flow, method=method, backend="torch", device=device, batch_size=batch, **options
    )
    run(frames[: min(batch, len(frames) - 1) + 1])

    peaks: list[float] = []

    def timed_call() -> np.ndarray:
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        out = run(frames)
        if device == "cuda":
            torch.cuda.synchronize()
            peaks.append(torch.cuda.max_memory_allocated() / 2**20)
        return out

    timed_call.peaks_mib = peaks  # type: ignore[attr-defined]
    return timed_call


def compare(
    method: str,
    pairs: int,
    base: Callable,
    contenders: dict[str, tuple[Callable, int]],
    rounds: int,
) -> None:
    """Interleave ``base`` (one cv2 process on ``pairs`` pairs) with ``contenders``
    ({name: (callable, pairs it computes)}); print pairs/s, the pairs/s ratio to ``base``
    and, for torch contenders, the mean EPE against cv2 and the peak CUDA memory."""
    ref = base()
    flows: dict[str, np.ndarray] = {}

    def keep(name: str, fn: Callable) -> Callable:
        return lambda: flows.__setitem__(name, fn())

    seconds = interleaved(
        {"cv2": base, **{n: keep(n, fn) for n, (fn, _) in contenders.items()}}, rounds
    )
    print(f"{method} cv2, 1 process: {rate(pairs, seconds['cv2']):8.2f} pairs/s  x1.00")
    for name, (_, count) in contenders.items():
        flow = flows[name]
        ratio = Ratio.of([s * count for s in seconds["cv2"]], [s * pairs for s in seconds[name]])
        line = f"{method} {name}: {rate(count, seconds[name]):8.2f} pairs/s  x{ratio}"
        if isinstance(flow, np.ndarray) and flow.ndim == 4:
            epe = float(np.linalg.norm(flow[: len(ref)] - ref, axis=-1).mean())
            line += f"  (mean EPE vs cv2 {epe:.1e} px)"
        peaks = getattr(contenders[name][0], "peaks_mib", [])
        if peaks:
            line += f", peak CUDA memory {max(peaks):.0f} MiB"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--tvl1-pairs", type=int, default=4, help="pairs for cv2 / torch-CPU TV-L1")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    args = parser.parse_args()
    frames = clip(args.pairs + 1)
    cores = len(os.sched_getaffinity(0))
    cuda = torch.cuda.is_available()
    print(describe())
    print(
        f"{args.pairs} pairs at {W}x{H}; {cores} cores; "
        f"CUDA: {torch.cuda.get_device_name() if cuda else 'none'}; {args.rounds} rounds"
    )
    devices = ["cpu"] + (["cuda"] if cuda else [])
    batches = [int(b) for b in args.batches.split(",")]
    n = args.tvl1_pairs
    # forkserver: a child forked from a process whose OpenCV thread pool has run can hang
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(cores, mp_context=context) as pool:
        list(pool.map(_cv2_chunk, [(frames[:2, :32, :32], "farneback")] * cores))  # start-up

        contenders: dict[str, tuple[Callable, int]] = {
            f"cv2, {cores} processes": (
                lambda: cv2_all_cores(pool, frames, "farneback", cores),
                args.pairs,
            )
        }
        for device in devices:
            for batch in batches:
                contenders[f"torch {device} batch {batch}"] = (
                    torch_run(frames, "farneback", device, batch),
                    args.pairs,
                )
        compare(
            "farneback",
            args.pairs,
            lambda: compute_flow(frames, "farneback", backend="cv2"),
            contenders,
            args.rounds,
        )

        few = frames[: n + 1]
        contenders = {
            f"cv2, {cores} processes": (lambda: cv2_all_cores(pool, few, "tvl1", cores), n)
        }
        for device in devices:
            # on the CPU a few pairs at one batch; on CUDA all pairs at every batch size
            clip_, sizes = (few, [n]) if device == "cpu" else (frames, batches)
            for name, options in TVL1_MODES.items():
                for batch in sizes:
                    contenders[f"torch {device} {name} batch {batch}"] = (
                        torch_run(clip_, "tvl1", device, batch, **options),
                        len(clip_) - 1,
                    )
        compare(
            "tvl1",
            n,
            lambda: compute_flow(few, "tvl1", backend="cv2"),
            contenders,
            args.rounds,
        )


if __name__ == "__main__":
    main()
