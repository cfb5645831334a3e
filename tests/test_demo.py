import av
import numpy as np
import pandas as pd
import pytest

from harfuse.datasets import LayoutError, scan_dataset
from harfuse.datasets.demo import ACTIONS, MOTIONS, SOUNDS, DemoSpec, generate_demo

from .conftest import TINY_DEMO


def test_actions_cross_every_motion_with_every_sound():
    pairs = {(m, s) for _, m, s in ACTIONS.values()}
    assert pairs == {(m, s) for m in MOTIONS for s in SOUNDS}
    assert len(ACTIONS) == 6


def test_layout_and_names(demo_root):
    videos = sorted(p.name for p in (demo_root / "RGB").iterdir())
    imus = sorted(p.name for p in (demo_root / "Inertial").iterdir())
    n = len(ACTIONS) * TINY_DEMO.subjects * TINY_DEMO.trials
    assert len(videos) == len(imus) == n
    assert "a6_s2_t1_color.mp4" in videos and "a6_s2_t1_inertial.csv" in imus
    assert (demo_root / "demo.json").exists()
    actions = pd.read_csv(demo_root / "actions.csv")
    assert list(actions.columns) == ["action", "name", "motion", "sound"]


def test_video_is_h264_with_aac_audio(demo_root):
    with av.open(str(demo_root / "RGB" / "a1_s1_t1_color.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.audio[0].codec_context.name == "aac"
        assert c.streams.audio[0].rate == TINY_DEMO.audio_rate
        assert c.streams.video[0].width == TINY_DEMO.size


def test_imu_is_recorded_at_its_own_rate(demo_root):
    imu = pd.read_csv(demo_root / "Inertial" / "a5_s1_t1_inertial.csv")
    assert list(imu.columns) == ["time_s", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    assert np.allclose(np.diff(imu["time_s"]), 1 / TINY_DEMO.imu_rate)
    # circle (a5) turns the arm continuously: mean angular rate well above noise
    assert abs(imu["gyr_z"].mean()) > 200


def decoded(path) -> bytes:
    """Every decoded video frame and audio sample of ``path``, as bytes."""
    with av.open(str(path)) as c:
        video = b"".join(f.to_ndarray(format="rgb24").tobytes() for f in c.decode(video=0))
    with av.open(str(path)) as c:
        audio = b"".join(f.to_ndarray().tobytes() for f in c.decode(audio=0))
    return video + audio


def test_generation_is_deterministic(demo_root, tmp_path):
    again = generate_demo(tmp_path / "again", TINY_DEMO)
    for video in sorted((demo_root / "RGB").iterdir()):
        assert decoded(video) == decoded(again / "RGB" / video.name), video.name
    for imu in sorted((demo_root / "Inertial").iterdir()):
        assert imu.read_bytes() == (again / "Inertial" / imu.name).read_bytes(), imu.name


def test_other_seed_gives_other_content(demo_root, tmp_path):
    other = generate_demo(tmp_path / "other", DemoSpec(**{**TINY_DEMO.__dict__, "seed": 99}))
    name = "a3_s2_t1_inertial.csv"
    assert (other / "Inertial" / name).read_bytes() != (demo_root / "Inertial" / name).read_bytes()


def test_scan_splits_odd_subjects_train(demo_root):
    found = scan_dataset(demo_root, "demo")
    df = found.samples
    assert found.splits == ["cross_subject"]
    assert found.classes == [name for name, _, _ in ACTIONS.values()]
    assert set(df.loc[df.subject == 1, "cross_subject"]) == {"train"}
    assert set(df.loc[df.subject == 2, "cross_subject"]) == {"test"}
    row = df.set_index("sample_id").loc["a4_s2_t1"]
    assert row.label == "swing_clap" and row.label_idx == 3
    assert found.quarantine == []


def test_scan_quarantines_video_without_imu(demo_root, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(demo_root, root)
    (root / "Inertial" / "a2_s1_t1_inertial.csv").unlink()
    (root / "RGB" / "notes.mp4").write_bytes(b"")
    found = scan_dataset(root, "demo")
    assert "a2_s1_t1" not in set(found.samples.sample_id)
    reasons = {q["sample_id"]: q["reason"] for q in found.quarantine}
    assert "a2_s1_t1_inertial.csv not found" in reasons["a2_s1_t1"]
    assert "notes.mp4" in reasons


def test_scan_names_missing_part_of_layout(tmp_path):
    (tmp_path / "RGB").mkdir()
    with pytest.raises(LayoutError, match=r"actions\.csv not found under"):
        scan_dataset(tmp_path, "demo")
    with pytest.raises(ValueError, match="unknown dataset layout 'ucf'"):
        scan_dataset(tmp_path, "ucf")
