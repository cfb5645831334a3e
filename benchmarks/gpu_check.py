"""One prepared GPU check (issue 19 item 4): the CUDA figures, in one markdown table.

    bash benchmarks/gpu_check.sh        # a fresh machine: .venv from the lock, then this
    .venv/bin/python benchmarks/gpu_check.py [--out DIR] [--budget 330]
    .venv/bin/python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gpucheck  # dry run

Sections, in the table's order (each with its share of ``--budget`` seconds; what one
section leaves over goes to the next):

- ``pytest``: ``pytest -m cuda`` (a subprocess, run first, before this process touches
  the GPU).
- ``flow``: pairs/s of the torch ports at 340x256 (Farneback; TV-L1 in ``fast`` mode) on
  device-resident frames at each batch size: eager, ``torch.compile`` (TV-L1: the
  project's ``flow.torch_compile``, its iteration compiled; Farneback: the whole call,
  which has no project option) and a CUDA graph of one whole call, replayed (or
  "not capturable: <reason>").
- ``parity``: the torch ports on the device against cv2 on the pairs of
  ``benchmarks/flow_cases.py`` (TV-L1 in ``parity`` mode): pairs bit-equal to cv2.
- ``features``: clips/s of frozen encoders through ``encode_clips``, fp32 against the
  pipeline's bf16 autocast with a channels_last encoder (``frozen_encoder``).
- ``train``: the demo's training jobs (``harfuse.stages.train.run`` with ``config.yaml``'s
  variants and train parameters) on CUDA against the CPU (1 thread, as the demo runs).
- ``stage``: the flow stage (``harfuse.stages.flow.run``: shard read, flow, quantisation,
  shard write) on a frames shard of the demo at 340x256 against the bare kernel on the
  same frames already on the device: is the GPU fed?

Timing: one warm-up call (which also compiles), then up to ``--repeats`` timed calls,
synchronised on CUDA; a rate is taken at the median call. A section whose budget is spent
marks what is left "skipped: budget"; a measurement that fails is a row with its error,
and the other rows and sections go on. Peak memory is ``torch.cuda.max_memory_allocated``
per row and per section. The CUDA graphs are captured last, after every other section, so
that a capture that leaves the device in a bad state cannot spoil another figure.

``--tiny`` runs every section at a toy size (64x48 frames, batch 2, one repeat, a
12-sample demo, one epoch, reduced TV-L1 iterations, ``torch.compile`` with the ``eager``
backend so that nothing is code-generated) so that the whole check runs on a CPU in about
a minute: tests/test_gpu_check.py runs it, so the script cannot rot before a GPU comes.
CUDA-only rows say "skipped: no CUDA" there.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from harfuse.environment import describe, versions

REPO = Path(__file__).resolve().parents[1]
#: sections in the table's order, with their share of the budget
SHARES = {
    "pytest": 0.10,
    "flow": 0.36,
    "parity": 0.08,
    "features": 0.08,
    "train": 0.22,
    "stage": 0.10,
    "graphs": 0.06,
}
#: the order sections run in: the CUDA graphs last (a failed capture may spoil the device)
RUN_ORDER = ("pytest", "flow", "parity", "features", "stage", "train", "graphs")
#: sections whose rows are reported under another section's heading
TABLE_SECTION = {"graphs": "flow"}
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


@dataclass(frozen=True)
class Sizes:
    """What the check measures at: the real sizes, or ``--tiny`` ones for a CPU dry run."""

    flow_hw: tuple[int, int] = (256, 340)
    flow_batches: tuple[int, ...] = (8, 32, 128, 256)
    #: TV-L1 / Farneback parameters (OpenCV's defaults unless set)
    tvl1: dict = field(default_factory=dict)
    farneback: dict = field(default_factory=dict)
    parity_hw: tuple[int, int] = (96, 128)
    parity_seeds: int = 3
    #: encoder -> (frames per clip, side px)
    encoders: dict = field(default_factory=lambda: {"resnet18": (8, 112), "r3d_18": (8, 112)})
    feature_batches: tuple[int, ...] = (32, 128)
    #: demo dataset for the train and stage sections (``DemoSpec`` fields)
    demo: dict = field(default_factory=lambda: {"subjects": 4})
    train_variants: tuple[str, ...] = ("imu", "flow", "mid_fusion", "rgb_finetuned")
    #: overrides of config.yaml's train.params (and of each variant's own params)
    train_params: dict = field(default_factory=dict)
    #: the stage section's frames: ``frames`` stage params over config.yaml's
    stage_frames: dict = field(default_factory=lambda: {"size": [256, 340]})
    stage_methods: tuple[str, ...] = ("farneback", "tvl1")
    stage_batch: int = 32
    compile_backend: str = "inductor"
    #: seconds the flow section must have left to start a compile (its first call)
    min_compile_s: float = 45.0


TINY = Sizes(
    flow_hw=(48, 64),
    flow_batches=(2,),
    tvl1={"nscales": 2, "warps": 1, "outer_iterations": 2, "inner_iterations": 5},
    farneback={"levels": 2},
    parity_hw=(48, 64),
    parity_seeds=1,
    encoders={"resnet18": (2, 32), "r3d_18": (4, 32)},
    feature_batches=(2,),
    demo={"seed": 3, "subjects": 2, "trials": 1, "size": 48},
    train_params={"epochs": 1, "val_fraction": 0.0},
    stage_frames={"size": [48, 64], "num_frames": 3},
    stage_batch=2,
    compile_backend="eager",
    min_compile_s=0.0,
)


@dataclass
class Row:
    """One line of the table; ``key`` orders the rows of a section."""

    section: str
    setting: str
    value: str
    unit: str = ""
    vs: str = ""
    peak_mib: str = ""
    notes: str = ""
    key: tuple = ()


class Budget:
    """A total deadline shared out among sections: a section gets its share of what is
    left, so time one section does not use goes to the ones after it."""

    def __init__(self, seconds: float, shares: dict[str, float]):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.shares = dict(shares)

    def start(self, section: str) -> float:
        """The deadline (``time.monotonic()``) of ``section``, starting now."""
        now = time.monotonic()
        share = self.shares.pop(section)
        rest = share + sum(self.shares.values())
        return now + max(self.deadline - now, 0.0) * share / rest


class Check:
    """The state of one run: device, sizes, rows, budget and the prepared demo data."""

    def __init__(self, device: str, sizes: Sizes, repeats: int, budget: Budget, work: Path):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.sizes = sizes
        self.repeats = repeats
        self.budget = budget
        self.work = work
        self.rows: list[Row] = []
        self.section_s: dict[str, float] = {}
        self.section_peak: dict[str, float] = {}
        #: seconds per pair the flow section measured: (method, variant, batch) -> s
        self.per_pair: dict[tuple[str, str, int], float] = {}
        #: the highest peak (MiB) seen since the section began, across reset_peak calls
        self.peak_seen = 0.0
        self._demo: dict[str, Path] | None = None

    def add(self, section: str, setting: str, value: str, **kw: Any) -> Row:
        row = Row(section, setting, value, **kw)
        self.rows.append(row)
        log(f"{section}: {setting}: {value} {row.unit} {row.vs} {row.notes}".rstrip())
        return row

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def reset_peak(self) -> None:
        """Start a row's peak; the section's keeps the highest so far (``peak_seen``)."""
        if self.cuda:
            self.peak_seen = max(self.peak_seen, torch.cuda.max_memory_allocated() / 2**20)
            torch.cuda.reset_peak_memory_stats()

    def peak(self) -> str:
        return f"{torch.cuda.max_memory_allocated() / 2**20:.0f}" if self.cuda else ""

    def timed(
        self, fn: Callable[[], object], deadline: float, warm_up: bool = True
    ) -> tuple[float, list[float]]:
        """Seconds of a warm-up call (0 without ``warm_up``) and of up to ``repeats`` timed
        calls (at least one, fewer when the next would end past ``deadline``)."""
        warm = 0.0
        if warm_up:
            self.sync()
            start = time.perf_counter()
            fn()
            self.sync()
            warm = time.perf_counter() - start
        times: list[float] = []
        while len(times) < self.repeats:
            guess = statistics.median(times) if times else warm
            if times and time.monotonic() + guess > deadline:
                break
            start = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - start)
        return warm, times

    def demo(self) -> dict[str, Path]:
        """The demo dataset generated once for this run, and its manifest."""
        if self._demo is None:
            from harfuse.datasets.demo import DemoSpec, generate_demo
            from harfuse.stages import manifest

            root = generate_demo(self.work / "demo", DemoSpec(**self.sizes.demo))
            out = self.work / "shards"
            out.mkdir(exist_ok=True)
            manifest.run(
                out / "manifest.parquet",
                out / "classes.json",
                out / "quarantine.parquet",
                {"root": str(root), "layout": "demo"},
                samples_per_shard=10**6,
            )
            self._demo = {
                "root": root,
                "manifest": out / "manifest.parquet",
                "classes": out / "classes.json",
                "out": out,
            }
        return self._demo


def log(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def error_text(exc: BaseException) -> str:
    """``Type: first line of the message``, short enough for a table cell."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:160]


