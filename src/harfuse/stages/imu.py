"""Stage ``imu``: resample each IMU file to the target rate and fit it to a fixed window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.preprocess.imu import imu_window
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/imu`` ``(window, C)`` float32, zero-padded at the end, with
    ``valid_length`` (samples before padding) and the rates as attributes."""
    paths = shard_sources(manifest_path, shard, "imu_path")

    def compute(sid: str) -> SampleArrays:
        return {"imu": imu_window(paths[sid], params)}

    write_sample_shard(out_path, "imu", params, list(paths), compute, on_error)
