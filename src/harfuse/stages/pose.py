"""Stage ``pose``: body keypoints estimated on each sample's video (MediaPipe Pose, run
on the CPU from the model files its wheel ships), in the shard format both skeleton
sources share. The video is decoded for the estimator at its own resolution
(``skeleton.pose.size``), on the frames stage's timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.preprocess.skeleton import estimated_skeleton, pose_frames
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard
from harfuse.store.shards import FRAMES_PARAMS, encode_params


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    frames: dict[str, Any],
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/skeleton`` ``(T, 1, 33, 4)`` float16 (x, y and relative depth
    in frame heights, visibility; ``coverage`` among its attributes) and
    ``/{sample_id}/detected`` ``(T, 1)`` uint8 for every sample of the manifest's shard
    ``shard``, ``T`` the frames stage's frame count (``frames``: its config section). A
    video in which no frame shows a person is quarantined; frames without one are kept,
    masked."""
    paths = shard_sources(manifest_path, shard, "video_path", "image_path")
    fps = float(frames["fps"])

    def compute(sid: str) -> SampleArrays:
        return estimated_skeleton(pose_frames(paths[sid], frames, params), fps, params, sid)

    write_sample_shard(
        out_path,
        "pose",
        params,
        list(paths),
        compute,
        on_error,
        root_attrs={FRAMES_PARAMS: encode_params(frames)},
    )