def config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def moving_texture(n: int, h: int, w: int) -> np.ndarray:
    """``(n, h, w)`` uint8 gray frames of a blurred-noise texture moving 2 px down and 3 px
    right per frame (as ``benchmarks/flow.py``)."""
    import cv2

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 2 * n, w + 3 * n)), (0, 0), 3)
    return np.stack([big[2 * t : 2 * t + h, 3 * t : 3 * t + w] for t in range(n)]).astype(np.uint8)


# --- flow: eager / compile / CUDA graphs -------------------------------------------------


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


def section_flow(check: Check, deadline: float) -> None:
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
            vs = ""
            if variant != "eager":
                eager = [
                    r for r in check.rows if r.section == "flow" and r.key == (mi, b, 0) and r.unit
                ]
                if eager:
                    vs = f"x{rate / float(eager[0].value):.2f} vs eager"
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


def empty_cache(check: Check) -> None:
    if check.cuda:
        with contextlib.suppress(Exception):
            torch.cuda.synchronize()
        torch.cuda.empty_cache()


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


def section_graphs(check: Check, deadline: float) -> None:
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
            eager = [
                r for r in check.rows if r.section == "flow" and r.key == (mi, b, 0) and r.unit
            ]
            vs = f"x{rate / float(eager[0].value):.2f} vs eager" if eager else ""
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


