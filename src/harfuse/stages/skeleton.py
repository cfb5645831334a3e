"""Stage ``skeleton``: each sample's dataset skeleton file (UTD-MHAD ``.mat``, NTU RGB+D
``.skeleton``) into the shard format both skeleton sources share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.preprocess.skeleton import dataset_skeleton
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/skeleton`` ``(T, M, J, 3)`` float16 metres and
    ``/{sample_id}/detected`` ``(T, M)`` uint8 for the shard's samples with a skeleton
    file; a file that is unreadable or has no body in any frame is quarantined."""
    paths = shard_sources(manifest_path, shard, "skeleton_path")

    def compute(sid: str) -> SampleArrays:
        return dataset_skeleton(paths[sid], params)

    write_sample_shard(out_path, "skeleton", params, list(paths), compute, on_error)
