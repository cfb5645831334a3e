"""What every section of the GPU check shares: the sizes, the budget, the rows, the table
and its JSON, the demo data (generated here, or carried in the bundle in image mode).

A section is a module of :mod:`gpu_sections` with ``run(check, deadline)``; it adds rows
with :meth:`Check.add` and stops at ``deadline`` (``time.monotonic()``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from harfuse.environment import describe, versions

REPO = Path(__file__).resolve().parents[2]
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
    #: real frames of the parity section: (pairs, h, w)
    parity_real: tuple[int, int, int] = (6, 256, 340)
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
    parity_real=(2, 48, 64),
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
    """The state of one run: device, sizes, rows, budget and the prepared inputs.

    ``data`` holds the inputs the sections prepare (the demo's shards, the flow
    references): made there when missing, read from there when present, which is how the
    bundle (``--make-bundle``, then ``--image``) carries them to a machine that cannot
    make them (no PyAV, no opencv-contrib). ``work`` is scratch space; ``out_dir`` gets
    the table, its JSON and logs."""

    def __init__(
        self,
        device: str,
        sizes: Sizes,
        repeats: int,
        budget: Budget,
        work: Path,
        data: Path | None = None,
        out_dir: Path | None = None,
        image: bool = False,
    ):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.sizes = sizes
        self.repeats = repeats
        self.budget = budget
        self.work = work
        self.data = data or work
        self.out_dir = out_dir or work
        #: the image mode: inputs come from the bundle only (nothing is made here)
        self.image = image
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

    def prepared(self, name: str) -> Path:
        """``data/name``; in image mode it must be there (:class:`FileNotFoundError` says
        to make the bundle), else the caller makes it when missing."""
        path = self.data / name
        if self.image and not path.exists():
            raise FileNotFoundError(f"{path} is not in the bundle: run `make gpu-bundle` here")
        return path

    def demo(self) -> dict[str, Path]:
        """The demo's manifest and class list (the demo generated in ``work`` when they
        are not prepared yet), and ``out``, the folder of its prepared shards."""
        if self._demo is None:
            out = self.data / "shards"
            if not self.prepared("shards/manifest.parquet").exists():
                from harfuse.datasets.demo import DemoSpec, generate_demo
                from harfuse.stages import manifest

                root = generate_demo(self.work / "demo", DemoSpec(**self.sizes.demo))
                out.mkdir(parents=True, exist_ok=True)
                manifest.run(
                    out / "manifest.parquet",
                    out / "classes.json",
                    out / "quarantine.parquet",
                    {"root": str(root), "layout": "demo"},
                    samples_per_shard=10**6,
                )
            self._demo = {
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


def empty_cache(check: Check) -> None:
    if check.cuda:
        with contextlib.suppress(Exception):
            torch.cuda.synchronize()
        torch.cuda.empty_cache()


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
