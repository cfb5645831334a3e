"""One GPU per job: a slot lock over the GPUs this process may use.

Snakemake counts the ``gpu`` resource but does not say *which* GPU a local job gets
(snakemake issue #281), so with ``--resources gpu=4`` four jobs would all land on
``cuda:0``. Each GPU job therefore claims a slot: an exclusive, non-blocking
``fcntl.flock`` on ``<lock dir>/gpu-<id>.lock`` for the first visible GPU nobody holds.
The lock lives as long as the open file, so it is released when the job ends, however it
ends: the kernel drops a killed process's locks, and no stale file needs cleaning up.

Visible GPUs are those of ``CUDA_VISIBLE_DEVICES`` when it is set (SLURM sets it to the
job's allocation; a user may set it to keep harfuse off some GPUs), else
``0 .. torch.cuda.device_count() - 1``. Slots are claimed among the visible GPUs only,
and the torch ordinal is the GPU's position in that list (``CUDA_VISIBLE_DEVICES=3``
gives GPU 3 as ``cuda:0``).

The lock dir is ``$HARFUSE_GPU_LOCK_DIR`` when set, else ``/tmp/harfuse-gpu-<uid>``:
shared by all jobs of one user on one machine. Inside a SLURM job it gets a
``slurm-<job id>`` subfolder, since SLURM renumbers each job's GPUs from 0 and two jobs
on one node must not share lock names. It must be a local file system (flock over NFS is
not reliable).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: seconds a job waits for a free GPU before failing, unless ``HARFUSE_GPU_WAIT`` says
DEFAULT_WAIT_S = 600.0
POLL_S = 0.5


class NoFreeGpu(RuntimeError):
    """Every visible GPU is held by another job for longer than the wait allowed."""


@dataclass
class Slot:
    """A claimed GPU: ``device_id`` as ``CUDA_VISIBLE_DEVICES`` names it (or the index
    when unset), ``ordinal`` the torch index (``cuda:<ordinal>``), held while ``fd`` is
    open."""

    device_id: str
    ordinal: int
    path: Path
    fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the file drops the flock
            self.fd = None

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def visible_devices(
    env: Mapping[str, str] | None = None, count: Callable[[], int] | None = None
) -> list[str]:
    """The GPU ids this process may use, in torch ordinal order.

    ``CUDA_VISIBLE_DEVICES`` when set (indices, ``GPU-…``/``MIG-…`` UUIDs; like CUDA, the
    list stops at ``-1``), else ``count()`` GPUs numbered from 0 (default
    ``torch.cuda.device_count()``).
    """
    env = os.environ if env is None else env
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids = []
        for item in listed.split(","):
            item = item.strip()
            if not item or item.startswith("-"):
                break
            ids.append(item)
        return ids
    if count is None:
        import torch

        count = torch.cuda.device_count
    return [str(i) for i in range(count())]


def lock_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the slot locks live: ``$HARFUSE_GPU_LOCK_DIR``, else
    ``/tmp/harfuse-gpu-<uid>``, plus ``slurm-<job id>`` inside a SLURM job."""
    env = os.environ if env is None else env
    base = Path(env.get("HARFUSE_GPU_LOCK_DIR") or f"/tmp/harfuse-gpu-{os.getuid()}")
    job = env.get("SLURM_JOB_ID")
    return base / f"slurm-{job}" if job else base


def claim(
    visible: list[str],
    directory: Path,
    timeout: float | None = None,
    poll: float = POLL_S,
) -> Slot:
    """Lock the first free GPU of ``visible`` and return its slot (hold it to keep the GPU).

    Waits up to ``timeout`` seconds (default ``$HARFUSE_GPU_WAIT`` or 600) while every
    GPU is held by another job, then raises :class:`NoFreeGpu`.
    """
    if not visible:
        raise NoFreeGpu("no GPU is visible to this job (CUDA_VISIBLE_DEVICES is empty)")
    if timeout is None:
        timeout = float(os.environ.get("HARFUSE_GPU_WAIT", DEFAULT_WAIT_S))
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    warned = False
    while True:
        for ordinal, device_id in enumerate(visible):
            slot = _try_lock(device_id, ordinal, directory)
            if slot is not None:
                return slot
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoFreeGpu(
                f"all {len(visible)} GPUs ({', '.join(visible)}) stayed held by other jobs "
                f"for {timeout:g} s (locks in {directory}). Run with --resources gpu=N, "
                "N at most the number of GPUs, or wait for the other run to finish; "
                "HARFUSE_GPU_WAIT sets how long a job waits"
            )
        if not warned:
            log.warning(
                "all %d GPUs (%s) are held by other jobs; waiting up to %g s for one",
                len(visible),
                ", ".join(visible),
                timeout,
            )
            warned = True
        time.sleep(min(poll, left))


def _try_lock(device_id: str, ordinal: int, directory: Path) -> Slot | None:
    path = directory / f"gpu-{re.sub(r'[^A-Za-z0-9._-]', '_', device_id)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a curious `cat`
    return Slot(device_id, ordinal, path, fd)


_held: Slot | None = None


def process_slot() -> Slot:
    """This process's GPU slot, claimed on first use and held until the process exits.

    Every later call returns the same slot, so a job that resolves its device several
    times (once per video, say) stays on one GPU.
    """
    global _held
    if _held is None or _held.fd is None:
        visible = visible_devices()
        _held = claim(visible, lock_dir())
        log.info(
            "GPU slot: GPU %s (cuda:%d) of visible [%s], lock %s",
            _held.device_id,
            _held.ordinal,
            ", ".join(visible),
            _held.path,
        )
    return _held
