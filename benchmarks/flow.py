"""Optical-flow throughput at 340x256: cv2 (one process; all cores) vs the torch port;
with ``--compute null``, the rate at which the flow stage's feed hands frames over.

    .venv/bin/python benchmarks/flow.py [--pairs 64] [--batches 1,8,32,64] [--tvl1-pairs 4]
                                        [--rounds 3]
    .venv/bin/python benchmarks/flow.py --compute null [--sizes 64x64,340x256]
                                        [--samples 24] [--frames 16] [--workers 1,2]

A textured clip moving 2-3 px per frame, OpenCV's create() defaults. Farneback: cv2 in one
process (OpenCV's own threads), cv2 with one single-threaded process per core, and the
batched torch port on the CPU and, when present, CUDA at each batch size. TV-L1: cv2 (one
process, all cores) on ``--tvl1-pairs`` pairs; the torch port in parity, fast, and fast +
torch.compile modes, on the CPU on those pairs at one batch, on CUDA on all ``--pairs``
at every batch size. Every contender of a method runs in turn, ``--rounds`` times
(after one warm-up each, which also compiles); prints pairs/s at the median round, the
ratio against one cv2 process as the median over rounds with its min and max, the mean
endpoint error against cv2 and, on CUDA, each contender's peak memory.

``--compute null`` (the feed rate): for each ``WxH`` of ``--sizes``, a frame shard of
``--samples`` textured clips of ``--frames`` frames stored as JPEG (quality 95, as the
frames stage stores them) goes through, in interleaved rounds: the flow stage with its
CPU compute (``device: cpu``, so cv2, on all cores; ``--method``); today's sequential
read (``ShardReader.read``, one thread, what the stage decoded with before the feed); and
the stage's feed alone (``harfuse.stages.flow.frame_feed``: the same code path, the flow
replaced by a no-op) with each number of decode workers of ``--workers``, pinned when
``--device`` resolves to CUDA as in the stage; and, for comparison, the same decode in
``--processes`` worker processes whose arrays are pickled back (the design the feed's
threads were chosen over). Prints frames/s at the median round, the
feed's rate per core (``rate / min(workers, cores)``: what to multiply by a GPU
machine's cores) and the ratio feed / compute (median over rounds, min, max), then the
same as a markdown table.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from harfuse.data.frame_feed import Fed, decoded_frames
from harfuse.device import resolve_device
from harfuse.environment import cores as usable_cores
from harfuse.environment import describe
from harfuse.flow import compute_flow
from harfuse.stages import flow as flow_stage
from harfuse.store.shards import ShardReader, ShardWriter
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


def frame_shard(path: Path, samples: int, frames: int, height: int, width: int) -> float:
    """Write a frame shard as the frames stage stores one (JPEG, quality 95) of
    ``samples`` textured clips of ``frames`` ``(height, width, 3)`` frames moving 2-3 px
    per frame, each clip its own texture; returns the mean JPEG size per frame, kB."""
    import cv2

    rng = np.random.default_rng(0)
    pad = 3 * frames
    with ShardWriter(path, "frames", {"size": [height, width], "storage": "jpeg"}) as writer:
        for k in range(samples):
            noise = rng.uniform(0, 255, (height + pad, width + pad, 3))
            big = cv2.GaussianBlur(noise, (0, 0), 3).astype(np.uint8)
            clip_ = np.stack(
                [big[2 * t : 2 * t + height, 3 * t : 3 * t + width] for t in range(frames)]
            )  # (T, H, W, 3)
            writer.write(f"s{k:04d}", "frames", clip_, None, jpeg_quality=95)
    reader = ShardReader(path)
    stored = sum(sum(b.nbytes for b in reader.file[s]["frames"][()]) for s in reader.sample_ids())
    reader.close()
    return stored / (samples * frames) / 1e3


#: per worker process: the frame shard opened once (``--compute null``'s process pool)
_PROCESS_READERS: dict[str, ShardReader] = {}


def _decode_in_process(job: tuple[str, str]) -> np.ndarray:
    """One sample's gray frames ``(T, H, W)`` decoded in a worker process and pickled back:
    the alternative to the feed's threads that ``--compute null`` times beside them."""
    path, sample_id = job
    reader = _PROCESS_READERS.setdefault(path, ShardReader(path))
    return decoded_frames(reader, sample_id, gray=True)


def decode_in_processes(pool: ProcessPoolExecutor, jobs: list[tuple[str, str]]) -> None:
    """Every sample of ``jobs`` decoded by ``pool``'s processes, in order."""
    for _ in pool.map(_decode_in_process, jobs):
        pass


def drain(fed: Iterable[Fed]) -> None:
    """The null compute: take every sample from the feed and do nothing with it."""
    for item in fed:
        item.get()


def feed_report(
    title: str,
    seconds: dict[str, list[float]],
    frames: int,
    compute_line: str,
    workers: Sequence[int],
    cores: int,
    rows: list[str],
    items: tuple[str, int] | None = None,
) -> None:
    """Print the null-compute figures of one setting (``seconds`` holds ``compute``,
    ``read`` and ``feed {n}`` for each ``n`` of ``workers``, each over ``frames`` frames;
    ``items`` = (name, count), e.g. ``("clips", 24)``, adds the feed's rate in those)
    and append its markdown table rows to ``rows``."""
    compute = rate(frames, seconds["compute"])
    read = rate(frames, seconds["read"])
    print(title)
    print(f"  {compute_line}  {compute:9.1f} frames/s")
    print(f"  sequential read (today's decode, 1 thread): {read:9.1f} frames/s")
    for n in workers:
        feed_s = seconds[f"feed {n}"]
        fed = rate(frames, feed_s)
        per_core = fed / min(n, cores)
        ratio = Ratio.of(seconds["compute"], feed_s)
        also = f" ({rate(items[1], feed_s):.1f} {items[0]}/s)" if items else ""
        print(
            f"  feed, {n} worker{'s' if n > 1 else ''}: {fed:9.1f} frames/s{also}, "
            f"{per_core:8.1f} frames/s per core, feed / compute x{ratio}"
        )
        rows.append(
            f"| {title.split(':')[0]} | {compute:.0f} | {read:.0f} | {n} | {fed:.0f} "
            f"| {per_core:.0f} | {ratio.median:.1f} ({ratio.low:.1f}-{ratio.high:.1f}) |"
        )


