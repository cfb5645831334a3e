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

from harfuse.media.skeleton import SkeletonError, read_skeleton
from harfuse.preprocess import Attrs
from harfuse.skeleton.normalise import normalise_track
from harfuse.skeleton.track import SkeletonTrack

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


def estimated_skeleton(
    frames: np.ndarray, fps: float, config: dict[str, Any], source: str
) -> StoredSkeleton:
    """Body keypoints estimated on ``frames`` ``(T, H, W, 3)`` uint8 RGB at ``fps`` Hz
    (``skeleton`` config slice: ``pose`` parameters) as stored. ``ValueError`` when no
    frame shows a person (the sample is quarantined); frames without one are kept, masked.

    The estimator gives x as a fraction of the width, y of the height and z on x's scale;
    x and z are stored in frame heights like y (x ``W / H`` times larger), so that a
    motion has the same size along both axes whatever the video's aspect ratio."""
    from harfuse.pose.estimator import estimate_pose  # MediaPipe loads only when used

    track = estimate_pose(frames, fps, **config.get("pose", {}))
    if not track.detected.any():
        raise ValueError(f"{source}: no person detected in any of its {len(frames)} frames")
    height, width = frames.shape[1:3]
    joints = track.joints.copy()
    for axis in ("x", "z"):
        joints[..., track.channels.index(axis)] *= width / height
    square = SkeletonTrack(joints, track.detected, track.fps, track.joint_format, track.channels)
    stored = stored_skeleton(square, source)
    stored["skeleton"][1]["units"] = "frame heights (x, y, z); visibility 0-1"
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
