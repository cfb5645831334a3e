"""One sample's skeleton sequence, whatever its source (a dataset's files or a pose
estimator run on the video)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SkeletonTrack:
    """Joint positions of up to ``M`` bodies over ``T`` frames.

    - ``joints``: ``(T, M, J, C)`` float32. ``C`` is 3 (x, y, z: metres in camera space for
      Kinect; image-normalised x, y in [0, 1] and relative depth for an estimator) or 4
      (an estimator's x, y, z plus visibility in [0, 1]). Rows of undetected bodies are 0.
    - ``detected``: ``(T, M)`` bool, whether body ``m`` was seen in frame ``t``.
    - ``fps``: frames per second of the sequence (Hz).
    - ``joint_format``: a name in :data:`harfuse.skeleton.formats.FORMATS` (``J`` joints).
    - ``channels``: the name of each of the ``C`` channels, e.g. ``("x", "y", "z")``.
    """

    joints: np.ndarray
    detected: np.ndarray
    fps: float
    joint_format: str
    channels: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.joints.ndim != 4:
            raise ValueError(f"joints must be (T, M, J, C), got shape {self.joints.shape}")
        if self.detected.shape != self.joints.shape[:2]:
            raise ValueError(
                f"detected {self.detected.shape} does not match joints' (T, M) "
                f"{self.joints.shape[:2]}"
            )
        if len(self.channels) != self.joints.shape[3]:
            raise ValueError(f"{len(self.channels)} channel names for C={self.joints.shape[3]}")
