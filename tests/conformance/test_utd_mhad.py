"""UTD-MHAD's files in the authors' layout and format, written byte by byte from the specs.

The dataset page (https://personal.utdallas.edu/~kehtar/UTD-MHAD.html, whose text public
loaders quote in their docstrings, e.g. ``UTD_MHAD_W_HAR_DATA``) gives 27 actions by 8
subjects (4 females, 4 males), 4 trials each, a Kinect v1 at about 30 frames per second and
a wearable inertial sensor: "The sampling rate of this wearable inertial sensor is 50 Hz.
The measuring range ... is ±8g for acceleration and ±1000 degrees/second for rotation." It
is on the right wrist for actions 1-21 and on the right thigh for 22-27. The release holds
``RGB/a{A}_s{S}_t{T}_color.avi``, ``Depth/..._depth.mat``, ``Skeleton/..._skeleton.mat``
(variable ``d_skel``: 20 joints x 3 coordinates x frames, metres, the joints numbered from
the head down: 1 head, 2 shoulder centre, 3 spine, 4 hip centre, then the arms and legs)
and ``Inertial/..._inertial.mat`` (variable ``d_iner``: one row per sample, 3-axis
acceleration in g then 3-axis angular velocity in degrees/second), the names those loaders
read (``io.loadmat(...)["d_iner"]``).

The ``.mat`` files are MATLAB Level 5 MAT-files; they are encoded here by hand after
MathWorks' "MAT-File Format" (Level 5 MAT-files, chapter 1): a 128-byte header (116 bytes
of text, 8 bytes of subsystem offset, version 0x0100, endian indicator "IM"), then one
``miMATRIX`` element per variable holding array flags (``mxDOUBLE_CLASS``), dimensions
(``miINT32``), name (``miINT8``) and the real part (``miDOUBLE``, column-major), every
sub-element padded to 8 bytes. MATLAB's default ``save`` (v7) wraps each ``miMATRIX`` in
an ``miCOMPRESSED`` element (zlib); both forms are written. The values are made up, in
the units and shapes the page gives; the videos and depth files are empty (never read).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from harfuse.datasets import scan_dataset, utd_mhad
from harfuse.datasets.utd_mhad import ACTIONS
from harfuse.media.imu import read_utd_mat
from harfuse.media.skeleton import read_utd_skeleton
from harfuse.skeleton.formats import KINECT_V1_20

# MAT-File Format: the data type and array class numbers of its tables
MI_INT8, MI_INT32, MI_UINT32, MI_DOUBLE, MI_MATRIX, MI_COMPRESSED = 1, 5, 6, 9, 14, 15
MX_DOUBLE_CLASS = 6
HEADER_TEXT = b"MATLAB 5.0 MAT-file, Platform: PCWIN64, Created on: Thu Jun 18 14:03:12 2015"


def mat_element(data_type: int, payload: bytes) -> bytes:
    """A data element: 8-byte tag (type, byte count) and the payload padded to 8 bytes."""
    return struct.pack("<II", data_type, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def mat_double_array(name: str, array: np.ndarray) -> bytes:
    """An ``miMATRIX`` element holding a real double array ``name``."""
    array = np.asarray(array, dtype="<f8")
    body = (
        mat_element(MI_UINT32, struct.pack("<II", MX_DOUBLE_CLASS, 0))  # flags, no nzmax
        + mat_element(MI_INT32, struct.pack(f"<{array.ndim}i", *array.shape))
        + mat_element(MI_INT8, name.encode("ascii"))
        + mat_element(MI_DOUBLE, array.tobytes(order="F"))
    )
    return struct.pack("<II", MI_MATRIX, len(body)) + body


def mat_file(variables: dict[str, np.ndarray], compressed: bool = False) -> bytes:
    """A Level 5 MAT-file (little-endian) holding ``variables``; ``compressed`` wraps each
    in an ``miCOMPRESSED`` element, as MATLAB's v7 ``save`` does."""
    header = HEADER_TEXT.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    elements = []
    for name, array in variables.items():
        element = mat_double_array(name, array)
        if compressed:
            packed = zlib.compress(element)
            element = struct.pack("<II", MI_COMPRESSED, len(packed)) + packed
        elements.append(element)
    return header + b"".join(elements)


# d_iner: 5 samples (0.1 s at 50 Hz) of a wrist at rest, acceleration in g then angular
# velocity in degrees/second; dyadic values, exact in float32
D_INER = np.array(
    [
        [-0.9931640625, 0.0751953125, 0.2646484375, -2.5, 1.75, 0.0],
        [-0.9951171875, 0.0732421875, 0.2666015625, -1.25, 2.0, 0.5],
        [-0.99609375, 0.0712890625, 0.2685546875, 0.0, 2.25, 1.0],
        [-0.994140625, 0.0693359375, 0.2705078125, 1.25, 2.5, 1.5],
        [-0.9921875, 0.0673828125, 0.2724609375, 2.5, 2.75, 2.0],
    ]
)


def d_skel(frames: int, lost: tuple[int, ...] = ()) -> np.ndarray:
    """``d_skel`` (20, 3, frames) in metres, distinct per joint, axis and frame; the frames
    in ``lost`` are all 0, as Kinect writes a frame it lost the body in."""
    joint = np.arange(20)[:, None, None] / 64
    axis = np.array([-0.25, 0.5, 2.75])[None, :, None]
    frame = np.arange(frames)[None, None, :] / 128
    skel = joint + axis + frame
    skel[:, :, list(lost)] = 0.0
    return skel


#: UTD-MHAD's joint numbers (1-based, head first) of the Kinect v1 joints harfuse outputs
UTD_NUMBER = {"head": 1, "shoulder_center": 2, "spine": 3, "hip_center": 4}


