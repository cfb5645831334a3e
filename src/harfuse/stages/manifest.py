"""Stage ``manifest``: scan the dataset root into the manifest, classes and quarantine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from harfuse.datasets import scan_dataset
from harfuse.store.manifest import assign_shards, write_classes, write_manifest
from harfuse.store.quarantine import write_quarantine

log = logging.getLogger(__name__)


def run(
    manifest_path: str | Path,
    classes_path: str | Path,
    quarantine_path: str | Path,
    dataset: dict[str, Any],
    samples_per_shard: int,
) -> None:
    """Scan ``dataset["root"]`` with the adapter of ``dataset["layout"]``, keeping the
    class subset ``dataset["classes"]`` when given (names, or N = the first N classes)."""
    found = scan_dataset(
        dataset["root"],
        dataset["layout"],
        dataset.get("classes"),
        **(dataset.get("options") or {}),
    )
    if found.samples.empty:
        raise ValueError(f"{dataset['root']}: no usable sample for layout {dataset['layout']}")
    df = assign_shards(found.samples, samples_per_shard)
    for split in found.splits:
        log.info("split %s: %s", split, df[split].value_counts().to_dict())
    log.info(
        "%d samples, %d classes, %d shards, %d quarantined",
        len(df),
        len(found.classes),
        df["shard"].nunique(),
        len(found.quarantine),
    )
    write_classes(found.classes, classes_path)
    write_quarantine(quarantine_path, found.quarantine)
    write_manifest(df, manifest_path, found.splits, found.notes)
