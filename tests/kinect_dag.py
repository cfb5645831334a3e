"""The whole DAG on a UTD-MHAD and an NTU RGB+D fixture, with depth maps added in each
dataset's own format and one bad skeleton file each: the depth and the dataset-skeleton
variants of tests/test_depth.py and tests/test_skeleton_workflow.py in one run per
layout (tests/conftest.py's ``kinect_runs``), their shard stages made once. Each
layout's fixture is written beside its workdir (``utd/``, ``ntu/``)."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import yaml
from scipy.io import savemat

from harfuse.datasets import adapter

from .helpers import REPO

#: its .skeleton file is cut in the middle of a frame (NTU RGB+D)
TRUNCATED = "S001C001P001R001A001"
#: its .mat holds another variable than d_skel (UTD-MHAD)
NO_D_SKEL = "a2_s3_t1"

SINGLE_DEPTH = {"model": "single", "modalities": ["depth"]}
SINGLE_SKELETON = {"model": "single", "modalities": ["skeleton"]}
#: layout -> its variants: depth alone and in mid fusion; the dataset's skeletons alone
#: (NTU: on both official protocols) and, on UTD-MHAD, a TCN and two stages with the IMU
VARIANTS = {
    "utd_mhad": {
        "depth": SINGLE_DEPTH,
        "depth_imu": {"model": "mid", "modalities": ["depth", "imu"]},
        "skeleton_tcn": {**SINGLE_SKELETON, "options": {"encoders": {"skeleton": "skeleton_tcn"}}},
        "skeleton_imu": {"model": "two_stage", "modalities": ["skeleton", "imu"]},
    },
    "ntu_rgbd": {
        "depth": SINGLE_DEPTH,
        "depth_skeleton": {"model": "mid", "modalities": ["depth", "skeleton"]},
        "skeleton": SINGLE_SKELETON,
    },
}


def blob(frames: int, height: int, width: int, seed: int, period: float) -> np.ndarray:
    """``(frames, height, width)`` uint16 mm: a person-sized blob about 2.5 m away on a 0
    (masked) background, swaying with ``period`` (frames)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:height, :width]
    maps = np.zeros((frames, height, width), np.uint16)
    for t in range(frames):
        cx = width / 2 + width / 6 * np.sin(2 * np.pi * t / period + rng.uniform(0, 0.3))
        inside = ((cols - cx) / (width / 8)) ** 2 + ((rows - height / 2) / (height / 3)) ** 2 <= 1
        maps[t][inside] = 2500 + rng.integers(-30, 30, int(inside.sum()))
    return maps


def add_utd_depth(root: Path) -> Path:
    """``Depth/a{A}_s{S}_t{T}_depth.mat`` (``d_depth``, 240 x 320 x frames uint16 mm, 30 Hz,
    2-2.5 s) beside every video of a UTD-MHAD fixture; the blob sways at the action's pace."""
    (root / "Depth").mkdir(exist_ok=True)
    for video in sorted((root / "RGB").glob("*_color.avi")):
        sid = video.name.removesuffix("_color.avi")
        action = int(sid.split("_")[0][1:])
        seed = zlib.crc32(sid.encode()) % 1000  # the same maps in every process
        maps = blob(60 + len(sid) % 3 * 8, 240, 320, seed, 8 + 6 * action)
        path = root / "Depth" / f"{sid}_depth.mat"
        savemat(path, {"d_depth": maps.transpose(1, 2, 0)}, do_compression=True)
    return root


def add_ntu_depth(root: Path) -> Path:
    """``nturgb+d_depth_masked/{name}/MDepth-{n:08d}.png`` (424 x 512 uint16 mm, frames
    numbered from 1) for every video of an NTU RGB+D fixture."""
    for video in sorted((root / "nturgb+d_rgb").glob("*_rgb.avi")):
        name = video.name.removesuffix("_rgb.avi")
        folder = root / "nturgb+d_depth_masked" / name
        folder.mkdir(parents=True)
        action = int(name[-3:])
        for n, depth in enumerate(blob(24, 424, 512, int(name[1:4]), 6 + action % 5 * 4), 1):
            cv2.imwrite(str(folder / f"MDepth-{n:08d}.png"), depth)
    return root


def shrunk(layout: str, root: Path) -> dict:
    """``configs/{layout}.yaml`` on the fixture at ``root`` with :data:`VARIANTS`, in
    seconds; one hidden class on UTD-MHAD (the two-stage variant's hidden-class runs)."""
    cfg = yaml.safe_load((REPO / "configs" / f"{layout}.yaml").read_text())
    cfg["dataset"]["root"] = str(root)
    cfg["frames"].update(fps=4.0, size=32)
    cfg["depth"].update(size=32, fps=6.0)
    cfg["train"]["params"].update(epochs=2, batch_size=8)
    cfg["train"]["inputs"].update(skeleton_length=16, depth_length=8)
    for spec in cfg["features"]["sets"].values():
        spec.update(weights="none", encoder="r3d_18", num_frames=2, input_size=[32, 32])
    cfg["train"]["variants"] = VARIANTS[layout]
    cfg["experiments"] = {"ratios": [], "hidden_classes": 1 if layout == "utd_mhad" else 0}
    return cfg


def ntu_run(base: Path) -> tuple[Path, dict]:
    """The NTU RGB+D fixture with depth and its truncated skeleton file in ``base/ntu``:
    its workdir and config, run in the background (tests/conftest.py)."""
    ntu = add_ntu_depth(adapter("ntu_rgbd").write_fixture(base / "ntu"))
    skeleton = ntu / "nturgb+d_skeletons" / f"{TRUNCATED}.skeleton"
    lines = skeleton.read_text().splitlines(keepends=True)
    skeleton.write_text("".join(lines[: len(lines) // 2 + 3]))
    return base / "run-ntu_rgbd", shrunk("ntu_rgbd", ntu)


def utd_run(base: Path) -> tuple[Path, dict]:
    """The UTD-MHAD fixture with depth and its skeleton file without ``d_skel`` in
    ``base/utd``: its workdir and config, run in the background."""
    utd = add_utd_depth(adapter("utd_mhad").write_fixture(base / "utd"))
    savemat(utd / "Skeleton" / f"{NO_D_SKEL}_skeleton.mat", {"skel": [[0.0]]})
    return base / "run-utd_mhad", shrunk("utd_mhad", utd)
