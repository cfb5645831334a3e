import hashlib
import shutil

import av
import numpy as np
import pandas as pd
import pytest
from scipy.io import loadmat

from harfuse.datasets import LayoutError, scan_dataset
from harfuse.datasets.demo import (
    ACTIONS,
    MAX_DROPOUT_FRACTION,
    MOTIONS,
    SOUNDS,
    Body,
    DemoSpec,
    draw_arm_motion,
    generate_demo,
    sample_rng,
    synth_skeleton,
)
from harfuse.media.skeleton import KINECT_FPS, read_utd_skeleton
from harfuse.skeleton.formats import KINECT_V1_20

from .conftest import TINY_DEMO

JOINT = {name: i for i, name in enumerate(KINECT_V1_20.joints)}
#: sha256 over (name, bytes) of TINY_DEMO's IMU files, sorted by name, as generated before
#: the skeleton existed. The IMU is the last thing drawn from a sample's stream, so this
#: also pins every draw the video and the audio make before it.
TINY_DEMO_IMU_SHA256 = "d36de44d24502118fd6044bd0d6b9ab99e89e1a455292133673945f735a0949a"


def test_actions_cross_every_motion_with_every_sound():
    pairs = {(m, s) for _, m, s in ACTIONS.values()}
    assert pairs == {(m, s) for m in MOTIONS for s in SOUNDS}
    assert len(ACTIONS) == 6


def test_layout_and_names(demo_root):
    videos = sorted(p.name for p in (demo_root / "RGB").iterdir())
    imus = sorted(p.name for p in (demo_root / "Inertial").iterdir())
    skeletons = sorted(p.name for p in (demo_root / "Skeleton").iterdir())
    n = len(ACTIONS) * TINY_DEMO.subjects * TINY_DEMO.trials
    assert len(videos) == len(imus) == len(skeletons) == n
    assert "a6_s2_t1_color.mp4" in videos and "a6_s2_t1_inertial.csv" in imus
    assert skeletons == [v.replace("_color.mp4", "_skeleton.mat") for v in videos]
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


def skeletons(root):
    """``(sample id, ArmMotion, d_skel (20, 3, T), track)`` for each skeleton under ``root``."""
    for path in sorted((root / "Skeleton").iterdir()):
        sid = path.name.removesuffix("_skeleton.mat")
        a, s, t = (int(part[1:]) for part in sid.split("_"))
        arm = draw_arm_motion(ACTIONS[a][1], TINY_DEMO, sample_rng(TINY_DEMO, a, s, t))
        yield sid, arm, loadmat(path)["d_skel"], read_utd_skeleton(path)


def test_skeleton_is_utd_mhad_kinect_at_30_hz(demo_root):
    torso: dict[str, list[float]] = {}
    for sid, arm, d_skel, track in skeletons(demo_root):
        frames = d_skel.shape[2]
        assert d_skel.shape == (20, 3, frames) and d_skel.dtype == np.float64, sid
        assert abs(frames - arm.duration_s * KINECT_FPS) <= 0.5, sid
        assert track.joints.shape == (frames, 1, 20, 3) and track.fps == KINECT_FPS
        assert track.joint_format == "kinect_v1_20"
        seen = track.joints[track.detected[:, 0], 0]  # (T', 20, 3) m
        # a standing body about 2.5 m away, head over hips over feet, the still left hand
        # hanging below the hips
        y = seen[..., 1].mean(axis=0)  # (20,)
        assert y[JOINT["head"]] > y[JOINT["shoulder_center"]] > y[JOINT["hip_center"]], sid
        assert y[JOINT["hip_center"]] > y[JOINT["knee_left"]] > y[JOINT["foot_left"]], sid
        assert 1.3 < y[JOINT["head"]] - y[JOINT["foot_right"]] < 1.9, sid
        assert 2.2 < seen[:, JOINT["hip_center"], 2].mean() < 2.8, sid
        assert y[JOINT["hand_left"]] < y[JOINT["hip_center"]], sid
        subject = sid.split("_")[1]
        torso.setdefault(subject, []).append(y[JOINT["shoulder_center"]] - y[JOINT["hip_center"]])
    for subject, lengths in torso.items():  # one build per subject
        assert np.ptp(lengths) < 0.01, subject


