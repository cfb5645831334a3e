"""The manifest: one row per sample, the single index every later stage reads.

Columns: ``sample_id`` (unique, filesystem-safe), ``label``, ``label_idx``, ``subject``,
``trial``, one path column per modality source (``video_path``, ``audio_path``,
``imu_path``, ``image_path``, ``skeleton_path``; empty string when absent), one column per
split protocol holding ``train``/``test``/``unused`` (listed in the parquet metadata as
``splits``), and ``shard``.
"""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harfuse.store.atomic import atomic_path, write_json

REQUIRED = ["sample_id", "label", "label_idx", "subject", "shard"]
SPLIT_VALUES = {"train", "test", "unused"}
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ManifestError(ValueError):
    """The manifest breaks its contract; the message says which rows or columns."""


def assign_shards(df: pd.DataFrame, samples_per_shard: int) -> pd.DataFrame:
    """Add the ``shard`` column: consecutive blocks of ``samples_per_shard`` rows."""
    if samples_per_shard < 1:
        raise ValueError(f"samples_per_shard must be >= 1, got {samples_per_shard}")
    out = df.reset_index(drop=True).copy()
    out["shard"] = out.index // samples_per_shard
    return out


def validate(df: pd.DataFrame, splits: list[str]) -> None:
    """Raise :class:`ManifestError` naming every broken rule of the contract."""
    missing = [c for c in [*REQUIRED, *splits] if c not in df.columns]
    if missing:
        raise ManifestError(f"manifest lacks columns {missing}")
    dup = df["sample_id"][df["sample_id"].duplicated()].tolist()
    if dup:
        raise ManifestError(f"duplicate sample_id values: {dup[:5]}")
    unsafe = [s for s in df["sample_id"] if not _SAFE_ID.match(s)]
    if unsafe:
        raise ManifestError(f"sample_id values not filesystem-safe: {unsafe[:5]}")
    for split in splits:
        bad = set(df[split]) - SPLIT_VALUES
        if bad:
            raise ManifestError(f"split column {split!r} has values {sorted(bad)}")


def write_manifest(
    df: pd.DataFrame,
    path: str | os.PathLike[str],
    splits: list[str],
    notes: list[str] | None = None,
) -> None:
    """Validate and write the manifest atomically, recording the split names and the
    scan's ``notes`` (what it left out of the dataset, and why)."""
    validate(df, splits)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {
        **(table.schema.metadata or {}),
        b"harfuse.splits": json.dumps(splits).encode(),
        b"harfuse.notes": json.dumps(notes or []).encode(),
    }
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)


def read_manifest(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a manifest; ``df.attrs["splits"]`` lists the split protocol columns,
    ``df.attrs["notes"]`` what the scan left out."""
    table = pq.read_table(path)
    df = table.to_pandas()
    meta = table.schema.metadata or {}
    df.attrs["splits"] = json.loads(meta.get(b"harfuse.splits", b"[]"))
    df.attrs["notes"] = json.loads(meta.get(b"harfuse.notes", b"[]"))
    return df


def write_classes(classes: list[str], path: str | os.PathLike[str]) -> None:
    """``classes.json``: the label names in ``label_idx`` order."""
    write_json(path, classes)


def shard_ids(df: pd.DataFrame) -> list[int]:
    """The shard indices present, sorted."""
    return sorted(int(s) for s in df["shard"].unique())
