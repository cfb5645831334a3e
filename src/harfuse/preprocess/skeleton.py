"""Skeleton sequences as the skeleton and pose stages store them, and as models read them.

Both sources store the same two arrays per sample, so the ``skeleton`` modality reads
either: ``skeleton`` ``(T, M, J, C)`` float16 (the source's units: Kinect camera-space
metres, or an estimator's image-normalised coordinates) and ``detected`` ``(T, M)`` uint8
(1 where body ``m`` was seen in frame ``t``), with the frame rate (Hz), the joint format
and the channel names as attributes of ``skeleton``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harfuse.config_schema import filled
from harfuse.media.frames import FrameParams, decode_frames
from harfuse.media.skeleton import SkeletonError, read_skeleton
from harfuse.preprocess import Attrs
from harfuse.preprocess.frames import frame_params
from harfuse.skeleton.normalise import normalise_track
from harfuse.skeleton.track import SkeletonTrack

#: the key of ``skeleton.pose`` that sizes the estimator's frames; the others are its own
POSE_SIZE = "size"
#: the fraction of frames with a person under which estimated keypoints are flagged (the
#: report's pose coverage, ``harfuse predict``'s low-confidence answer)
LOW_COVERAGE = 0.3
#: what one sample stores: ``{name: (array, attrs)}``
StoredSkeleton = dict[str, tuple[np.ndarray, Attrs]]


def stored_skeleton(track: SkeletonTrack, source: str) -> StoredSkeleton:
    """``track`` as the shards store it; ``source`` names where it came from."""
    attrs = {
        "fps": float(track.fps),
        "joint_format": track.joint_format,
        "channels": list(track.channels),
        "source": source,
        "frames_detected": int(track.detected.any(axis=1).sum()),
    }
    return {
        "skeleton": (track.joints.astype(np.float16), attrs),
        "detected": (track.detected.astype(np.uint8), {}),
    }


def dataset_skeleton(path: str | Path, config: dict[str, Any]) -> StoredSkeleton:
    """A dataset's skeleton file (``skeleton`` config slice: ``max_bodies``) as stored.
    :class:`~harfuse.media.skeleton.SkeletonError` names the file when it is unreadable
    or holds no body in any frame."""
    track = read_skeleton(path, int(config["max_bodies"]))
    if not track.detected.any():
        raise SkeletonError(f"{path}: no body in any of its {len(track.detected)} frames")
    return stored_skeleton(track, str(path))


def pose_frame_params(
    frames: dict[str, Any], skeleton: dict[str, Any], every_frame: bool = False
) -> FrameParams:
    """How the pose stage decodes a video: at the frames stage's ``fps``, duration cap and
    ``num_frames`` (so that keypoints and RGB frames share one timeline; with
    ``every_frame`` all frames at ``fps``, as prediction takes them), but at its own
    resolution, ``skeleton.pose.size`` (:data:`POSE_SIZE`): the source's, scaled down to
    that short side when larger (:func:`pose_frames` decodes without enlarging). The
    64-128 px training frames hide small people from the person detector."""
    p = frame_params(frames)
    size = filled(skeleton.get("pose"), "skeleton", "pose")[POSE_SIZE]
    return FrameParams(p.fps, size, p.max_duration_s, None if every_frame else p.num_frames)


def estimator_params(skeleton: dict[str, Any]) -> dict[str, Any]:
    """The estimator's own parameters of the ``skeleton`` config slice (``pose`` less
    :data:`POSE_SIZE`)."""
    return {k: v for k, v in (skeleton.get("pose") or {}).items() if k != POSE_SIZE}


def pose_frames(
    path: str | Path, frames: dict[str, Any], skeleton: dict[str, Any], every_frame: bool = False
) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB frames of ``path`` as the estimator sees them
    (:func:`pose_frame_params`)."""
    params = pose_frame_params(frames, skeleton, every_frame)
    return decode_frames(path, params, upscale=False)[0]


def estimated_skeleton(
    frames: np.ndarray, fps: float, config: dict[str, Any], source: str
) -> StoredSkeleton:
    """Body keypoints estimated on ``frames`` ``(T, H, W, 3)`` uint8 RGB at ``fps`` Hz
    (``skeleton`` config slice: ``pose`` parameters; :func:`pose_frames` decodes them) as
    stored, with ``coverage`` (the fraction of frames in which a person was found) and
    the ``estimated_on`` ``[H, W]`` among the attributes. ``ValueError`` when no frame shows
    a person (the sample is quarantined); frames without one are kept, masked.

    The estimator gives x as a fraction of the width, y of the height and z on x's scale;
    x and z are stored in frame heights like y (x ``W / H`` times larger), so that a
    motion has the same size along both axes whatever the video's aspect ratio or the
    resolution it was estimated at."""
    from harfuse.pose.estimator import estimate_pose  # MediaPipe loads only when used

    track = estimate_pose(frames, fps, **estimator_params(config))
    if not track.detected.any():
        raise ValueError(f"{source}: no person detected in any of its {len(frames)} frames")
    height, width = frames.shape[1:3]
    joints = track.joints.copy()
    for axis in ("x", "z"):
        joints[..., track.channels.index(axis)] *= width / height
    square = SkeletonTrack(joints, track.detected, track.fps, track.joint_format, track.channels)
    stored = stored_skeleton(square, source)
    attrs = stored["skeleton"][1]
    attrs["units"] = "frame heights (x, y, z); visibility 0-1"
    attrs["coverage"] = float(track.detected.any(axis=1).mean())
    attrs["estimated_on"] = [int(height), int(width)]
    return stored


def skeleton_input(
    joints: np.ndarray, detected: np.ndarray, attrs: Attrs, length: int
) -> np.ndarray:
    """A stored skeleton ``(T, M, J, C)`` made a model input: ``(length, M, J, C)``
    float32 in torso lengths, centred on the hips, frames resampled to ``length``
    (:func:`~harfuse.skeleton.normalise.normalise_track`); undetected rows are 0."""
    track = SkeletonTrack(
        joints.astype(np.float32),
        detected.astype(bool),
        float(attrs["fps"]),
        str(attrs["joint_format"]),
        tuple(attrs["channels"]),
    )
    return normalise_track(track, length)[0]
