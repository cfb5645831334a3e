"""Pose estimation on RGB frames (MediaPipe Pose, models shipped in its wheel) and drawing
skeletons over frames. Importing this package does not import MediaPipe: the estimator
loads it on first use."""

from harfuse.pose.estimator import (
    CHANNELS,
    DEFAULT_PARAMS,
    JOINT_FORMAT,
    PoseEstimator,
    PoseModelError,
    estimate_pose,
    estimate_pose_image,
)
from harfuse.pose.overlay import draw_skeleton

__all__ = [
    "CHANNELS",
    "DEFAULT_PARAMS",
    "JOINT_FORMAT",
    "PoseEstimator",
    "PoseModelError",
    "draw_skeleton",
    "estimate_pose",
    "estimate_pose_image",
]
