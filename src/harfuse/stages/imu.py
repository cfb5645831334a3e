"""Stage ``imu``: resample each IMU file to the target rate and fit it to a fixed window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.media.imu import IMUParams, load_imu, sliding_windows
from harfuse.media.sampling import pad_or_truncate
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/imu`` ``(window, C)`` float32, zero-padded at the end, with
    ``valid_length`` (samples before padding) and the rates as attributes; with a
    ``stride``, also ``/{sample_id}/imu_windows`` ``(n, window, C)`` sliding windows
    (``starts`` attribute, in samples)."""
    p = IMUParams(**params)
    paths = shard_sources(manifest_path, shard, "imu_path")

    def compute(sid: str) -> SampleArrays:
        data, channels, source_rates = load_imu(paths[sid], p.rate)
        window, valid = pad_or_truncate(data, p.window)
        attrs = {
            "valid_length": valid,
            "rate": p.rate,
            "source_rates": source_rates,
            "channels": channels,
            "source": paths[sid],
        }
        arrays = {"imu": (window, attrs)}
        if p.stride:
            windows, starts = sliding_windows(data, p.window, p.stride)
            arrays["imu_windows"] = (windows, {**attrs, "starts": starts, "stride": p.stride})
        return arrays

    write_sample_shard(out_path, "imu", params, list(paths), compute, on_error)
