"""MMAct (trimmed): RGB video per camera plus phone/watch inertial CSV streams.

Supported layout under the root::

    trimmed/subject{S}/cam{C}/scene{X}/session{Y}/{action}.mp4
    acc_phone_clip/subject{S}/scene{X}/session{Y}/{action}.csv     (about 100 Hz)
    acc_watch_clip/subject{S}/scene{X}/session{Y}/{action}.csv     (about 100 Hz)
    gyro_clip/subject{S}/scene{X}/session{Y}/{action}.csv          (about 50 Hz)
    orientation_clip/subject{S}/scene{X}/session{Y}/{action}.csv   (about 50 Hz)

The CSVs have no header; rows are ``timestamp,x,y,z``. As released, the timestamp is text
``20181109_13:42:51.321`` (``%Y%m%d_%H:%M:%S.%f``; the fraction is sometimes absent), rows
may be out of order and a timestamp may repeat (read by
:func:`harfuse.media.imu.read_timestamped_csv`; ISO date-time text and seconds work too).
Each stream keeps its own rate until the IMU stage resamples and aligns them. A stream
folder may hold ``invalid_files.txt``, one path per line relative to that folder
(``subject1/scene1/session1/talking.csv``), naming files without measurements: such a
sample keeps its video and is quarantined for IMU with that reason, as is one lacking a
stream file. Action file names differ in case between the folders of the release
(``Talking.mp4`` beside ``talking.csv``), so the files of a sample are matched without
regard to case. ``imu_path`` holds a JSON object ``{stream: path}``.

Splits: ``cross_subject`` (``test_subjects``, default 17-20, test; the rest train) and
``cross_session`` (``test_sessions`` test, default the highest session number present).
Classes are the action names found, lowercased, in alphabetical order. The MMAct paper
counts 37 actions; reference readers of the release (e.g. mduhme/fusion-gcn,
``datasets/mmact/constants.py``) list 35 file names, so no class list is fixed here.
``dataset.classes`` keeps a subset of them, as for every layout. Assumed, as no official
protocol file is published: ``cross_subject`` tests subjects 17-20 (the challenge's
cross-subject setting) and ``cross_session`` tests the highest session number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from harfuse.datasets import Scan
from harfuse.datasets.common import LayoutError, finish_rows, require
from harfuse.datasets.fixture_media import tiny_video

STREAMS = ("acc_phone_clip", "acc_watch_clip", "gyro_clip", "orientation_clip")
_PARTS = re.compile(
    r"^subject(?P<s>\d+)/(?P<cam>cam\d+)/scene(?P<x>\d+)/session(?P<y>\d+)/"
    r"(?P<action>[^/]+)\.mp4$"
)


def check_root(root: Path, video_dir: str, streams: tuple[str, ...] | list[str]) -> Path:
    """``root/video_dir``, or :class:`LayoutError` naming it or a missing sensor stream
    folder."""
    for stream in streams:
        require(root, stream, "mmact")
    return require(root, video_dir, "mmact")


INVALID_LIST = "invalid_files.txt"


def _key(relative: str) -> str:
    """A stream file's match key: its path relative to the stream folder, ``/``-separated,
    lowercased."""
    return relative.replace("\\", "/").strip().strip("/").removeprefix("./").lower()


def stream_files(folder: Path) -> tuple[dict[str, Path], set[str]]:
    """``({key: csv}, {keys listed in invalid_files.txt})`` of one sensor stream folder
    (keys from :func:`_key`; a listed line may start with the folder's own name)."""
    files = {_key(p.relative_to(folder).as_posix()): p for p in folder.rglob("*.csv")}
    invalid: set[str] = set()
    listed = folder / INVALID_LIST
    if listed.is_file():
        for line in listed.read_text(encoding="utf-8-sig", errors="replace").splitlines():
            key = _key(line)
            if key:
                invalid.add(key.removeprefix(f"{folder.name.lower()}/"))
    return files, invalid


def sensor_files(
    root: Path, sensors: dict[str, tuple[dict[str, Path], set[str]]], key: str
) -> tuple[dict[str, str], list[str]]:
    """``({stream: csv}, problems)`` of a sample's sensor files (``key``: :func:`_key`;
    ``sensors``: :func:`stream_files` of each stream folder): a problem per stream whose
    file is absent or listed in its ``invalid_files.txt``."""
    found, problems = {}, []
    for stream, (files, invalid) in sensors.items():
        if key not in files:
            problems.append(f"{root / stream / key} not found (any case)")
        elif key in invalid:
            problems.append(
                f"{files[key]}: listed in {root / stream / INVALID_LIST} (no measurements)"
            )
        else:
            found[stream.removesuffix("_clip")] = str(files[key])
    return found, problems


def scan(
    root: Path,
    video_dir: str = "trimmed",
    cameras: tuple[str, ...] | list[str] = ("cam1",),
    streams: tuple[str, ...] | list[str] = STREAMS,
    test_subjects: tuple[int, ...] | list[int] = (17, 18, 19, 20),
    test_sessions: tuple[int, ...] | list[int] | None = None,
) -> Scan:
    """Manifest rows of every video of the chosen cameras."""
    videos = check_root(root, video_dir, streams)
    sensors = {stream: stream_files(root / stream) for stream in streams}
    rows, quarantine = [], []
    for path in sorted(videos.rglob("*.mp4")):
        m = _PARTS.match(path.relative_to(videos).as_posix())
        if not m:
            quarantine.append(
                {
                    "sample_id": path.stem,
                    "stage": "manifest",
                    "reason": f"{path}: not subject{{S}}/cam{{C}}/scene{{X}}/session{{Y}}/"
                    "{action}.mp4",
                }
            )
            continue
        if m["cam"] not in cameras:
            continue
        s, x, y, action = int(m["s"]), int(m["x"]), int(m["y"]), m["action"].lower()
        sid = f"s{s}_{m['cam']}_sc{x}_se{y}_{action}"
        key = _key(f"subject{s}/scene{x}/session{y}/{action}.csv")
        found, problems = sensor_files(root, sensors, key)
        quarantine += [
            {"sample_id": sid, "stage": "manifest", "reason": f"IMU: {reason}", "label": action}
            for reason in problems
        ]
        rows.append(
            {
                "sample_id": sid,
                "label": action,
                "subject": s,
                "session": y,
                "scene": x,
                "camera": m["cam"],
                "video_path": str(path),
                "imu_path": "" if problems else json.dumps(found),
            }
        )
    if not rows:
        raise LayoutError(f"no {'/'.join(cameras)} video under {videos} (mmact layout)")
    sessions = sorted({r["session"] for r in rows})
    test_sessions = list(test_sessions) if test_sessions is not None else sessions[-1:]
    for row in rows:
        row["cross_subject"] = "test" if row["subject"] in test_subjects else "train"
        row["cross_session"] = "test" if row["session"] in test_sessions else "train"
    names = sorted({r["label"] for r in rows})
    splits = ["cross_subject", "cross_session"]
    return Scan(finish_rows(rows, names, splits), splits, names, quarantine)


FIXTURE_ACTIONS = ("checking_time", "pointing", "waving_hand")
#: stream -> (rate Hz, nominal value scale)
FIXTURE_RATES = {
    "acc_phone_clip": 100.0,
    "acc_watch_clip": 100.0,
    "gyro_clip": 50.0,
    "orientation_clip": 50.0,
}


def write_fixture(
    root: Path, subjects: tuple[int, ...] = (1, 2, 17, 18), sessions: int = 2
) -> Path:
    """A miniature MMAct: cam1 and cam2 videos, 4 streams at 100/50 Hz with the release's
    ``%Y%m%d_%H:%M:%S[.%f]`` timestamps, 3 actions, one scene."""
    for s in subjects:
        for y in range(1, sessions + 1):
            for ai, action in enumerate(FIXTURE_ACTIONS):
                seed = 1000 * s + 10 * y + ai
                for cam in ("cam1", "cam2"):
                    tiny_video(
                        root
                        / "trimmed"
                        / f"subject{s}"
                        / cam
                        / "scene1"
                        / f"session{y}"
                        / f"{action}.mp4",
                        seed=seed,
                    )
                rng = np.random.default_rng(seed)
                start = pd.Timestamp("2018-11-09 13:42:51.321")
                for stream, rate in FIXTURE_RATES.items():
                    n = int(2.0 * rate)
                    t = np.arange(n) / rate
                    # the release's text, milliseconds (none when zero, as there)
                    stamps = [
                        v[:-7] if v.endswith(".000000") else v[:-3]
                        for v in (start + pd.to_timedelta(t, unit="s")).strftime(
                            "%Y%m%d_%H:%M:%S.%f"
                        )
                    ]
                    xyz = np.sin(2 * np.pi * (ai + 1) * t[:, None] + np.arange(3)) + 0.05 * (
                        rng.standard_normal((n, 3))
                    )
                    out = root / stream / f"subject{s}" / "scene1" / f"session{y}" / f"{action}.csv"
                    out.parent.mkdir(parents=True, exist_ok=True)
                    pd.DataFrame(
                        {
                            "ts": stamps,
                            "x": xyz[:, 0],
                            "y": xyz[:, 1],
                            "z": xyz[:, 2],
                        }
                    ).to_csv(out, header=False, index=False)
    return root
