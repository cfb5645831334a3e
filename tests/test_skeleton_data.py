"""Dataset skeletons: the UTD-MHAD and NTU RGB+D readers, NTU body selection, the
``ntu_rgbd`` layout's splits and quarantine, UTD-MHAD's ``skeleton_path``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from harfuse.config_schema import ConfigError
from harfuse.datasets import LayoutError, check_dataset, ntu_rgbd, scan_dataset, utd_mhad
from harfuse.media.skeleton import (
    UTD_TO_KINECT_V1,
    SkeletonError,
    read_ntu_skeleton,
    read_skeleton,
    read_utd_skeleton,
)

SKELETONS = "nturgb+d_skeletons"
SINGLE = "S001C001P001R001A001"  # one actor, camera 1: no flickering body
FLICKER = "S001C002P001R001A001"  # one actor and a flickering body listed first
PAIR = "S001C002P001R002A050"  # two actors (the second enters late) and a flickering body


@pytest.fixture(scope="module")
def ntu60(tmp_path_factory) -> Path:
    return ntu_rgbd.write_fixture(tmp_path_factory.mktemp("ntu") / "ntu60")


@pytest.fixture(scope="module")
def ntu120(tmp_path_factory) -> Path:
    return ntu_rgbd.write_fixture(tmp_path_factory.mktemp("ntu") / "ntu120", version=120)


@pytest.fixture(scope="module")
def utd(tmp_path_factory) -> Path:
    return utd_mhad.write_fixture(tmp_path_factory.mktemp("utd") / "utd", 2, 2, 1)


def written(name: str, body: int) -> tuple[np.ndarray, np.ndarray]:
    """``(xyz (T, 25, 3), present (T,))`` of the fixture body at position ``body`` in the
    file, as the 7 significant digits of the text give it."""
    _, bodies = ntu_rgbd.fixture_bodies(name)
    _, xyz, present = bodies[body]
    return np.array([[[float(f"{v:.7g}") for v in j] for j in f] for f in xyz]), present


def skeleton(root: Path, name: str) -> Path:
    return root / SKELETONS / f"{name}.skeleton"


def test_utd_reader_round_trips_the_fixture(utd):
    path = utd / "Skeleton" / "a2_s1_t1_skeleton.mat"
    track = read_utd_skeleton(path)
    d_skel = loadmat(path)["d_skel"]  # (20, 3, T)
    assert track.joints.shape == (d_skel.shape[2], 1, 20, 3) and track.joints.dtype == np.float32
    assert track.fps == 30.0 and track.joint_format == "kinect_v1_20"
    assert track.channels == ("x", "y", "z") and track.detected.all()
    stored = d_skel.transpose(2, 0, 1).astype(np.float32)  # (T, 20, 3), UTD-MHAD's order
    np.testing.assert_array_equal(track.joints[:, 0], stored[:, UTD_TO_KINECT_V1])
    # the readme's order: head first; the format's: hip centre first, the head above it
    head, hip = track.joints[:, 0, 3, 1], track.joints[:, 0, 0, 1]
    assert (stored[:, 0, 1] == head).all() and (head > hip + 0.4).all()
    assert read_skeleton(path).joints.shape == track.joints.shape


def test_utd_reader_masks_empty_frames_and_names_bad_files(tmp_path):
    d_skel = np.ones((20, 3, 5))
    d_skel[:, :, 2] = 0
    savemat(tmp_path / "gap.mat", {"d_skel": d_skel})
    assert read_utd_skeleton(tmp_path / "gap.mat").detected[:, 0].tolist() == [1, 1, 0, 1, 1]
    savemat(tmp_path / "none.mat", {"d_iner": np.zeros((5, 6))})
    savemat(tmp_path / "shape.mat", {"d_skel": np.zeros((25, 3, 5))})
    savemat(tmp_path / "nan.mat", {"d_skel": np.full((20, 3, 5), np.nan)})
    (tmp_path / "text.mat").write_text("not MATLAB")
    for name, reason in (
        ("none", r"no d_skel variable \(has \['d_iner'\]\)"),
        ("shape", r"d_skel has shape \(25, 3, 5\), expected \(20 joints, 3 axes, T frames\)"),
        ("nan", r"d_skel has 300 non-finite values"),
        ("text", r"not a readable MATLAB file"),
    ):
        with pytest.raises(
            SkeletonError, match=re.escape(str(tmp_path / name)) + r"\.mat: " + reason
        ):
            read_utd_skeleton(tmp_path / f"{name}.mat")


def test_ntu_reader_round_trips_the_fixture(ntu60):
    track = read_ntu_skeleton(skeleton(ntu60, SINGLE))
    xyz, _ = written(SINGLE, 0)
    assert track.joints.shape == (len(xyz), 2, 25, 3) and track.joints.dtype == np.float32
    assert track.fps == 30.0 and track.joint_format == "kinect_v2_25"
    assert track.channels == ("x", "y", "z")
    assert track.detected[:, 0].all() and not track.detected[:, 1].any()
    np.testing.assert_array_equal(track.joints[:, 0], xyz.astype(np.float32))
    assert not track.joints[:, 1].any()
    assert read_ntu_skeleton(skeleton(ntu60, SINGLE), max_bodies=4).joints.shape[1] == 4


def test_ntu_body_selection_keeps_the_actors_over_a_flickering_body(ntu60):
    actor, _ = written(FLICKER, 1)
    flicker, flicker_present = written(FLICKER, 0)
    one = read_ntu_skeleton(skeleton(ntu60, FLICKER), max_bodies=1)
    assert one.detected.all()
    np.testing.assert_array_equal(one.joints[:, 0], actor.astype(np.float32))
    # with room for both, the flickering body comes second, on its own 4 frames
    two = read_ntu_skeleton(skeleton(ntu60, FLICKER), max_bodies=2)
    assert two.detected[:, 1].tolist() == flicker_present.tolist() and flicker_present.sum() == 4
    np.testing.assert_array_equal(
        two.joints[flicker_present, 1], flicker[flicker_present].astype(np.float32)
    )
    assert not two.joints[~flicker_present, 1].any()
    pair = read_ntu_skeleton(skeleton(ntu60, PAIR), max_bodies=2)
    second, second_present = written(PAIR, 2)
    assert pair.detected[:, 0].all()
    assert pair.detected[:, 1].tolist() == second_present.tolist()
    assert second_present[: ntu_rgbd.SECOND_ACTOR_FROM].sum() == 0
    bodies = {pair.joints[:, 0].tobytes(), pair.joints[second_present, 1].tobytes()}
    expected = {written(PAIR, 1)[0].astype(np.float32).tobytes()}
    expected.add(second[second_present].astype(np.float32).tobytes())
    assert bodies == expected  # both actors, the flickering body dropped


def test_ntu_reader_names_file_line_and_reason(ntu60, tmp_path):
    lines = skeleton(ntu60, SINGLE).read_text().splitlines()
    cases = {
        # cut inside the joint lines of frame 3 (a one-body frame is 28 lines)
        "truncated": ("\n".join(lines[: 1 + 2 * 28 + 10]), r"truncated: the file ends at line 67 "),
        "joints24": (
            "\n".join([*lines[:3], "24", *lines[4:28]]),
            r"line 4: joint count 24, expected 25",
        ),
        "number": (
            "\n".join([*lines[:9], lines[9].replace(" ", " x", 1), *lines[10:]]),
            r"line 10: unparsable number 'x",
        ),
        "fields": (
            "\n".join([*lines[:4], "1 2 3", *lines[5:]]),
            r"line 5: joint line has 3 values",
        ),
        "empty": ("", r"empty file"),
        "zero": ("0\n", r"line 1: frame count 0 \(empty skeleton\)"),
        "bodiless": ("3\n0\n0\n0\n", r"no body in any of its 3 frames \(empty skeleton\)"),
        "extra": ("\n".join([*lines, "1"]), rf"line {len(lines) + 1}: text after the last"),
    }
    for name, (text, reason) in cases.items():
        path = tmp_path / f"{name}.skeleton"
        path.write_text(text)
        with pytest.raises(SkeletonError, match=re.escape(str(path)) + ": " + reason):
            read_ntu_skeleton(path)
    # the fixture's sample on the authors' missing list holds frames without a body
    with pytest.raises(SkeletonError, match=r"S001C003P003R002A008\.skeleton: no body in any"):
        read_ntu_skeleton(skeleton(ntu60, ntu_rgbd.FIXTURE_EMPTY))


def test_ntu_class_names_and_protocol_lists():
    assert len(ntu_rgbd.ACTIONS) == len(set(ntu_rgbd.ACTIONS)) == 120
    assert all(re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", c) for c in ntu_rgbd.ACTIONS)
    assert ntu_rgbd.ACTIONS[:2] == ("drink_water", "eat_meal_snack")
    assert ntu_rgbd.ACTIONS[56] == "touch_other_persons_pocket"
    assert ntu_rgbd.ACTIONS[59:61] == ("walking_apart_from_each_other", "put_on_headphone")
    assert ntu_rgbd.ACTIONS[-1] == "finger_guessing_game_playing_rock_paper_scissors"
    assert len(ntu_rgbd.TRAIN_SUBJECTS_60) == 20 and len(ntu_rgbd.TRAIN_SUBJECTS_120) == 53
    assert ntu_rgbd.TRAIN_SUBJECTS_60 < ntu_rgbd.TRAIN_SUBJECTS_120


def test_ntu60_scan_gives_the_official_splits(ntu60):
    found = ntu_rgbd.scan(ntu60)  # the adapter: the official class index
    assert found.splits == ["cross_subject", "cross_view"] and len(found.classes) == 60
    assert found.quarantine == []
    df = found.samples.set_index("sample_id")
    assert len(df) == 36 and (df["video_path"] != "").all() and (df["skeleton_path"] != "").all()
    assert df["cross_subject"].value_counts().to_dict() == {"train": 18, "test": 18}
    assert df["cross_view"].value_counts().to_dict() == {"train": 24, "test": 12}
    row = df.loc["S002C003P003R001A001"]
    assert (row.subject, row.session, row.trial, row.camera) == (3, 2, 1, 3)
    assert (row.label, row.label_idx) == ("drink_water", 0)
    assert (row.cross_subject, row.cross_view) == ("test", "train")
    row = df.loc["S001C001P001R002A050"]
    assert (row.cross_subject, row.cross_view) == ("train", "test")
    assert row.label == "punching_slapping_other_person" and row.label_idx == 49
    assert row.skeleton_path.endswith("nturgb+d_skeletons/S001C001P001R002A050.skeleton")
    assert row.video_path.endswith("nturgb+d_rgb/S001C001P001R002A050_rgb.avi")
    # the dataset as runs see it: the 3 actions with samples, re-indexed, and a note
    seen = scan_dataset(ntu60, "ntu_rgbd")
    assert seen.classes == ["drink_water", "sitting_down", "punching_slapping_other_person"]
    assert seen.samples.set_index("sample_id").loc["S001C001P001R002A050", "label_idx"] == 2
    assert seen.notes == [
        "0 samples set aside up front, in the authors' list of samples with missing or "
        "incomplete skeletons (NTU_RGBD_samples_with_missing_skeletons.txt, as published)",
        "3 of the layout's 60 classes have samples; the 57 without are left out (the models "
        "are 3-way); to say which classes a run is over, set dataset.classes (e.g. "
        "[drink_water, sitting_down, punching_slapping_other_person])",
    ]


def test_ntu120_scan_and_version_60_of_a_120_copy(ntu120, caplog):
    found = ntu_rgbd.scan(ntu120, version=120)
    assert found.splits == ["cross_subject", "cross_setup"] and len(found.classes) == 120
    df = found.samples.set_index("sample_id")
    assert len(df) == 60 and "cross_view" not in df
    expected = {
        "S018C001P045R002A120": (
            "train",
            "train",
            "finger_guessing_game_playing_rock_paper_scissors",
        ),
        "S019C002P044R002A061": ("test", "test", "put_on_headphone"),
        "S001C001P001R001A001": ("train", "test", "drink_water"),
        "S002C003P003R001A001": ("test", "train", "drink_water"),
    }
    for sid, (subject, setup, label) in expected.items():
        assert (df.loc[sid, "cross_subject"], df.loc[sid, "cross_setup"], df.loc[sid, "label"]) == (
            subject,
            setup,
            label,
        ), sid
    caplog.set_level("INFO", logger="harfuse")
    sixty = scan_dataset(ntu120, "ntu_rgbd", version=60)
    assert len(sixty.samples) == 36 and sixty.quarantine == []
    assert "48 files of NTU RGB+D 120's additions left out" in caplog.text


def test_ntu_missing_files_lists_and_options(ntu60, tmp_path):
    root = shutil.copytree(ntu60, tmp_path / "ntu")
    (root / "nturgb+d_rgb" / "S001C001P001R001A001_rgb.avi").unlink()
    skeleton(root, "S002C002P003R002A008").unlink()
    (root / SKELETONS / "notes.txt").write_text("x")
    found = scan_dataset(root, "ntu_rgbd", missing_skeletons=ntu_rgbd.MISSING_LIST[60])
    reasons = {q["sample_id"]: q["reason"] for q in found.quarantine}
    df = found.samples.set_index("sample_id")
    assert "S001C001P001R001A001_rgb.avi not found under" in reasons["S001C001P001R001A001"]
    assert df.loc["S001C001P001R001A001", "video_path"] == ""
    assert "S002C002P003R002A008.skeleton not found under" in reasons["S002C002P003R002A008"]
    assert reasons[ntu_rgbd.FIXTURE_EMPTY] == (
        f"{ntu_rgbd.LISTED_REASON} ({ntu_rgbd.MISSING_LIST[60]}, your list)"
    )
    assert df.loc[ntu_rgbd.FIXTURE_EMPTY, "skeleton_path"] == ""
    assert df.loc[ntu_rgbd.FIXTURE_EMPTY, "video_path"].endswith("_rgb.avi")
    assert (
        "notes.txt: not an NTU RGB+D S{sss}C{ccc}P{ppp}R{rrr}A{aaa}.skeleton name"
        in reasons["notes"]
    )
    # a skeleton-only copy: no video is missing; the listed sample has nothing left
    shutil.rmtree(root / "nturgb+d_rgb")
    found = scan_dataset(root, "ntu_rgbd", missing_skeletons=ntu_rgbd.MISSING_LIST[60])
    assert ntu_rgbd.FIXTURE_EMPTY not in set(found.samples["sample_id"])
    assert len(found.samples) == 34 and (found.samples["video_path"] == "").all()
    assert {q["sample_id"] for q in found.quarantine} == {ntu_rgbd.FIXTURE_EMPTY, "notes"}
    # a line that is not a sample name is skipped (the authors' lists open with prose)...
    (root / "own_list.txt").write_text("my notes\nS002C001P001R002A008.skeleton\n")
    found = scan_dataset(root, "ntu_rgbd", missing_skeletons="own_list.txt")
    assert [q["sample_id"] for q in found.quarantine if "own_list" in q["reason"]] == [
        "S002C001P001R002A008"
    ]
    # ... and a list without any is an error
    (root / "bad_list.txt").write_text("S001C001P001R001A001 is the first\n\n")
    with pytest.raises(LayoutError, match=r"bad_list\.txt: no sample name S\{sss\}"):
        scan_dataset(root, "ntu_rgbd", missing_skeletons="bad_list.txt")
    # none: no list; the official list names none of the fixture's samples
    for option in ("none", None, "official"):
        found = scan_dataset(root, "ntu_rgbd", missing_skeletons=option)
        assert {q["sample_id"] for q in found.quarantine} == {"notes"}
    with pytest.raises(LayoutError, match=r"missing_skeletons: .*nope\.txt not found"):
        check_dataset(root, "ntu_rgbd", {"missing_skeletons": "nope.txt"})
    with pytest.raises(ConfigError, match=r"dataset\.options\.version: 90; NTU RGB\+D is 60 or"):
        check_dataset(root, "ntu_rgbd", {"version": 90})
    with pytest.raises(
        LayoutError, match=r"none of nturgb\+d_rgb, skel, nturgb\+d_depth_masked found under"
    ):
        check_dataset(root, "ntu_rgbd", {"skeleton_dir": "skel"})


def test_utd_mhad_scan_fills_skeleton_path(utd, tmp_path):
    found = scan_dataset(utd, "utd_mhad")
    df = found.samples.set_index("sample_id")
    assert found.quarantine == [] and len(df) == 4
    assert df.loc["a2_s1_t1", "skeleton_path"] == str(utd / "Skeleton" / "a2_s1_t1_skeleton.mat")
    root = shutil.copytree(utd, tmp_path / "utd")
    (root / "Skeleton" / "a1_s2_t1_skeleton.mat").unlink()
    found = scan_dataset(root, "utd_mhad")
    assert [q["reason"] for q in found.quarantine] == [
        f"a1_s2_t1_skeleton not found under {root / 'Skeleton'}"
    ]
    row = found.samples.set_index("sample_id").loc["a1_s2_t1"]
    assert row.skeleton_path == "" and row.imu_path != "" and row.video_path != ""
    shutil.rmtree(root / "Skeleton")
    found = scan_dataset(root, "utd_mhad")
    assert found.quarantine == [] and (found.samples["skeleton_path"] == "").all()
