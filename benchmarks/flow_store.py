"""How fast the flow stage stores flow, with the flow itself free (a null compute).

    .venv/bin/python benchmarks/flow_store.py [--samples 24] [--pairs 15] [--rounds 3]
                                              [--threads 0,1,2] [--storage uint8]

A GPU computes 340x256 flow at 1000+ pairs/s; what the stage does after it (quantise to
uint8 codes, gzip the chunks, write the shard) ran on its main thread, one chunk at a time.
Here the flow stage's store path (:func:`harfuse.stages.shard_job.write_sample_shard`
with the stage's ``flow_field`` attributes, every sample's flow computed once beforehand
by cv2 Farneback on a moving texture) runs with ``compress_threads`` 0 (h5py's own
filter, on the main thread) and each count of ``--threads``, in interleaved rounds.

Prints stored pairs/s at the median round, the CPU seconds the process spent per pair
(all threads), and the main thread's CPU seconds per pair (the serial part no thread
count removes). The projection for an ``N``-core GPU node is ``min(1 / main thread s per
pair, (N - 1) / CPU s per pair)``: one core drives the GPU, the rest compress.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from harfuse.environment import cores as usable_cores
from harfuse.environment import describe
from harfuse.flow.quantize import flow_scale, quantize
from harfuse.stages.shard_job import write_sample_shard
from harfuse.store.shards import ShardReader

H, W = 256, 340
BOUND = 20.0


def moving_texture(n: int, seed: int) -> np.ndarray:
    """``(n, H, W)`` uint8 gray frames of a blurred-noise texture moving 2 px down and 3 px
    right per frame."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (H + 2 * n, W + 3 * n)), (0, 0), 3)
    return np.stack([big[2 * t : 2 * t + H, 3 * t : 3 * t + W] for t in range(n)]).astype(np.uint8)


def farneback_clip(pairs: int, seed: int) -> np.ndarray:
    """``(pairs, H, W, 2)`` float32 px: cv2 Farneback over a moving texture."""
    frames = moving_texture(pairs + 1, seed)
    return np.stack(
        [
            cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
            for a, b in itertools.pairwise(frames)
        ]
    )


def store(flows: list[np.ndarray], storage: str, threads: int, out: Path) -> dict[str, float]:
    """Wall and CPU seconds (process, main thread) of storing ``flows`` as the stage does."""

    def compute(sid: str):
        flow = flows[int(sid)]
        if storage == "uint8":
            codes = quantize(flow, BOUND)
            return {
                "flow": (codes, {"bound": BOUND, "storage": storage, "scale": flow_scale(BOUND)})
            }
        return {"flow": (flow.astype(np.float16), {"bound": BOUND, "storage": storage})}

    ids = [str(i) for i in range(len(flows))]
    wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
    write_sample_shard(out, "flow", {"storage": storage}, ids, compute, compress_threads=threads)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "main": time.thread_time() - main,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--pairs", type=int, default=15, help="flow pairs per sample")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="0,1,2", help="compress_threads to time")
    parser.add_argument("--storage", default="uint8", choices=("uint8", "float16"))
    parser.add_argument("--node-cores", type=int, default=16, help="cores of the GPU node")
    args = parser.parse_args()
    print(describe())
    cores = usable_cores()
    flows = [farneback_clip(args.pairs, seed) for seed in range(args.samples)]
    pairs = args.samples * args.pairs
    counts = [int(t) for t in args.threads.split(",")]
    times: dict[int, list[dict[str, float]]] = {t: [] for t in counts}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for t in counts:
                out = Path(tmp) / f"flow-{t}-{r}.h5"
                times[t].append(store(flows, args.storage, t, out))
                stored = ShardReader(out).read("0", "flow")
                assert stored.shape == flows[0].shape, stored.shape
        print(
            f"{pairs} pairs of {W}x{H} flow per round ({args.samples} samples), "
            f"{args.storage}, {args.rounds} rounds, {cores} cores, "
            f"{threading.active_count()} threads before"
        )
        print(
            "| compress_threads | stored pairs/s | CPU ms/pair | main thread ms/pair | "
            f"projected pairs/s, {args.node_cores}-core node |"
        )
        print("|---|---|---|---|---|")
        for t in counts:
            median = {k: statistics.median(x[k] for x in times[t]) for k in times[t][0]}
            cpu, main_s = median["cpu"] / pairs, median["main"] / pairs
            projected = min(1 / main_s, (args.node_cores - 1) / cpu) if t else 1 / main_s
            print(
                f"| {t} | {pairs / median['wall']:.0f} | {1000 * cpu:.2f} | "
                f"{1000 * main_s:.2f} | {projected:.0f} |"
            )


if __name__ == "__main__":
    main()