# --- parity ------------------------------------------------------------------------------


def section_parity(check: Check, deadline: float) -> None:
    """The ports on the device against cv2 on the synthetic pairs, batched."""
    import cv2
    from flow_cases import cases
    from opencv_pin import bit_exact_blocker

    from harfuse.flow import compute_flow, quantize
    from harfuse.flow.farneback_torch import farneback
    from harfuse.flow.tvl1_torch import tvl1

    h, w = check.sizes.parity_hw
    pairs = [p for seed in range(check.sizes.parity_seeds) for p in cases(seed, h, w).values()]
    prev = torch.from_numpy(np.stack([p[0] for p in pairs])).to(check.device)
    nxt = torch.from_numpy(np.stack([p[1] for p in pairs])).to(check.device)
    runs = {
        "tvl1": (check.sizes.tvl1, lambda: tvl1(prev, nxt, mode="parity", **check.sizes.tvl1)),
        "farneback": (check.sizes.farneback, lambda: farneback(prev, nxt, **check.sizes.farneback)),
    }
    for method, (params, run) in runs.items():
        setting = f"{method} {check.device.type} vs cv2 {cv2.__version__}, {w}x{h}"
        if time.monotonic() > deadline:
            check.add("parity", setting, "skipped: budget")
            continue
        check.reset_peak()
        start = time.perf_counter()
        try:
            ours = run().cpu().numpy()
            seconds = time.perf_counter() - start
            refs = np.stack([compute_flow(p, method, backend="cv2", **params)[0] for p in pairs])
        except Exception as exc:
            check.add("parity", setting, "error", notes=error_text(exc))
            continue
        equal = sum(bool((o == r).all()) for o, r in zip(ours, refs, strict=True))
        epe = np.linalg.norm(ours - refs, axis=-1).mean(axis=(1, 2))
        codes = (quantize(ours) == quantize(refs)).reshape(len(pairs), -1).mean(axis=1)
        if method == "tvl1":
            expected = f"bit-exact expected: {bit_exact_blocker() or 'yes'}"
        else:
            expected = "not bit-exact on the CPU either (pyramid not IPP's)"
        tweaks = f"; params {params}" if params else ""
        check.add(
            "parity",
            setting,
            f"{equal}/{len(pairs)}",
            unit="pairs bit-equal",
            peak_mib=check.peak(),
            notes=(
                f"worst mean EPE {epe.max():.1e} px, codes >= {codes.min() * 100:.3f}%; "
                f"{expected}; torch {seconds:.1f} s{tweaks}"
            ),
        )


