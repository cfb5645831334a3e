"""Exit 1, saying how much is free where, when a folder's file system has too little space.

Usage: ``python tools/diskcheck.py GB FOLDER``

The folder need not exist yet: the space is read on its nearest existing parent. Run by
``make venv`` before it creates ``.venv`` (about 7 GB, torch's CUDA wheels most of it), so
that a full disk stops the install before it starts, not minutes into it with pip's
``[Errno 28] No space left on device``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

_GB = 1024**3


def free_gb(folder: Path) -> float:
    """Free space (GiB) for an unprivileged user on the file system that holds ``folder``."""
    probe = folder.resolve()
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free / _GB


def problem(needed_gb: float, folder: Path) -> str | None:
    """The message for too little space, or None when ``needed_gb`` GiB are free."""
    free = free_gb(folder)
    if free >= needed_gb:
        return None
    return (
        f"{folder} needs about {needed_gb:g} GB free to install into; its file system has "
        f"{free:.1f} GB free: free some space (old clones' .venv folders, pip's cache) first"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    message = problem(float(argv[0]), Path(argv[1]))
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
