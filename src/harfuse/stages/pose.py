"""Stage ``pose``: body keypoints estimated on each sample's frames (MediaPipe Pose, run
on the CPU from the model files its wheel ships), in the shard format both skeleton
sources share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.preprocess.skeleton import estimated_skeleton
from harfuse.stages.shard_job import SampleArrays, write_sample_shard
from harfuse.store.shards import FRAMES_PARAMS, ShardReader


def run(
    frames_path: str | Path,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/skeleton`` ``(T, 1, 33, 4)`` float16 (x, y and relative depth
    in frame heights, visibility) and ``/{sample_id}/detected`` ``(T, 1)`` uint8 for
    every sample of the frame shard ``frames_path``. A video in which no frame shows a
    person is quarantined; frames without one are kept, masked."""
    frames = ShardReader(frames_path)
    try:

        def compute(sid: str) -> SampleArrays:
            fps = float(frames.attrs(sid, "frames")["fps"])
            return estimated_skeleton(frames.read(sid, "frames"), fps, params, sid)

        write_sample_shard(
            out_path,
            "pose",
            params,
            frames.sample_ids(),
            compute,
            on_error,
            root_attrs={FRAMES_PARAMS: frames.file.attrs["params"]},
        )
    finally:
        frames.close()