# --- features ----------------------------------------------------------------------------


def encode_fp32(encoder: torch.nn.Module, clips: np.ndarray, device: torch.device) -> np.ndarray:
    """``encode_clips`` without its bf16 autocast: one batch, fp32."""
    x = torch.from_numpy(clips).to(device)  # (B, T, h, w, 3)
    return encoder(x).float().cpu().numpy()


def channels_last_3d(create: Callable, name: str, device: torch.device) -> torch.nn.Module:
    """A clip encoder whose backbone (Conv3d weights, 5-D) is channels_last_3d; its 4-D
    normalisation buffers stay as they are."""
    encoder = create(name, weights="none").to(device)
    encoder.backbone.to(memory_format=torch.channels_last_3d)
    return encoder


def section_features(check: Check, deadline: float) -> None:
    """fp32 against the pipeline's bf16 channels_last, per encoder and batch; for a clip
    encoder also bf16 channels_last_3d (the 5-D layout its Conv3d weights can take)."""
    from harfuse.encoders import create_encoder
    from harfuse.encoders.extract import encode_clips, frozen_encoder
    from harfuse.encoders.frozen import ClipEncoder

    def build(make: Callable[[], torch.nn.Module]) -> torch.nn.Module | str:
        """The encoder, or why it could not be made (a row's error, not the section's)."""
        try:
            torch.manual_seed(0)
            return make()
        except Exception as exc:
            return error_text(exc)

    rng = np.random.default_rng(0)
    batches = check.sizes.feature_batches
    for ei, (name, (frames, side)) in enumerate(check.sizes.encoders.items()):
        clips = rng.integers(0, 255, (max(batches), frames, side, side, 3), dtype=np.uint8)
        plain = build(lambda name=name: create_encoder(name, weights="none").to(check.device))
        tf32 = f"TF32 convolutions: {torch.backends.cudnn.allow_tf32}" if check.cuda else ""
        autocast = "" if check.cuda else "on a CPU encode_clips runs fp32"
        # (label, encoder, encode_clips's autocast?, notes); the second is the features
        # stage's own encoder: frozen_encoder converts it to channels_last on CUDA
        variants = [
            ("fp32", plain, False, tf32),
            (
                "bf16 channels_last",
                build(
                    lambda name=name: frozen_encoder(
                        {"encoder": name, "weights": "none", "seed": 0}, check.device
                    )
                ),
                True,
                autocast,
            ),
        ]
        if isinstance(plain, ClipEncoder):
            variants.append(
                (
                    "bf16 channels_last_3d",
                    build(lambda name=name: channels_last_3d(create_encoder, name, check.device)),
                    True,
                    "not the pipeline's layout; " + (autocast or "encode_clips"),
                )
            )
        for b in batches:
            rates: dict[str, float] = {}
            for pi, (label, encoder, autocast_on, notes) in enumerate(variants):
                setting = f"{name} {frames}x{side}px {label} batch {b}"
                key = (ei, b, pi)
                if isinstance(encoder, str):
                    check.add("features", setting, "error", notes=encoder, key=key)
                    continue
                if time.monotonic() > deadline:
                    check.add("features", setting, "skipped: budget", key=key)
                    continue
                if autocast_on:
                    fn = functools.partial(encode_clips, encoder, clips[:b], b, check.device)
                else:
                    fn = functools.partial(encode_fp32, encoder, clips[:b], check.device)
                check.reset_peak()
                try:
                    _, times = check.timed(fn, deadline)
                except Exception as exc:
                    check.add("features", setting, "error", notes=error_text(exc), key=key)
                    empty_cache(check)
                    continue
                rates[label] = b / statistics.median(times)
                vs = (
                    f"x{rates[label] / rates['fp32']:.2f} vs fp32" if pi and "fp32" in rates else ""
                )
                check.add(
                    "features",
                    setting,
                    f"{rates[label]:.1f}",
                    unit="clips/s",
                    vs=vs,
                    peak_mib=check.peak(),
                    notes=f"median of {len(times)}" + (f"; {notes}" if notes else ""),
                    key=key,
                )
        del plain, variants
        empty_cache(check)


