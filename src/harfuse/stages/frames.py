"""Stage ``frames``: decode each video of a shard at the target fps into ``frames`` arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.media.frames import FrameParams, extract_frames
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/frames`` ``(T, H, W, 3)`` uint8 RGB for the shard's samples
    (``T = 1`` for a still image)."""
    size = params["size"]
    p = FrameParams(
        fps=params["fps"],
        size=size if isinstance(size, int) else tuple(size),
        max_duration_s=params.get("max_duration_s"),
        num_frames=params.get("num_frames"),
    )
    paths = shard_sources(manifest_path, shard, "video_path", "image_path")

    def compute(sid: str) -> SampleArrays:
        frames = extract_frames(paths[sid], p)
        return {"frames": (frames, {"fps": p.fps, "source": paths[sid]})}

    quality = {"frames": params["jpeg_quality"]} if params.get("storage") == "jpeg" else None
    write_sample_shard(out_path, "frames", params, list(paths), compute, on_error, quality)