def print_table(rows: list[str]) -> None:
    """The rows of :func:`feed_report` under their header."""
    print()
    print(
        "| setting | CPU compute, frames/s | sequential read, frames/s | workers "
        "| feed, frames/s | feed per core | feed / compute |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))


def sizes_arg(text: str) -> list[tuple[int, int]]:
    """``"64x64,340x256"`` -> ``[(64, 64), (256, 340)]``: (height, width) of ``WxH`` items."""
    pairs = [item.lower().split("x") for item in text.split(",")]
    return [(int(h), int(w)) for w, h in pairs]


def null_compute(args: argparse.Namespace) -> None:
    """``--compute null``: the flow stage's feed rate against its CPU compute, per size."""
    cores = usable_cores()
    workers = [int(n) for n in args.workers.split(",")] if args.workers else sorted({1, cores})
    device = str(resolve_device(args.device).type)
    print(describe())
    print(
        f"null compute: {args.samples} samples x {args.frames} frames per size; {cores} "
        f"cores; feed device {device}; {args.rounds} rounds"
    )
    params = {"method": args.method, "bound": 20.0, "storage": "uint8"}
    frames = args.samples * args.frames
    # forkserver: a child forked from a process whose OpenCV thread pool has run can hang
    context = multiprocessing.get_context("forkserver")
    rows: list[str] = []
    for height, width in sizes_arg(args.sizes):
        with tempfile.TemporaryDirectory() as tmp:
            shard = Path(tmp) / "frames.h5"
            kb = frame_shard(shard, args.samples, args.frames, height, width)

            def read(shard: Path = shard) -> None:
                reader = ShardReader(shard)
                for sid in reader.sample_ids():
                    reader.read(sid, "frames")
                reader.close()

            def fed(n: int, shard: Path = shard) -> None:
                reader = ShardReader(shard)
                drain(flow_stage.frame_feed(reader, params, device, n))
                reader.close()

            runs: dict[str, Callable[[], object]] = {
                "compute": functools.partial(
                    flow_stage.run, shard, Path(tmp) / "flow.h5", params, "skip", cores, "cpu"
                ),
                "read": read,
                **{f"feed {n}": functools.partial(fed, n) for n in workers},
            }
            runs["read"]()  # warm-up: page cache, OpenCV, the thread pool's first start
            # no process starts before the first job: with --processes 0, none does
            with ProcessPoolExecutor(args.processes or 1, mp_context=context) as pool:
                ids = ShardReader(shard)
                jobs = [(str(shard), sid) for sid in ids.sample_ids()]
                ids.close()
                if args.processes:
                    runs["processes"] = functools.partial(decode_in_processes, pool, jobs)
                    runs["processes"]()  # start-up: imports, the shard opened in each
                seconds = interleaved(runs, args.rounds)
        pairs = args.samples * (args.frames - 1)
        compute_pairs = rate(pairs, seconds["compute"])
        feed_report(
            f"flow {args.method} {width}x{height}: {kb:.1f} kB per JPEG frame",
            seconds,
            frames,
            f"stage, CPU compute ({cores} threads): {compute_pairs:8.1f} pairs/s,",
            workers,
            cores,
            rows,
        )
        if args.processes:
            n = args.processes
            by_process = rate(frames, seconds["processes"])
            ratio = Ratio.of(seconds["compute"], seconds["processes"])
            print(
                f"  for comparison, {n} processes (arrays pickled back): {by_process:9.1f} "
                f"frames/s, {by_process / min(n, cores):8.1f} frames/s per core, x{ratio}"
            )
            same = rows[-1].split(" | ")[:3]  # setting, compute and read of this size
            rows.append(
                f"{' | '.join(same)} | {n} processes | {by_process:.0f} "
                f"| {by_process / min(n, cores):.0f} | {ratio.median:.1f} "
                f"({ratio.low:.1f}-{ratio.high:.1f}) |"
            )
    print_table(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--compute",
        choices=("kernels", "null"),
        default="kernels",
        help="kernels: cv2 vs torch flow; null: the stage's feed rate against its CPU compute",
    )
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--tvl1-pairs", type=int, default=4, help="pairs for cv2 / torch-CPU TV-L1")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    null = parser.add_argument_group("--compute null")
    null.add_argument("--sizes", default="64x64,340x256", help="frame sizes WxH (64x64: demo)")
    null.add_argument("--samples", type=int, default=24, help="clips in the frame shard")
    null.add_argument("--frames", type=int, default=16, help="frames per clip")
    null.add_argument("--workers", default="", help="decode workers to time (default 1,cores)")
    null.add_argument("--method", default="farneback", help="flow method of the stage")
    null.add_argument(
        "--processes", type=int, help="also decode in this many processes (default cores; 0: no)"
    )
    null.add_argument("--device", default="auto", help="the feed's device (pinning on CUDA)")
    args = parser.parse_args(argv)
    if args.compute == "null":
        args.processes = usable_cores() if args.processes is None else args.processes
        null_compute(args)
        return
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