# --- the demo's training jobs --------------------------------------------------------------


def demo_shards(check: Check, cfg: dict[str, Any]) -> dict[str, Path]:
    """The demo's frames, audio, imu, skeleton, flow and frame_cnn features shards, as the
    workflow makes them from config.yaml (one shard each)."""
    from harfuse.stages import audio, features, flow, frames, sample_files

    demo = check.demo()
    out, m = demo["out"], demo["manifest"]
    names = ("frames", "audio", "imu", "skeleton", "flow", "features")
    paths = {k: out / f"{k}.h5" for k in names}
    if not all(p.exists() for p in paths.values()):
        device = check.device.type
        frames.run(m, 0, paths["frames"], cfg["frames"], "skip")
        audio.run(m, 0, paths["audio"], cfg["audio"], "skip")
        sample_files.run(m, 0, paths["imu"], "imu", cfg["imu"], "skip")
        sample_files.run(m, 0, paths["skeleton"], "skeleton", cfg["skeleton"], "skip")
        flow.run(paths["frames"], paths["flow"], cfg["flow"], "skip", device=device)
        params = {
            **cfg["features"]["sets"]["frame_cnn"],
            "batch_size": 32 if check.cuda else cfg["features"]["batch_size"],
            "seed": cfg["features"]["seed"],
        }
        features.run(paths["frames"], paths["features"], params, device)
    return paths


def section_train(check: Check, deadline: float) -> None:
    """config.yaml's variants trained on the demo, on CUDA then on the CPU."""
    from harfuse.stages import train

    cfg = config()
    threads = torch.get_num_threads()
    start = time.perf_counter()
    paths = demo_shards(check, cfg)
    log(f"train: demo shards ready in {time.perf_counter() - start:.1f} s")
    demo = check.demo()
    devices = ["cuda", "cpu"]
    for vi, variant in enumerate(check.sizes.train_variants):
        spec = dict(cfg["train"]["variants"][variant])
        spec["params"] = {**(spec.get("params") or {}), **check.sizes.train_params}
        backbone = (spec.get("options") or {}).get("backbone")
        shard = {"rgb": "frames" if backbone else "features", "flow": "flow"}
        shards = {m: [str(paths[shard.get(m, m)])] for m in spec["modalities"]}
        setting = f"{variant} ({spec['model']}: {'+'.join(spec['modalities'])})"
        seconds: dict[str, float] = {}
        top1: dict[str, float] = {}
        for di, device in enumerate(devices):
            key = (vi, di)
            if device == "cuda" and not check.cuda:
                check.add("train", f"{setting} cuda", "skipped: no CUDA", key=key)
                continue
            if time.monotonic() > deadline:
                check.add("train", f"{setting} {device}", "skipped: budget", key=key)
                continue
            out = check.work / "train" / f"{variant}-{device}"
            check.reset_peak()
            t0 = time.perf_counter()
            try:
                train.run(
                    demo["manifest"],
                    demo["classes"],
                    shards,
                    variant,
                    spec,
                    "cross_subject",
                    {"name": "full"},
                    {**cfg["train"]["params"], **check.sizes.train_params},
                    cfg["train"]["inputs"],
                    device,
                    out,
                )
            except Exception as exc:
                check.add("train", f"{setting} {device}", "error", notes=error_text(exc), key=key)
                continue
            finally:
                torch.set_num_threads(threads)
                torch.use_deterministic_algorithms(False)  # train.run sets it for its seed
            seconds[device] = time.perf_counter() - t0
            metrics = json.loads((out / "metrics.json").read_text())
            top1[device] = metrics["top1"]
            epochs = len(metrics["history"])
            check.add(
                "train",
                f"{setting} {device}",
                f"{seconds[device]:.1f}",
                unit="s",
                peak_mib=check.peak() if device == "cuda" else "",
                notes=f"epochs {epochs}, {metrics['n_train']} train samples, top-1 "
                f"{top1[device]:.3f}",
                key=key,
            )
        if len(seconds) == 2:
            row = next(r for r in check.rows if r.key == (vi, 0) and r.section == "train")
            row.vs = f"x{seconds['cpu'] / seconds['cuda']:.2f} vs cpu"
            row.notes += f" (cpu {top1['cpu']:.3f})"


