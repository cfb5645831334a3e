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
