"""Make the bundle the GPU check needs on an offline node (``make gpu-bundle``).

    .venv/bin/python benchmarks/gpu_bundle.py [.gpu-bundle]

1. The inputs the sections prepare and the node's image cannot make (``gpu_check.py
   --make-bundle``): the demo's shards (the image has no PyAV to decode the demo videos)
   and the flow references of the lock's opencv-contrib (the image's
   opencv-python-headless has no ``cv2.optflow``), at the real and the ``--tiny`` sizes.
2. The wheels of ``benchmarks/gpu_sections/wheels.txt`` (what the sections import that the
   image lacks), for CPython 3.12 / abi3 on manylinux x86-64, one version each, from PyPI:
   ``gpu_check.sh --image`` installs them with ``pip install --no-index --target``.
3. Prints the bundle's size and the size of the whole tree the device tool copies (the
   working tree's tracked and untracked files that git does not ignore, plus the bundle),
   against the 48 MiB this check keeps to (64 MiB may travel: a rerun with a fix must fit).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEELS = REPO / "benchmarks" / "gpu_sections" / "wheels.txt"
TARGET_MIB = 48
PLATFORM = ("--python-version", "3.12", "--implementation", "cp", "--platform")


def wanted_wheels() -> list[str]:
    """The pinned requirements of ``wheels.txt`` (comments and blank lines left out)."""
    lines = (line.split("#", 1)[0].strip() for line in WHEELS.read_text().splitlines())
    return [line for line in lines if line]


def download(requirements: list[str], folder: Path) -> None:
    """Each requirement's cp312 (or abi3) manylinux x86-64 wheel into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if not requirements:
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         *PLATFORM, "manylinux_2_28_x86_64", "--dest", str(folder), *requirements],
        check=True,
    )  # fmt: skip


def size(paths: list[Path]) -> int:
    """Bytes of the files under ``paths``."""
    total = 0
    for path in paths:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
    return total


def carried_tree() -> list[Path]:
    """The files the device tool copies: tracked and untracked files git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [REPO / name for name in out.split("\0") if name and (REPO / name).is_file()]


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:] or [str(REPO / ".gpu-bundle")])[0]).resolve()
    if folder.exists():
        shutil.rmtree(folder)
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--make-bundle", str(folder)],
        check=True,
    )
    requirements = wanted_wheels()
    download(requirements, folder / "wheels")
    bundle, tree = size([folder]), size(carried_tree())
    mib = 2**20
    print(
        f"bundle {folder}: {bundle / mib:.1f} MiB ({len(requirements)} wheels: "
        f"{', '.join(requirements) or 'none, the image has every package the sections import'})"
    )
    print(f"working tree carried: {tree / mib:.1f} MiB; in all {(bundle + tree) / mib:.1f} MiB "
          f"(target <= {TARGET_MIB} MiB, limit 64)")  # fmt: skip
    if bundle + tree > TARGET_MIB * mib:
        print(f"over the {TARGET_MIB} MiB target: a rerun with a fix may not fit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