# --- the flow stage against the bare kernel ------------------------------------------------


def section_stage(check: Check, deadline: float) -> None:
    """flow.run on a frames shard at the stage size against the kernel on the same frames
    (device-resident), in the stage's per-clip batches and pooled across clips."""
    from harfuse.stages import frames

    cfg = config()
    demo = check.demo()
    frames_path = demo["out"] / "frames_stage.h5"
    params = {**cfg["frames"], **check.sizes.stage_frames}
    frames.run(demo["manifest"], 0, frames_path, params, "skip")
    for mi, method in enumerate(check.sizes.stage_methods):
        label = "tvl1 fast" if method == "tvl1" else method
        if time.monotonic() > deadline:
            check.add("stage", f"{label} flow stage", "skipped: budget", key=(mi, 0))
            continue
        # the methods left share what is left
        share = (deadline - time.monotonic()) / (len(check.sizes.stage_methods) - mi)
        try:
            stage_against_kernel(check, frames_path, method, mi, time.monotonic() + share)
        except Exception as exc:
            traceback.print_exc()
            check.add("stage", f"{label} flow stage", "error", notes=error_text(exc), key=(mi, 0))
            empty_cache(check)


def stage_clips(check: Check, method: str, clips: list[np.ndarray], seconds: float) -> int:
    """How many of ``clips`` (from the first) the stage and the two kernel timings can
    take in ``seconds``, from the flow section's eager per-pair time of ``method`` at its
    smallest batch (an over-estimate for larger batches); all of them when unmeasured."""
    measured = sorted(
        (b, s) for (m, v, b), s in check.per_pair.items() if (m, v) == (method, "eager")
    )
    if not measured:
        return len(clips)
    per_pair = measured[0][1]
    total, n = 0.0, 0
    for clip in clips:
        total += (len(clip) - 1) * per_pair * 3 * 1.5  # stage + 2 kernel timings, margin
        if n and total > seconds:
            break
        n += 1
    return n