def test_skeleton_right_hand_follows_the_video_arm(demo_root):
    errors, rel_all, theta_all = [], [], []
    for _, arm, _, track in skeletons(demo_root):
        seen = track.detected[:, 0]
        theta = arm.angle(np.arange(len(seen)) / KINECT_FPS)[seen]  # (T',) rad
        joints = track.joints[seen, 0].astype(np.float64)
        rel = joints[:, JOINT["hand_right"]] - joints[:, JOINT["shoulder_right"]]  # (T', 3) m
        # the image's right is camera -x (the figure faces a camera that does not mirror)
        estimate = np.arctan2(rel[:, 1], -rel[:, 0])
        errors.append(np.abs(np.angle(np.exp(1j * (estimate - theta)))))
        rel_all.append(rel)
        theta_all.append(theta)
    error, rel, theta = (np.concatenate(x) for x in (errors, rel_all, theta_all))
    assert np.median(error) < 0.06 and np.percentile(error, 95) < 0.15
    assert np.corrcoef(-rel[:, 0], np.cos(theta))[0, 1] > 0.98
    assert np.corrcoef(rel[:, 1], np.sin(theta))[0, 1] > 0.98
    assert 0.4 < np.median(np.linalg.norm(rel, axis=1)) < 0.75  # shoulder to hand, m


def test_skeleton_loses_only_a_few_whole_frames(demo_root):
    for sid, _, d_skel, track in skeletons(demo_root):
        zero = (d_skel == 0).all(axis=1)  # (20, T): joint at exactly 0
        lost = zero.all(axis=0)
        assert not zero[:, ~lost].any(), sid
        assert lost.mean() <= MAX_DROPOUT_FRACTION and not lost.all(), sid
        assert (track.detected[:, 0] == ~lost).all(), sid
    # a long take shows the losses themselves and the jitter
    theta = np.full(3000, np.pi / 2)
    pose = synth_skeleton(theta, Body(1.0, (0.0, -0.13, 2.5)), np.random.default_rng(0))
    lost = (pose == 0).all(axis=(1, 2))
    assert 0 < lost.sum() <= MAX_DROPOUT_FRACTION * len(theta)
    assert not (pose[~lost] == 0).all(axis=2).any()
    spread = pose[~lost].std(axis=0)  # (20, 3) m, jitter plus sway
    assert 0.008 < spread[JOINT["spine"], 1] < spread[JOINT["hand_right"], 1] < 0.04
    short = synth_skeleton(theta[:45], Body(1.0, (0.0, -0.13, 2.5)), np.random.default_rng(0))
    assert (short != 0).any(axis=(1, 2)).all()  # under 50 frames, 2 % is no frame


def test_existing_outputs_are_as_before_the_skeleton(demo_root):
    digest = hashlib.sha256()
    for imu in sorted((demo_root / "Inertial").iterdir()):
        digest.update(imu.name.encode())
        digest.update(imu.read_bytes())
    assert digest.hexdigest() == TINY_DEMO_IMU_SHA256


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
    for skeleton in sorted((demo_root / "Skeleton").iterdir()):
        # a .mat header carries its creation time: compare the data
        first, second = (
            loadmat(r / "Skeleton" / skeleton.name)["d_skel"] for r in (demo_root, again)
        )
        assert np.array_equal(first, second), skeleton.name


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
    assert row.skeleton_path == str(demo_root / "Skeleton" / "a4_s2_t1_skeleton.mat")
    assert (df["skeleton_path"] != "").all()
    assert found.quarantine == []


def test_scan_quarantines_video_without_imu(demo_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(demo_root, root)
    (root / "Inertial" / "a2_s1_t1_inertial.csv").unlink()
    (root / "RGB" / "notes.mp4").write_bytes(b"")
    found = scan_dataset(root, "demo")
    assert "a2_s1_t1" not in set(found.samples.sample_id)
    reasons = {q["sample_id"]: q["reason"] for q in found.quarantine}
    assert "a2_s1_t1_inertial.csv not found" in reasons["a2_s1_t1"]
    assert "notes.mp4" in reasons


def test_scan_keeps_a_sample_without_its_skeleton(demo_root, tmp_path):
    root = shutil.copytree(demo_root, tmp_path / "copy")
    missing = root / "Skeleton" / "a3_s2_t1_skeleton.mat"
    missing.unlink()
    found = scan_dataset(root, "demo")
    row = found.samples.set_index("sample_id").loc["a3_s2_t1"]
    assert row.skeleton_path == "" and row.video_path != "" and row.imu_path != ""
    assert len(found.samples) == len(ACTIONS) * TINY_DEMO.subjects * TINY_DEMO.trials
    assert [(q["sample_id"], q["reason"]) for q in found.quarantine] == [
        ("a3_s2_t1", f"{missing} not found")
    ]
    shutil.rmtree(root / "Skeleton")  # a demo from before the skeleton
    found = scan_dataset(root, "demo")
    assert found.quarantine == [] and (found.samples["skeleton_path"] == "").all()


def test_scan_names_missing_part_of_layout(tmp_path):
    (tmp_path / "RGB").mkdir()
    with pytest.raises(LayoutError, match=r"actions\.csv not found under"):
        scan_dataset(tmp_path, "demo")
    with pytest.raises(ValueError, match="unknown dataset layout 'ucf'"):
        scan_dataset(tmp_path, "ucf")
