"""The per-sample loop shared by shard-producing stages: progress, quarantine, atomic output."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from harfuse.media.decode import DecodeError
from harfuse.runlog import report_progress
from harfuse.store.manifest import read_manifest
from harfuse.store.quarantine import OnError, quarantine_path, write_quarantine
from harfuse.store.shards import SampleArrays, ShardWriter

log = logging.getLogger(__name__)

#: exceptions that mean "this input is bad", as opposed to a bug in harfuse (IMUError is a
#: ValueError; naming it here would make every stage's code version depend on the IMU code)
BAD_INPUT = (DecodeError, OSError, ValueError, KeyError)
__all__ = ["SampleArrays", "shard_sources", "write_sample_shard"]


def shard_sources(
    manifest_path: str | os.PathLike[str], shard: int, *columns: str
) -> dict[str, str]:
    """``{sample_id: path}`` for the manifest rows of ``shard``: the first non-empty of
    ``columns`` per row; rows with none (no such input) are left out."""
    rows = read_manifest(manifest_path).query("shard == @shard")
    sources = {}
    for row in rows.to_dict("records"):
        path = next((row[c] for c in columns if row.get(c)), "")
        if path:
            sources[row["sample_id"]] = path
    return sources


def write_sample_shard(
    out_path: str | os.PathLike[str],
    stage: str,
    params: dict[str, Any],
    sample_ids: Sequence[str],
    compute: Callable[[str], SampleArrays],
    on_error: str = OnError.SKIP,
    jpeg_quality: dict[str, int] | None = None,
    root_attrs: dict[str, Any] | None = None,
    compress_threads: int = 0,
) -> int:
    """Compute every sample into one shard; bad inputs go to the quarantine sidecar.

    With ``on_error="fail"`` the first bad input stops the job (no shard is written).
    ``jpeg_quality`` maps array names to store as JPEG frames to their quality;
    ``root_attrs`` are set on the shard's root (provenance besides ``params``);
    ``compress_threads`` compress the arrays while the next sample is computed
    (:class:`~harfuse.store.shards.ShardWriter`). Returns the number of samples stored.
    """
    if on_error not in (OnError.SKIP, OnError.FAIL):
        raise ValueError(f"on_error must be skip or fail, got {on_error!r}")
    quarantine: list[dict[str, str]] = []
    start = last = time.perf_counter()
    stored = 0
    with ShardWriter(out_path, stage, params, compress_threads) as writer:
        for key, value in (root_attrs or {}).items():
            writer.set_attr(key, value)
        for i, sid in enumerate(sample_ids, 1):
            report_progress(
                stage, i - 1, len(sample_ids), "samples", f"sample {i}/{len(sample_ids)}"
            )
            try:
                arrays = compute(sid)
            except BAD_INPUT as exc:
                if on_error == OnError.FAIL:
                    raise
                log.warning("%s: quarantined %s: %s", stage, sid, exc)
                quarantine.append({"sample_id": sid, "stage": stage, "reason": str(exc)})
                continue
            for name, (array, attrs) in arrays.items():
                writer.write(sid, name, array, attrs, (jpeg_quality or {}).get(name))
            stored += 1
            now = time.perf_counter()
            if now - last > 10 or i == len(sample_ids):
                log.info(
                    "%s: %d/%d samples (%.1f/s)",
                    stage,
                    i,
                    len(sample_ids),
                    i / max(now - start, 1e-9),
                )
                last = now
    write_quarantine(quarantine_path(out_path), quarantine)
    return stored
