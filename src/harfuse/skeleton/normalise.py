"""A skeleton track to the fixed-size array the encoders take: centred on the hips, scaled
by the torso, resampled to a fixed number of frames."""

from __future__ import annotations

import numpy as np

from harfuse.skeleton.formats import joint_format
from harfuse.skeleton.track import SkeletonTrack

#: channel names that are coordinates (centred and scaled); any other channel (an
#: estimator's visibility) passes through unchanged
SPATIAL_CHANNELS = ("x", "y", "z")


def resample_indices(num_frames: int, length: int) -> np.ndarray:
    """Source frame of each of ``length`` output frames, ``(length,)`` int: the frame
    nearest the centre of each of ``length`` equal slices of ``[0, num_frames)``. Frames
    are repeated when ``length > num_frames`` and skipped when shorter; the identity when
    equal. No interpolation, so an undetected frame never borrows from its neighbours."""
    if num_frames < 1 or length < 1:
        raise ValueError(f"cannot resample {num_frames} frames to {length}")
    return np.minimum(
        ((np.arange(length) + 0.5) * num_frames / length).astype(np.int64), num_frames - 1
    )


def normalise_track(
    track: SkeletonTrack, length: int, bodies: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``track`` as a ``(length, M, J, C)`` float32 array and its ``(length, M)`` bool mask.

    - Centre: the mean, over the frames where it is detected, of the hip centre (the
      format's ``centre`` joints) of the reference body: body 0, or the first body ever
      detected if body 0 never is. One offset for the whole sample, so whole-body
      translation (walking, sitting down) stays in the data as motion.
    - Scale: the median torso length (hip centre to the format's ``torso_top``) of the
      reference body over its detected frames. Coordinates come out in torso lengths
      (about 0.5 m for an adult), whatever the source's unit: metres (Kinect),
      image-normalised units or pixels (estimators; their torso length is measured in the
      same units, so the aspect ratio of the image is kept).
    - Only the ``x``/``y``/``z`` channels are centred and scaled; others (visibility) pass
      through unchanged.
    - Frames: resampled to ``length`` by nearest frame (:func:`resample_indices`). Rows of
      bodies undetected in a frame are 0 and their mask is False.
    - Bodies: the first ``bodies`` of the track, padded with undetected bodies if it has
      fewer; all ``M`` of the track when None.

    ValueError (the caller quarantines the sample) when no body is detected in any frame,
    when the torso length is 0 or when a detected frame holds a non-finite value.
    """
    fmt = joint_format(track.joint_format)
    num_frames, num_bodies, num_joints, _ = track.joints.shape
    if num_joints != fmt.num_joints:
        raise ValueError(
            f"joint format {fmt.name} has {fmt.num_joints} joints, the track {num_joints}"
        )
    spatial = [c for c, name in enumerate(track.channels) if name in SPATIAL_CHANNELS]
    if not spatial:
        raise ValueError(f"no coordinate channel among {track.channels}")
    detected = np.asarray(track.detected, dtype=bool)
    if not detected.any():
        raise ValueError(f"no body detected in any of the {num_frames} frames")
    joints = np.asarray(track.joints, dtype=np.float64)
    if not np.isfinite(joints[detected]).all():
        raise ValueError("non-finite joint values in detected frames")

    ref = int(np.flatnonzero(detected.any(axis=0))[0])
    seen = joints[detected[:, ref], ref][..., spatial]  # (T_ref, J, S)
    hips = seen[:, list(fmt.centre)].mean(axis=1)  # (T_ref, S)
    shoulders = seen[:, list(fmt.torso_top)].mean(axis=1)  # (T_ref, S)
    origin = hips.mean(axis=0)  # (S,)
    scale = float(np.median(np.linalg.norm(shoulders - hips, axis=-1)))
    if not scale > 0:
        raise ValueError(f"torso length is {scale}: centre and torso_top joints coincide")

    out = joints.copy()
    out[..., spatial] = (joints[..., spatial] - origin) / scale
    out[~detected] = 0.0

    out, detected = _fit_bodies(out, detected, num_bodies if bodies is None else bodies)
    idx = resample_indices(num_frames, length)
    return out[idx].astype(np.float32), detected[idx].copy()


def _fit_bodies(
    joints: np.ndarray, detected: np.ndarray, keep: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``keep`` bodies of ``joints`` ``(T, M, J, C)`` and ``detected`` ``(T, M)``,
    padded with undetected bodies when there are fewer."""
    frames, bodies = detected.shape
    if keep <= bodies:
        return joints[:, :keep], detected[:, :keep]
    pad = keep - bodies
    joints = np.concatenate([joints, np.zeros((frames, pad, *joints.shape[2:]))], axis=1)
    return joints, np.concatenate([detected, np.zeros((frames, pad), dtype=bool)], axis=1)
