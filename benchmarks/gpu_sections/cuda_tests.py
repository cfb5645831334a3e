"""Section ``pytest``: ``pytest -m cuda`` in a subprocess, run first, before this process
touches the GPU. In image mode only the test files that hold CUDA tests are collected
(the others import what the image lacks)."""

from __future__ import annotations

import subprocess
import sys
import time

from gpu_sections.runner import REPO, Check


def cuda_test_files() -> list:
    """The test files that mark tests ``cuda``."""
    return sorted(
        p for p in (REPO / "tests").glob("test_*.py") if "mark.cuda" in p.read_text("utf-8")
    )


def run(check: Check, deadline: float) -> None:
    if not check.cuda:
        check.add("pytest", "pytest -m cuda", "skipped: no CUDA")
        return
    cmd = [sys.executable, "-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider"]
    if check.image:
        cmd += [str(p.relative_to(REPO)) for p in cuda_test_files()]
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
    (check.out_dir / "gpu_check_pytest.log").write_text(proc.stdout + proc.stderr)
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
