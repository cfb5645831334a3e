"""Stage ``sample_files``: the modalities made from each sample's own file (IMU windows,
the dataset's skeletons, depth maps), one shard per manifest shard and modality.

The modality's module (:mod:`harfuse.modalities`) says which manifest columns hold the
files and what its shard stores of one (``stored``); this stage only runs it over a
shard's samples. The rule names the module, so a stage's code version covers that
modality alone.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from harfuse.modalities.base import Context, Modality
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard


def module_of(modality: str) -> str:
    """The module defining ``modality`` (what its rule's code version hashes)."""
    return f"harfuse.modalities.{modality}"


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    modality: str,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/{array}`` for each array the modality stores, for the shard's
    samples with a file in one of its manifest columns (``params``: its config section, as
    :meth:`~harfuse.modalities.base.Modality.stage_params` gives it); an unreadable file
    is quarantined with the reason."""
    unit: Modality = importlib.import_module(module_of(modality)).MODALITY
    paths = shard_sources(manifest_path, shard, *unit.columns)

    def compute(sid: str) -> SampleArrays:
        return unit.stored(paths[sid], {unit.section: params}, Context(source=str(paths[sid])))

    write_sample_shard(out_path, modality, params, list(paths), compute, on_error)
