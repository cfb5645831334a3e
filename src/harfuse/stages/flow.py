"""Stage ``flow``: dense optical flow between consecutive frames of each frame shard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harfuse.flow import quantize
from harfuse.flow.compute import flow_from_config
from harfuse.flow.quantize import flow_scale
from harfuse.stages.shard_job import SampleArrays, write_sample_shard
from harfuse.store.shards import ShardReader


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
    bound, storage = float(params["bound"]), params["storage"]

    def compute(sid: str) -> SampleArrays:
        flow = flow_from_config(frames.read(sid, "frames"), params, device)
        attrs = {"method": params["method"], "bound": bound, "storage": storage}
        if storage == "uint8":
            return {"flow": (quantize(flow, bound), {**attrs, "scale": flow_scale(bound)})}
        return {"flow": (flow.astype(np.float16), attrs)}

    write_sample_shard(out_path, "flow", params, frames.sample_ids(), compute, on_error)
