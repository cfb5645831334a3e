"""The ``skeleton`` modality: body joints over time, from the dataset's own skeleton files
(``skeleton.source: dataset``: UTD-MHAD ``.mat``, NTU RGB+D ``.skeleton``) or estimated
from the videos (``pose``: the pose stage, MediaPipe Pose). Both store the same arrays
(:mod:`harfuse.preprocess.skeleton`), normalised for a model by ``model_input``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harfuse.modalities.base import Context, Modality, Stored


class Skeleton(Modality):
    name = "skeleton"
    section = "skeleton"
    columns = ("skeleton_path",)
    arrays = ("skeleton", "detected")
    default_encoder = "skeleton_gcn"
    video = "pose_frames"

    def shard_rule(self, config: dict[str, Any]) -> str:
        return "estimate_pose" if estimated(config) else super().shard_rule(config)

    def stage_params(self, config: dict[str, Any]) -> dict[str, Any]:
        # what the dataset source reads of the section (the pose keys do not rerun it)
        return {"source": "dataset", "max_bodies": config["skeleton"]["max_bodies"]}

    def sections(self, options: dict[str, Any]) -> tuple[str, ...]:
        return ("skeleton", "frames")

    def available(self, df: Any, config: dict[str, Any]) -> bool:
        column = "video_path" if estimated(config) else "skeleton_path"
        return column in df and bool(df[column].astype(bool).any())

    def stored(self, raw: Any, prep: dict[str, dict[str, Any]], context: Context) -> Stored:
        """A dataset skeleton file (a path) as the skeleton stage stores it, or frames
        ``(T, H, W, 3)`` uint8 RGB at ``context.fps`` with the keypoints the pose
        estimator finds in them (``ValueError`` when it finds nobody)."""
        from harfuse.preprocess.skeleton import dataset_skeleton, estimated_skeleton

        if isinstance(raw, (str, Path)):
            return dataset_skeleton(raw, prep["skeleton"])
        return estimated_skeleton(raw, context.fps, prep["skeleton"], context.source)

    def model_input(self, stored: Stored, inputs: dict[str, Any]) -> np.ndarray:
        from harfuse.preprocess.skeleton import skeleton_input

        (joints, attrs), (detected, _) = stored["skeleton"], stored["detected"]
        return skeleton_input(joints, detected, attrs, inputs["skeleton_length"])

    def dummy_shape(self, config: dict[str, Any], variant: str) -> tuple[int, ...]:
        return (config["train"]["inputs"]["skeleton_length"], *sample_shape(config))

    def report_notes(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]]
    ) -> list[str]:
        if not estimated(config):
            return ["skeleton = the dataset's own skeleton files"]
        from harfuse.pose.estimator import NUM_JOINTS

        size = config["skeleton"]["pose"]["size"] or "the source"
        return [
            "skeleton = body keypoints estimated from the videos (MediaPipe Pose, "
            f"{NUM_JOINTS} joints; short side up to {size} px)"
        ]


def estimated(config: dict[str, Any]) -> bool:
    """Whether the config's skeletons are estimated from the videos (``source: pose``)."""
    return config["skeleton"]["source"] == "pose"


def sample_shape(config: dict[str, Any]) -> tuple[int, int, int]:
    """``(M, J, C)`` of the skeletons the config's source gives: the pose estimator's
    joints x (x, y, z, visibility) for ``pose``; NTU RGB+D's ``max_bodies`` x 25 Kinect v2
    joints and the other layouts' one body x 20 Kinect v1 joints (UTD-MHAD, the demo), x
    y z."""
    if estimated(config):
        from harfuse.pose.estimator import NUM_JOINTS

        return (1, NUM_JOINTS, 4)
    if config["dataset"]["layout"] == "ntu_rgbd":
        return (config["skeleton"]["max_bodies"], 25, 3)
    return (1, 20, 3)


MODALITY = Skeleton()
