"""Stage ``frames``: decode each video of a shard at the target fps into ``frames`` arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.preprocess.frames import jpeg_quality, video_frames
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/frames`` ``(T, H, W, 3)`` uint8 RGB for the shard's samples
    (``T = 1`` for a still image), as JPEG with ``storage: jpeg``."""
    paths = shard_sources(manifest_path, shard, "video_path", "image_path")

    def compute(sid: str) -> SampleArrays:
        return {"frames": video_frames(paths[sid], params)}

    quality = jpeg_quality(params)
    quality_of = {"frames": quality} if quality is not None else None
    write_sample_shard(out_path, "frames", params, list(paths), compute, on_error, quality_of)
