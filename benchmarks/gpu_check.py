"""One prepared GPU check: the CUDA figures, in one markdown table and its JSON.

    bash benchmarks/gpu_check.sh                 # a machine that can install the lock
    bash benchmarks/gpu_check.sh --image         # an offline node with its own torch
    .venv/bin/python benchmarks/gpu_check.py [--out DIR] [--budget 330] [--sections a,b]
    .venv/bin/python benchmarks/gpu_check.py --make-bundle .gpu-bundle   # (make gpu-bundle)
    .venv/bin/python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gpucheck  # dry run

Each section is a module of ``benchmarks/gpu_sections/`` with ``run(check, deadline)``;
:mod:`gpu_sections.runner` holds what they share (sizes, budget, table, JSON). Sections,
in the table's order (each with its share of ``--budget`` seconds; what one leaves over
goes to the next):

- ``pytest`` (``cuda_tests``): ``pytest -m cuda`` in a subprocess, run first.
- ``flow``: pairs/s of the torch ports at 340x256, eager, ``torch.compile`` and (section
  ``graphs``, run last, reported here) a CUDA graph of one whole call, replayed.
- ``parity``: the ports on the device against cv2's flows on synthetic and real pairs.
- ``features``: clips/s of frozen encoders, fp32 against the pipeline's bf16.
- ``train``: the demo's training jobs on CUDA against the CPU.
- ``stage``: the flow stage end to end against the bare kernel on the same frames.

A section whose module cannot be imported (a package the machine lacks) is one row,
"skipped: <why>", and the others go on; ``--sections NAME`` reruns one alone.

``--make-bundle DIR`` prepares, here, what the sections need and an offline image cannot
make (the demo's shards: no PyAV there; the flow references: no ``cv2.optflow``), at the
real and the ``--tiny`` sizes, under ``DIR/full`` and ``DIR/tiny``. ``--image`` then reads
them from ``--bundle`` (default ``.gpu-bundle``) and makes nothing.

Timing: one warm-up call (which also compiles), then up to ``--repeats`` timed calls,
synchronised on CUDA; a rate is taken at the median call. A section whose budget is spent
marks what is left "skipped: budget"; a measurement that fails is a row with its error.
Peak memory is ``torch.cuda.max_memory_allocated`` per row and per section.

``--tiny`` runs every section at a toy size (64x48 frames, batch 2, one repeat, a
12-sample demo, one epoch, reduced TV-L1 iterations, ``torch.compile`` with the ``eager``
backend) so that the whole check runs on a CPU in about a minute: tests/test_gpu_check.py
runs it (and, in the imitation of the image, ``--image``), so the script cannot rot
before a GPU comes. CUDA-only rows say "skipped: no CUDA" there.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
from gpu_sections.runner import (
    REPO,
    RUN_ORDER,
    SHARES,
    TINY,
    Budget,
    Check,
    Sizes,
    empty_cache,
    error_text,
    log,
    write,
)

#: section -> its module in gpu_sections
MODULES = {
    "pytest": "cuda_tests",
    "flow": "flow",
    "parity": "parity",
    "features": "features",
    "stage": "stage",
    "train": "train",
    "graphs": "graphs",
}


def section_module(name: str):
    """The module of section ``name``; ImportError when the machine lacks what it imports."""
    return importlib.import_module(f"gpu_sections.{MODULES[name]}")


def compile_backend(sizes: Sizes):
    """The flow section's TV-L1 compile backend for these sizes (a no-op context when the
    flow module itself cannot be imported: its rows then say why)."""
    try:
        return section_module("flow").tvl1_compile_backend(sizes.compile_backend)
    except ImportError:
        return contextlib.nullcontext()


def run_sections(check: Check, wanted: list[str], out: Path, started, t0: float) -> None:
    """Each wanted section in run order within its share of the budget; the table is
    rewritten after each (what is done so far, if the machine is taken back)."""
    for name in RUN_ORDER:
        if name not in wanted:
            continue
        deadline = check.budget.start(name)
        log(f"{name}: {deadline - time.monotonic():.0f} s")
        start = time.monotonic()
        check.reset_peak()
        check.peak_seen = 0.0
        try:
            section_module(name).run(check, deadline)
        except ImportError as exc:
            check.add(name, "(section)", f"skipped: {error_text(exc)}")
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
        write(check, out, started, t0)


def make_bundle(folder: Path, tiny_only: bool = False) -> None:
    """Prepare every section's inputs at the real and the tiny sizes (``tiny_only``: the
    tiny ones) under ``folder``."""
    for label, sizes in (("full", Sizes()), ("tiny", TINY))[int(tiny_only) :]:
        with tempfile.TemporaryDirectory(prefix="gpu_bundle-") as work:
            check = Check("cpu", sizes, 1, Budget(0, {}), Path(work), folder / label)
            for name in RUN_ORDER:
                prepare = getattr(section_module(name), "prepare", None)
                if prepare is not None:
                    log(f"bundle {label}: {name}")
                    prepare(check)


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
    parser.add_argument("--sections", default=",".join(RUN_ORDER), help="a subset, to rerun")
    parser.add_argument("--image", action="store_true", help="inputs from the bundle only")
    parser.add_argument("--bundle", type=Path, default=REPO / ".gpu-bundle")
    parser.add_argument("--make-bundle", type=Path, help="prepare the inputs there and stop")
    args = parser.parse_args(argv)
    if args.make_bundle:
        make_bundle(args.make_bundle, tiny_only=args.tiny)
        return 0
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
    data = args.bundle / ("tiny" if args.tiny else "full") if args.image else None
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as work:
        check = Check(device, sizes, repeats, budget, Path(work), data, args.out, args.image)
        args.out.mkdir(parents=True, exist_ok=True)
        with compile_backend(sizes):
            run_sections(check, wanted, args.out, started, t0)
        print(write(check, args.out, started, t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
