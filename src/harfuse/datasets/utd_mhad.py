"""UTD-MHAD: ``RGB/a{A}_s{S}_t{T}_color.avi``, ``Inertial/a{A}_s{S}_t{T}_inertial.mat`` and,
optionally, ``Skeleton/a{A}_s{S}_t{T}_skeleton.mat`` and ``Depth/a{A}_s{S}_t{T}_depth.mat``
(``d_depth``, read by :mod:`harfuse.modalities.depth`).

The inertial ``.mat`` files hold ``d_iner``, N x 6: accelerometer xyz (g) and gyroscope xyz
(deg/s) at 50 Hz; the skeleton ``.mat`` files ``d_skel``, 20 Kinect v1 joints x 3 (metres)
x T frames at 30 Hz (read by :func:`harfuse.media.skeleton.read_utd_skeleton`). 27 actions,
8 subjects, 4 trials; odd subjects train, even subjects test (``cross_subject``). A sample
lacking one of its files keeps the modalities it has and gets a quarantine row for the
missing one; without a ``Skeleton`` (``Depth``) folder every ``skeleton_path``
(``depth_path``) is empty and nothing is quarantined for it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harfuse.datasets import Scan
from harfuse.datasets.common import finish_rows, require
from harfuse.datasets.fixture_media import tiny_video
from harfuse.media.skeleton import (
    KINECT_FPS,
    KINECT_V1_ARMS,
    KINECT_V1_REST,
    UTD_TO_KINECT_V1,
    moving_figure,
)

ACTIONS = (
    "right_arm_swipe_to_the_left",
    "right_arm_swipe_to_the_right",
    "right_hand_wave",
    "two_hand_front_clap",
    "right_arm_throw",
    "cross_arms_in_the_chest",
    "basketball_shoot",
    "right_hand_draw_x",
    "right_hand_draw_circle_clockwise",
    "right_hand_draw_circle_counter_clockwise",
    "draw_triangle",
    "bowling_right_hand",
    "front_boxing",
    "baseball_swing_from_right",
    "tennis_right_hand_forehand_swing",
    "arm_curl_two_arms",
    "tennis_serve",
    "two_hand_push",
    "right_hand_knock_on_door",
    "right_hand_catch_an_object",
    "right_hand_pick_up_and_throw",
    "jogging_in_place",
    "walking_in_place",
    "sit_to_stand",
    "stand_to_sit",
    "forward_lunge_left_foot_forward",
    "squat_two_arms_stretch_out",
)
IMU_RATE_HZ = 50.0
_NAME = re.compile(
    r"^a(?P<a>\d+)_s(?P<s>\d+)_t(?P<t>\d+)_(?P<kind>color|inertial|skeleton|depth)\.(avi|mat)$"
)


def check_root(root: Path, rgb_dir: str, inertial_dir: str) -> list[Path]:
    """``root/rgb_dir`` and ``root/inertial_dir``, or :class:`LayoutError` naming the
    missing one."""
    return [require(root, rgb_dir, "utd_mhad"), require(root, inertial_dir, "utd_mhad")]


def absent_modalities(root: Path, skeleton_dir: str, depth_dir: str) -> dict[str, str]:
    """The dataset skeletons (depth maps) of a copy without the ``Skeleton`` (``Depth``)
    folder, and why (known before the manifest: the variants reading them will be
    skipped)."""
    optional = {"skeleton": skeleton_dir, "depth": depth_dir}
    return {
        m: f"{folder}/ not found under {root}"
        for m, folder in optional.items()
        if not (root / folder).is_dir()
    }


def list_files(
    folders: list[Path],
) -> tuple[dict[tuple[int, int, int], dict[str, Path]], list[dict[str, str]]]:
    """``({(action, subject, trial): {kind: file}}, quarantine rows of the files whose
    names are not a sample's)`` over ``folders``."""
    found: dict[tuple[int, int, int], dict[str, Path]] = {}
    quarantine = []
    for folder in folders:
        for path in sorted(folder.iterdir()):
            m = _NAME.match(path.name)
            if not m or not 1 <= int(m["a"]) <= len(ACTIONS):
                reason = (
                    f"{path}: not a{{1..27}}_s{{S}}_t{{T}}_color.avi, _inertial.mat, "
                    "_skeleton.mat or _depth.mat"
                )
                quarantine.append({"sample_id": path.stem, "stage": "manifest", "reason": reason})
                continue
            key = (int(m["a"]), int(m["s"]), int(m["t"]))
            found.setdefault(key, {})[m["kind"]] = path
    return found, quarantine


def scan(
    root: Path,
    rgb_dir: str = "RGB",
    inertial_dir: str = "Inertial",
    skeleton_dir: str = "Skeleton",
    depth_dir: str = "Depth",
) -> Scan:
    """Manifest rows pairing each sample's video, inertial file and, when ``root/skeleton_dir``
    (``root/depth_dir``) exists, skeleton (depth) file."""
    kinds = [("color", rgb_dir), ("inertial", inertial_dir)]
    folders = check_root(root, rgb_dir, inertial_dir)
    for kind, folder in (("skeleton", skeleton_dir), ("depth", depth_dir)):
        if (root / folder).is_dir():
            kinds.append((kind, folder))
            folders.append(root / folder)
    found, quarantine = list_files(folders)
    rows = []
    for (a, s, t), files in sorted(found.items()):
        sid = f"a{a}_s{s}_t{t}"
        for kind, folder in kinds:
            if kind not in files:
                quarantine.append(
                    {
                        "sample_id": sid,
                        "stage": "manifest",
                        "reason": f"{sid}_{kind} not found under {root / folder}",
                    }
                )
        rows.append(
            {
                "sample_id": sid,
                "label": ACTIONS[a - 1],
                "subject": s,
                "trial": t,
                "video_path": str(files.get("color", "")),
                "imu_path": str(files.get("inertial", "")),
                "skeleton_path": str(files.get("skeleton", "")),
                "depth_path": str(files.get("depth", "")),
                "cross_subject": "train" if s % 2 else "test",
            }
        )
    return Scan(
        finish_rows(rows, list(ACTIONS), ["cross_subject"]),
        ["cross_subject"],
        list(ACTIONS),
        quarantine,
    )


def write_fixture(
    root: Path, actions: int = 3, subjects: int = 4, trials: int = 2, skeleton: bool = True
) -> Path:
    """A miniature UTD-MHAD: tiny .avi clips, ``d_iner`` .mat files (50 Hz, 2-3 s) and, with
    ``skeleton``, ``d_skel`` .mat files of a moving 20-joint figure over the same duration
    (30 Hz)."""
    from scipy.io import savemat

    for a in range(1, actions + 1):
        for s in range(1, subjects + 1):
            for t in range(1, trials + 1):
                seed = 10000 * a + 100 * s + t
                tiny_video(root / "RGB" / f"a{a}_s{s}_t{t}_color.avi", seed=seed)
                rng = np.random.default_rng(seed)
                n = int(rng.integers(100, 150))
                time = np.arange(n) / IMU_RATE_HZ
                d_iner = np.column_stack(
                    [
                        np.sin(2 * np.pi * a * time + k) + 0.05 * rng.standard_normal(n)
                        for k in range(6)
                    ]
                )
                (root / "Inertial").mkdir(parents=True, exist_ok=True)
                savemat(root / "Inertial" / f"a{a}_s{s}_t{t}_inertial.mat", {"d_iner": d_iner})
                if skeleton:
                    frames = round(n / IMU_RATE_HZ * KINECT_FPS)
                    figure = moving_figure(KINECT_V1_REST, KINECT_V1_ARMS, frames, seed)
                    (root / "Skeleton").mkdir(parents=True, exist_ok=True)
                    savemat(
                        root / "Skeleton" / f"a{a}_s{s}_t{t}_skeleton.mat",
                        # (T, 20, 3) -> (20, 3, T), in the dataset's joint order
                        {"d_skel": figure[:, UTD_TO_KINECT_V1].transpose(1, 2, 0)},
                    )
    return root
