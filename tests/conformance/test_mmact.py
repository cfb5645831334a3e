"""MMAct's sensor files as released, typed from the sources that describe them.

No sensor CSV of MMAct is public outside the dataset (it is given on request), so the rows
below follow what two independent readers of the released files handle, e.g.
github.com/mduhme/fusion-gcn ``datasets/mmact/preprocess_data.py`` (``merge_signal_data``):

- no header; ``timestamp,x,y,z``; the timestamp is text parsed with
  ``%Y%m%d_%H:%M:%S.%f``, and "rarely, the timestamp does not include microsecond decimal"
  (``20181109_13:42:52``);
- rows "may be out of order and sometimes duplicated" (the reader sorts and drops repeats);
- ``{stream}/invalid_files.txt`` names, one per line relative to the stream folder
  (``subject1/scene1/session1/pointing.csv``), the files with no measurements;
- ``datasets/mmact/io.py`` lowercases action file names (``name.lower()``) because their
  case differs between folders.

The video files are empty: the manifest only lists them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from harfuse.datasets import scan_dataset
from harfuse.media.imu import read_timestamped_csv
from harfuse.stages import manifest, sample_files
from harfuse.store.quarantine import quarantine_path, read_quarantine
from harfuse.store.shards import ShardReader

# phone acceleration at 100 Hz: a row without a fraction, one out of order, a repeat
ACC = (
    b"20181109_13:42:51.990,0.10,9.80,0.20\n"
    b"20181109_13:42:52,0.20,9.70,0.30\n"
    b"20181109_13:42:52.010,0.30,9.60,0.40\n"
    b"20181109_13:42:52.030,0.50,9.40,0.60\n"
    b"20181109_13:42:52.020,0.40,9.50,0.50\n"
    b"20181109_13:42:52.020,0.60,9.30,0.70\n"
    b"20181109_13:42:52.040,0.60,9.30,0.70\n"
    b"20181109_13:42:52.050,0.70,9.20,0.80\n"
)
# gyroscope / orientation at 50 Hz, in order
SLOW = (
    b"20181109_13:42:51.995,-0.012,0.034,0.101\n"
    b"20181109_13:42:52.015,-0.010,0.030,0.100\n"
    b"20181109_13:42:52.035,-0.008,0.026,0.099\n"
    b"20181109_13:42:52.055,-0.006,0.022,0.098\n"
)
STREAMS = ("acc_phone_clip", "acc_watch_clip", "gyro_clip", "orientation_clip")


def test_release_timestamps_are_sorted_averaged_and_regular(tmp_path):
    path = tmp_path / "talking.csv"
    path.write_bytes(ACC)
    data, rate, channels = read_timestamped_csv(path, "acc_phone")
    assert rate == pytest.approx(100.0) and channels == [
        "acc_phone_x",
        "acc_phone_y",
        "acc_phone_z",
    ]
    # .990, .000, .010, .020 (mean of the repeat), .030, .040, .050
    np.testing.assert_allclose(
        data,
        [
            [0.1, 9.8, 0.2],
            [0.2, 9.7, 0.3],
            [0.3, 9.6, 0.4],
            [0.5, 9.4, 0.6],
            [0.5, 9.4, 0.6],
            [0.6, 9.3, 0.7],
            [0.7, 9.2, 0.8],
        ],
        atol=1e-5,
    )


@pytest.fixture
def release(tmp_path):
    """Three cam1 clips; ``Talking.mp4`` beside ``talking.csv`` files; ``pointing.csv`` of
    the watch listed invalid (empty file); ``waving_hand`` of a test subject."""
    root = tmp_path / "MMAct"
    clips = [(1, 1, "Talking"), (1, 1, "pointing"), (17, 2, "waving_hand")]
    for s, y, action in clips:
        video = root / f"trimmed/subject{s}/cam1/scene1/session{y}/{action}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        video.touch()
        for stream in STREAMS:
            csv = root / f"{stream}/subject{s}/scene1/session{y}/{action.lower()}.csv"
            csv.parent.mkdir(parents=True, exist_ok=True)
            empty = (stream, action) == ("acc_watch_clip", "pointing")
            csv.write_bytes(b"" if empty else ACC if stream.startswith("acc") else SLOW)
    (root / "acc_watch_clip/invalid_files.txt").write_bytes(
        b"subject1/scene1/session1/pointing.csv\r\n"
    )
    return root


def test_a_release_tree_gives_imu_shards_for_valid_samples_and_quarantines_invalid(
    release, tmp_path
):
    found = scan_dataset(release, "mmact")
    df = found.samples.set_index("sample_id")
    assert sorted(df.index) == [
        "s17_cam1_sc1_se2_waving_hand",
        "s1_cam1_sc1_se1_pointing",
        "s1_cam1_sc1_se1_talking",
    ]
    assert found.classes == ["pointing", "talking", "waving_hand"]
    talking = json.loads(df.loc["s1_cam1_sc1_se1_talking", "imu_path"])
    assert talking["acc_phone"].endswith("acc_phone_clip/subject1/scene1/session1/talking.csv")
    assert df.loc["s1_cam1_sc1_se1_pointing", "imu_path"] == ""
    assert df.loc["s1_cam1_sc1_se1_pointing", "video_path"].endswith("pointing.mp4")
    assert [(q["sample_id"], q["reason"]) for q in found.quarantine] == [
        (
            "s1_cam1_sc1_se1_pointing",
            f"IMU: {release}/acc_watch_clip/subject1/scene1/session1/pointing.csv: listed in "
            f"{release}/acc_watch_clip/invalid_files.txt (no measurements)",
        )
    ]
    assert df["cross_subject"].to_dict()["s17_cam1_sc1_se2_waving_hand"] == "test"
    # through the manifest and IMU stages: a shard for every valid sample
    out = tmp_path / "results"
    out.mkdir()
    manifest.run(
        out / "manifest.parquet",
        out / "classes.json",
        out / "quarantine.parquet",
        {"root": str(release), "layout": "mmact"},
        samples_per_shard=10,
    )
    sample_files.run(
        out / "manifest.parquet", 0, out / "imu.h5", "imu", {"rate": 50.0, "window": 8}, "skip"
    )
    shard = ShardReader(out / "imu.h5")
    assert sorted(shard.sample_ids()) == ["s17_cam1_sc1_se2_waving_hand", "s1_cam1_sc1_se1_talking"]
    window = shard.read("s1_cam1_sc1_se1_talking", "imu")
    assert window.shape == (8, 12) and np.isfinite(window).all()
    assert read_quarantine([quarantine_path(out / "imu.h5")]).empty
    assert set(read_quarantine([out / "quarantine.parquet"])["sample_id"]) == {
        "s1_cam1_sc1_se1_pointing"
    }
