"""The quarantine table: inputs a stage could not use, with the reason, never silent.

Each per-shard job writes ``shard-{k}.quarantine.parquet`` beside its shard with rows
``(sample_id, stage, reason)``; the report gathers them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from harfuse.store.atomic import atomic_path

COLUMNS = ["sample_id", "stage", "reason"]


class OnError:
    """Allowed values of the ``on_error`` config key."""

    SKIP = "skip"
    FAIL = "fail"


def quarantine_path(shard_path: str | os.PathLike[str]) -> Path:
    """The quarantine sidecar of a shard: ``shard-3.h5`` -> ``shard-3.quarantine.parquet``."""
    p = Path(shard_path)
    return p.with_name(p.name.removesuffix(".h5") + ".quarantine.parquet")


def write_quarantine(path: str | os.PathLike[str], rows: Iterable[dict[str, str]]) -> None:
    """Write the rows (possibly none) atomically as parquet."""
    df = pd.DataFrame(list(rows), columns=COLUMNS).astype(str)
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def read_quarantine(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """Concatenate quarantine tables; an empty frame with :data:`COLUMNS` when none."""
    frames = [pd.read_parquet(p) for p in paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)
