"""Drawing a skeleton over its frame, for looking at what an estimator (or a dataset's
2D joints) found."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

#: RGB colours of the drawing
BONE_COLOUR = (0, 255, 0)
JOINT_COLOUR = (255, 0, 0)


def draw_skeleton(
    frame: np.ndarray,
    joints: np.ndarray,
    detected: bool,
    edges: Sequence[tuple[int, int]],
    *,
    normalised: bool = True,
    min_visibility: float = 0.5,
    radius: int | None = None,
    thickness: int | None = None,
) -> np.ndarray:
    """A copy of ``frame`` with the skeleton drawn on it: bones as green lines, joints as
    red dots (colours in RGB order).

    - ``frame``: ``(H, W, 3)`` uint8 RGB; left unchanged.
    - ``joints``: ``(J, C)`` of one body; channels 0 and 1 are x and y, normalised to the
      frame's width and height (``normalised=True``, what :mod:`harfuse.pose.estimator`
      gives) or in pixels (``normalised=False``). With ``C >= 4``, channel 3 is each
      joint's visibility: joints below ``min_visibility`` and their bones are not drawn.
    - ``detected``: False draws nothing (the copy equals ``frame``).
    - ``edges``: bones as ``(i, j)`` joint-index pairs (a joint format's ``edges``).
    - ``radius``, ``thickness``: of the dots and lines in pixels; None scales them with
      the frame (1/160 and 1/320 of its smaller side, at least 2 and 1).

    Joints out of the frame are clipped by the drawing; non-finite joints are skipped.
    Returns ``(H, W, 3)`` uint8.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    if joints.ndim != 2 or joints.shape[1] < 2:
        raise ValueError(f"joints must be (J, C) with C >= 2, got shape {joints.shape}")
    num_joints = joints.shape[0]
    bad = [e for e in edges if not (0 <= e[0] < num_joints and 0 <= e[1] < num_joints)]
    if bad:
        raise ValueError(f"edge {bad[0]} names a joint outside [0, {num_joints})")
    out = np.ascontiguousarray(frame).copy()
    if not detected:
        return out
    height, width = frame.shape[:2]
    xy = joints[:, :2].astype(np.float64)  # (J, 2)
    if normalised:
        xy = xy * (width, height)  # (J, 2) pixels
    shown = np.isfinite(xy).all(axis=1)  # (J,)
    if joints.shape[1] >= 4:
        shown &= joints[:, 3] >= min_visibility
    # cv2 draws at integer pixels; far-off joints are clamped so the int conversion holds
    pixels = np.round(np.clip(np.nan_to_num(xy), -4 * max(width, height), 5 * max(width, height)))
    points = [(int(x), int(y)) for x, y in pixels]
    side = min(height, width)
    radius = max(2, side // 160) if radius is None else radius
    thickness = max(1, side // 320) if thickness is None else thickness
    for i, j in edges:
        if shown[i] and shown[j]:
            cv2.line(out, points[i], points[j], BONE_COLOUR, thickness, cv2.LINE_AA)
    for j in np.flatnonzero(shown):
        cv2.circle(out, points[j], radius, JOINT_COLOUR, -1, cv2.LINE_AA)
    return out
