"""The prepared GPU check (benchmarks/gpu_check.sh, .py) dry-runs on the CPU, so that it
still works the day a GPU is lent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
SECTIONS = ("pytest", "flow", "parity", "features", "train", "stage")


@pytest.mark.slow
def test_tiny_dry_run_on_the_cpu(tmp_path):
    """Every section runs at toy size (CUDA-only rows skipped), one table comes out on
    stdout and in the output folder."""
    out = tmp_path / "out"
    script = REPO / "benchmarks" / "gpu_check.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--device", "cpu", "--tiny", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = (out / "gpu_check.md").read_text()
    assert table.strip() in proc.stdout
    assert (out / "gpu_check.json").exists()
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")]
    assert rows[0][:3] == ["| section", "setting", "value"]
    body = [(r[0].removeprefix("| "), r[1], r[2]) for r in rows[1:]]
    assert {s for s, _, _ in body} == set(SECTIONS)
    assert not [r for r in body if r[2] == "error"], body
    assert ("pytest", "pytest -m cuda", "skipped: no CUDA") in body
    for method in ("farneback", "tvl1 fast"):
        assert ("flow", f"{method} cuda graph", "skipped: no CUDA") in body
        for variant in ("eager", "compile"):
            row = next(r for r in body if r[1] == f"{method} {variant} batch 2")
            assert float(row[2]) > 0
    measured = {s for s, _, value in body if re.fullmatch(r"[\d.]+|\d+/\d+", value)}
    assert measured == {"flow", "parity", "features", "train", "stage"}
    assert "tvl1 cpu vs cv2" in table and "flow stage end to end" in table


def test_shell_script_syntax_lock_and_budget():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text()
    assert "requirements/lock-py3.11-linux-x86_64.txt" in text
    assert (REPO / "requirements" / "lock-py3.11-linux-x86_64.txt").exists()
    assert re.search(r"BUDGET_S=\$\{BUDGET_S:-480\}", text)  # 8 minutes, install included
    assert "make venv" in text and "gpu_check.py" in text


def test_shell_script_stops_without_cuda(tmp_path):
    """With an interpreter given (no install) and no GPU, the script says how to dry-run
    instead of measuring full sizes on the CPU."""
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    env = {**os.environ, "GPU_CHECK_PYTHON": sys.executable, "OUT": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1
    assert "--device cpu --tiny" in proc.stderr


IMAGE_PYTHON = REPO / ".venv-image" / "bin" / "python"


def network_off() -> list[str]:
    """A command prefix that runs its command without a network (a new network namespace
    with only a loopback that is down), or ``[]`` where this machine cannot make one."""
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    return ["unshare", "-rn"] if probe.returncode == 0 else []


@pytest.mark.slow
@pytest.mark.skipif(
    not IMAGE_PYTHON.exists(),
    reason="no .venv-image (the GPU node's image imitated: `make image-env`, 2.5 GB from PyPI)",
)
def test_image_mode_runs_every_section_on_the_images_package_set(tmp_path):
    """The check as it runs on the offline node, through ``gpu_check.sh --image`` with the
    network off (where the machine can switch it off): Python 3.12, torch 2.11, numpy 2.5,
    opencv-python-headless, no PyAV, librosa, snakemake or jsonschema; harfuse from src/,
    the inputs from a bundle made here. Every section imports and measures."""
    bundle, out = tmp_path / "bundle", tmp_path / "out"
    script = str(REPO / "benchmarks" / "gpu_check.py")
    subprocess.run(
        [sys.executable, script, "--tiny", "--make-bundle", str(bundle)], check=True, timeout=600
    )
    env = {
        **os.environ,
        "GPU_CHECK_PYTHON": str(IMAGE_PYTHON),
        "GPU_CHECK_DEVICE": "cpu",
        "GPU_BUNDLE": str(bundle),
        "OUT": str(out),
    }
    proc = subprocess.run(
        [*network_off(), "bash", str(SCRIPT), "--image", "--tiny"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    versions = subprocess.run(
        [str(IMAGE_PYTHON), "-c", "import sys, torch, cv2; print(sys.version_info[:2], "
         "torch.__version__, hasattr(cv2, 'optflow'))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "(3, 12) 2.11.0" in versions and versions.strip().endswith("False")
    rows = [line.split(" | ") for line in (out / "gpu_check.md").read_text().splitlines()]
    body = [(r[0].removeprefix("| "), r[1], r[2]) for r in rows if r[0].startswith("| ")][1:]
    bad = [r for r in body if r[2] == "error" or ("skipped: " in r[2] and "CUDA" not in r[2])]
    assert not bad, bad
    measured = {s for s, _, value in body if re.fullmatch(r"[\d.]+|\d+/\d+", value)}
    assert measured == {"flow", "parity", "features", "train", "stage"}
    assert "real 64x48" in (out / "gpu_check.md").read_text()  # the bundle's references
