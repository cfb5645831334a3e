"""Stage ``flow``: dense optical flow between consecutive frames of each frame shard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.preprocess.flow import flow_field
from harfuse.stages.shard_job import SampleArrays, write_sample_shard
from harfuse.store.shards import FRAMES_PARAMS, ShardReader


def run(
    frames_path: str | Path,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
    threads: int = 1,
    device: str = "auto",
) -> None:
    """Write ``/{sample_id}/flow`` ``(T-1, H, W, 2)``: uint8 codes (``storage: uint8``,
    see :mod:`harfuse.flow.quantize`) or float16 px (``storage: float16``)."""
    import cv2

    cv2.setNumThreads(threads)
    frames = ShardReader(frames_path)

    def compute(sid: str) -> SampleArrays:
        return {"flow": flow_field(frames.read(sid, "frames"), params, device)}

    write_sample_shard(
        out_path,
        "flow",
        params,
        frames.sample_ids(),
        compute,
        on_error,
        root_attrs={FRAMES_PARAMS: frames.file.attrs["params"]},
    )