@pytest.mark.parametrize("compressed", [False, True], ids=["v5", "v7-compressed"])
def test_inertial_file_gives_the_values_the_rate_and_the_channels(tmp_path, compressed):
    path = tmp_path / "a1_s1_t1_inertial.mat"
    path.write_bytes(mat_file({"d_iner": D_INER}, compressed))
    data, rate, channels = read_utd_mat(path)
    assert data.dtype == np.float32 and data.shape == (5, 6)
    assert np.array_equal(data, D_INER.astype(np.float32))
    assert rate == 50.0
    assert channels == ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]


@pytest.mark.parametrize("compressed", [False, True], ids=["v5", "v7-compressed"])
def test_skeleton_file_gives_frames_joints_in_kinect_order_and_lost_frames(tmp_path, compressed):
    skel = d_skel(3, lost=(2,))
    path = tmp_path / "a1_s1_t1_skeleton.mat"
    path.write_bytes(mat_file({"d_skel": skel}, compressed))
    track = read_utd_skeleton(path)
    assert track.joints.shape == (3, 1, 20, 3) and track.joints.dtype == np.float32
    assert track.fps == 30.0 and track.joint_format == "kinect_v1_20"
    assert track.channels == ("x", "y", "z")
    assert track.detected.tolist() == [[True], [True], [False]]
    for k, name in enumerate(KINECT_V1_20.joints):
        # the spine joints come reversed (UTD numbers them from the head down); the arm and
        # leg joints keep their place
        row = UTD_NUMBER.get(name, k + 1) - 1
        assert np.array_equal(track.joints[:, 0, k, :], skel[row].T.astype(np.float32)), name


def test_one_frame_skeleton_saved_without_its_trailing_singleton(tmp_path):
    # MATLAB stores a 20x3x1 array with dimensions [20 3]
    path = tmp_path / "a1_s1_t1_skeleton.mat"
    path.write_bytes(mat_file({"d_skel": d_skel(1)[:, :, 0]}))
    track = read_utd_skeleton(path)
    assert track.joints.shape == (1, 1, 20, 3)
    assert np.array_equal(track.joints[0, 0, 3], d_skel(1)[0, :, 0].astype(np.float32))


SAMPLES = [(1, 1, 1), (27, 8, 4), (22, 3, 2), (11, 6, 3)]
#: the sample whose inertial file is missing, for the quarantine
NO_INERTIAL = (11, 6, 3)


def make_root(root: Path) -> Path:
    """The four folders as the dataset's zips extract them, for SAMPLES."""
    for folder in ("RGB", "Depth", "Inertial", "Skeleton"):
        (root / folder).mkdir(parents=True)
    for a, s, t in SAMPLES:
        stem = f"a{a}_s{s}_t{t}"
        (root / "RGB" / f"{stem}_color.avi").touch()
        (root / "Depth" / f"{stem}_depth.mat").touch()
        (root / "Skeleton" / f"{stem}_skeleton.mat").write_bytes(
            mat_file({"d_skel": d_skel(4)}, compressed=True)
        )
        if (a, s, t) != NO_INERTIAL:
            (root / "Inertial" / f"{stem}_inertial.mat").write_bytes(
                mat_file({"d_iner": D_INER}, compressed=True)
            )
    return root


def test_scan_gives_labels_subjects_cross_subject_and_readable_paths(tmp_path):
    root = make_root(tmp_path / "UTD-MHAD")
    assert utd_mhad.scan(root).classes == list(ACTIONS) and len(ACTIONS) == 27
    scan = scan_dataset(root, "utd_mhad")  # the classes with samples, in the official order
    assert scan.classes == [c for c in ACTIONS if c in set(scan.samples["label"])]
    assert ACTIONS[0] == "right_arm_swipe_to_the_left"
    assert ACTIONS[26] == "squat_two_arms_stretch_out"
    assert scan.splits == ["cross_subject"]
    rows = scan.samples.set_index("sample_id")
    assert sorted(rows.index) == sorted(f"a{a}_s{s}_t{t}" for a, s, t in SAMPLES)
    for a, s, t in SAMPLES:
        row = rows.loc[f"a{a}_s{s}_t{t}"]
        assert row["label"] == ACTIONS[a - 1]
        assert row["label_idx"] == scan.classes.index(ACTIONS[a - 1])
        assert (row["subject"], row["trial"]) == (s, t)
        # odd subjects train, even subjects test
        assert row["cross_subject"] == ("train" if s % 2 else "test")
        assert row["video_path"] == str(root / "RGB" / f"a{a}_s{s}_t{t}_color.avi")
        track = read_utd_skeleton(row["skeleton_path"])
        assert track.joints.shape == (4, 1, 20, 3)
        if (a, s, t) == NO_INERTIAL:
            assert row["imu_path"] == ""
        else:
            data, rate, _ = read_utd_mat(row["imu_path"])
            assert rate == 50.0 and np.array_equal(data, D_INER.astype(np.float32))
    assert rows.loc["a22_s3_t2", "label"] == "jogging_in_place"


def test_a_sample_lacking_its_inertial_file_keeps_its_row_and_is_quarantined(tmp_path):
    root = make_root(tmp_path / "UTD-MHAD")
    scan = scan_dataset(root, "utd_mhad")
    assert scan.quarantine == [
        {
            "sample_id": "a11_s6_t3",
            "stage": "manifest",
            "reason": f"a11_s6_t3_inertial not found under {root / 'Inertial'}",
        }
    ]
    assert "a11_s6_t3" in set(scan.samples["sample_id"])
