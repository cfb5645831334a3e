"""Device choice from config: ``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``."""

from __future__ import annotations

import logging
import shutil
import subprocess

from harfuse import gpu_slots

log = logging.getLogger(__name__)

NO_CUDA = (
    "device: cuda, but torch sees no CUDA device on this machine; use device: auto "
    "(CUDA when present, else CPU) or device: cpu"
)


def resolve_device(choice: str = "auto"):
    """Return a ``torch.device`` for ``choice`` and log which one was picked and why.

    On CUDA the process first claims a GPU slot (:mod:`harfuse.gpu_slots`), held until it
    exits, and gets ``cuda:<ordinal>`` of that GPU, so concurrent jobs use different GPUs.
    """
    import torch

    if choice not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {choice!r}")
    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise RuntimeError(NO_CUDA)
    if choice == "cpu" or not available:
        log.info("device: cpu (config %r)", choice)
        return torch.device("cpu")
    # one GPU per job: concurrent local jobs each lock a different visible GPU
    slot = gpu_slots.process_slot()
    device = torch.device("cuda", slot.ordinal)
    torch.cuda.set_device(device)  # a bare "cuda" elsewhere in the job means this GPU too
    name = torch.cuda.get_device_name(device)
    log.info("device: %s = GPU %s (%s, config %r)", device, slot.device_id, name, choice)
    return device


def gpu_units(choice: str) -> int:
    """The ``gpu`` resource a torch job declares: 1 when it will run on CUDA, else 0.

    Decided without importing torch (the Snakefile calls it at parse time): a CUDA driver
    is taken as present when ``nvidia-smi`` is on the PATH.
    """
    return int(choice == "cuda" or (choice == "auto" and shutil.which("nvidia-smi") is not None))


def gpu_count() -> int:
    """GPUs this process may use, without importing torch (the Snakefile asks at parse
    time): ``CUDA_VISIBLE_DEVICES`` when set, else the lines of ``nvidia-smi -L``; 0 without
    a driver."""

    def listed() -> int:
        if shutil.which("nvidia-smi") is None:
            return 0
        try:
            out = subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return 0
        return sum(line.startswith("GPU ") for line in out.splitlines())

    return len(gpu_slots.visible_devices(count=listed))