def stage_against_kernel(
    check: Check, frames_path: Path, method: str, mi: int, deadline: float
) -> None:
    from harfuse.flow.compute import to_gray
    from harfuse.stages import flow
    from harfuse.store.shards import ShardReader, ShardWriter

    label = "tvl1 fast" if method == "tvl1" else method
    reader = ShardReader(frames_path)
    sids = reader.sample_ids()
    gray = [to_gray(reader.read(sid, "frames")) for sid in sids]
    n = stage_clips(check, label, gray, deadline - time.monotonic())
    path = frames_path
    if n < len(gray):  # a shard of the first n clips, so that the stage fits the budget
        path = frames_path.with_name(f"frames_stage_{method}_{n}.h5")
        stored = reader.params
        quality = stored.get("jpeg_quality") if stored.get("storage") == "jpeg" else None
        with ShardWriter(path, "frames", stored) as writer:
            for sid in sids[:n]:
                writer.write(sid, "frames", reader.read(sid, "frames"), {}, quality)
        gray = gray[:n]
    reader.file.close()
    h, w = gray[0].shape[1:]
    pairs = sum(len(g) - 1 for g in gray)
    batch = check.sizes.stage_batch
    kernel = flow_kernel(check, label, compiled=False)
    on_device = [torch.from_numpy(g).to(check.device) for g in gray]
    pooled_prev = torch.cat([g[:-1] for g in on_device])
    pooled_next = torch.cat([g[1:] for g in on_device])
    params = {
        **config()["flow"],
        "method": method,
        "backend": "torch",
        "batch_size": batch,
        "mode": "fast",
        "torch_compile": False,
        "params": check.sizes.tvl1 if method == "tvl1" else check.sizes.farneback,
    }
    runs = 0

    def stage() -> None:
        nonlocal runs
        runs += 1
        flow.run(
            path,
            check.work / "stage" / f"{method}-{runs}.h5",
            params,
            "fail",
            device=check.device.type,
        )

    def per_clip() -> None:
        for g in on_device:
            for lo in range(0, len(g) - 1, batch):
                hi = min(lo + batch, len(g) - 1)
                kernel(g[lo:hi], g[lo + 1 : hi + 1])

    def pooled() -> None:
        for lo in range(0, pairs, batch):
            kernel(pooled_prev[lo : lo + batch], pooled_next[lo : lo + batch])

    kernel(on_device[0][:2], on_device[0][1:3])  # CUDA and cuDNN initialised
    check.reset_peak()
    _, stage_s = check.timed(stage, deadline, warm_up=False)
    stage_peak = check.peak()
    _, clip_s = check.timed(per_clip, deadline, warm_up=False)
    _, pooled_s = check.timed(pooled, deadline, warm_up=False)
    stage_rate, clip_rate, pooled_rate = (
        pairs / statistics.median(s) for s in (stage_s, clip_s, pooled_s)
    )
    subset = f" (the first {n} of {len(sids)}, budget)" if n < len(sids) else ""
    where = f"{n} clips{subset}, {pairs} pairs, {w}x{h}, batch {batch}"
    check.add(
        "stage",
        f"{label} flow stage end to end",
        f"{stage_rate:.1f}",
        unit="pairs/s",
        vs=f"x{stage_rate / clip_rate:.2f} vs bare kernel",
        peak_mib=stage_peak,
        notes=f"{where}; shard read, flow, uint8 codes, shard write; median of {len(stage_s)}",
        key=(mi, 0),
    )
    check.add(
        "stage",
        f"{label} bare kernel, per-clip batches",
        f"{clip_rate:.1f}",
        unit="pairs/s",
        notes=f"frames already on the device, the stage's batches; median of {len(clip_s)}",
        key=(mi, 1),
    )
    check.add(
        "stage",
        f"{label} bare kernel, pairs pooled across clips",
        f"{pooled_rate:.1f}",
        unit="pairs/s",
        vs=f"x{pooled_rate / clip_rate:.2f} vs per-clip",
        notes=f"batches of {batch} pairs from any clip; median of {len(pooled_s)}",
        key=(mi, 2),
    )


# --- pytest -m cuda ------------------------------------------------------------------------


def section_pytest(check: Check, deadline: float, out_dir: Path) -> None:
    if not check.cuda:
        check.add("pytest", "pytest -m cuda", "skipped: no CUDA")
        return
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider"]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 10.0),
        )
    except subprocess.TimeoutExpired as exc:
        check.add(
            "pytest", "pytest -m cuda", "skipped: budget", notes=f"killed after {exc.timeout:.0f} s"
        )
        return
    (out_dir / "gpu_check_pytest.log").write_text(proc.stdout + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else ""
    if proc.returncode:
        value = f"failed (exit {proc.returncode})"
    else:
        value = "passed" if " passed" in f" {summary}" else "no test ran"
    check.add(
        "pytest",
        "pytest -m cuda",
        value,
        notes=f"{summary} ({time.perf_counter() - start:.0f} s wall)",
    )


# --- the table -----------------------------------------------------------------------------


def gpu_line(check: Check) -> str:
    """The device, driver, torch / CUDA / cuDNN / Triton versions."""
    if not check.cuda:
        return (
            f"device: cpu ({torch.get_num_threads()} threads), no CUDA; torch {torch.__version__}"
        )
    props = torch.cuda.get_device_properties(check.device)
    driver = "?"
    with contextlib.suppress(Exception):
        driver = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            .stdout.split("\n")[0]
            .strip()
            or "?"
        )
    return (
        f"device: {props.name} (sm {props.major}.{props.minor}, "
        f"{props.total_memory / 2**30:.0f} GiB), driver {driver}; torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
        f"triton {versions(('triton',))['triton']}"
    )


def cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def table(check: Check, started: datetime.datetime, elapsed: float) -> str:
    sections = [s for s in SHARES if s not in TABLE_SECTION]
    order = {s: i for i, s in enumerate(sections)}
    indexed = list(enumerate(check.rows))
    indexed.sort(
        key=lambda ir: (order[TABLE_SECTION.get(ir[1].section, ir[1].section)], ir[1].key, ir[0])
    )
    peaks = {s: p for s, p in check.section_peak.items() if p}
    peak = max(peaks.values(), default=0.0)
    lines = [
        f"GPU check, {started:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s "
        f"(budget {check.budget.seconds:.0f} s); {gpu_line(check)}"
        + (f"; peak GPU memory {peak:.0f} MiB" if check.cuda else ""),
        describe(),
        "",
        "| section | setting | value | unit | vs | peak MiB | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in indexed:
        section = TABLE_SECTION.get(row.section, row.section)
        cells = (section, row.setting, row.value, row.unit, row.vs, row.peak_mib, row.notes)
        lines.append("| " + " | ".join(cell(c) for c in cells) + " |")
    lines.append("")
    lines.append(
        "seconds per section: "
        + ", ".join(
            f"{s} {t:.0f}" + (f" (peak {peaks[s]:.0f} MiB)" if s in peaks else "")
            for s, t in check.section_s.items()
        )
    )
    return "\n".join(lines)


def write(check: Check, out_dir: Path, started: datetime.datetime, t0: float) -> str:
    text = table(check, started, time.monotonic() - t0)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu_check.md").write_text(text + "\n")
    rows = [asdict(r) for r in check.rows]
    (out_dir / "gpu_check.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: a dry run on a CPU")
    parser.add_argument("--budget", type=float, default=330.0, help="seconds for all sections")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls (3; tiny 1)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("OUT") or REPO / "results" / "gpu_check"),
        help="folder for gpu_check.md / .json (default $OUT, else results/gpu_check)",
    )
    parser.add_argument("--sections", default=",".join(RUN_ORDER), help="a subset, to debug")
    args = parser.parse_args(argv)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device")
    sizes = TINY if args.tiny else Sizes()
    repeats = args.repeats or (1 if args.tiny else 3)
    started = datetime.datetime.now(datetime.UTC)
    t0 = time.monotonic()
    wanted = args.sections.split(",")
    budget = Budget(args.budget, {s: SHARES[s] for s in RUN_ORDER if s in wanted})
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as work:
        check = Check(device, sizes, repeats, budget, Path(work))
        sections: dict[str, Callable[[Check, float], None]] = {
            "pytest": functools.partial(section_pytest, out_dir=args.out),
            "flow": section_flow,
            "parity": section_parity,
            "features": section_features,
            "stage": section_stage,
            "train": section_train,
            "graphs": section_graphs,
        }
        args.out.mkdir(parents=True, exist_ok=True)
        with tvl1_compile_backend(sizes.compile_backend):
            for name in RUN_ORDER:
                if name not in wanted:
                    continue
                deadline = budget.start(name)
                log(f"{name}: {deadline - time.monotonic():.0f} s")
                start = time.monotonic()
                check.reset_peak()
                check.peak_seen = 0.0
                try:
                    sections[name](check, deadline)
                except KeyboardInterrupt:
                    check.add(name, "(section)", "skipped: interrupted")
                    check.section_s[name] = time.monotonic() - start
                    break
                except Exception as exc:
                    traceback.print_exc()
                    check.add(name, "(section)", "error", notes=error_text(exc))
                    empty_cache(check)
                check.section_s[name] = time.monotonic() - start
                if check.cuda:
                    check.reset_peak()
                    check.section_peak[name] = check.peak_seen
                write(check, args.out, started, t0)  # what is done so far, if killed later
        print(write(check, args.out, started, t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
