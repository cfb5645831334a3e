"""``harfuse inspect``: what an HDF5 shard or a manifest / quarantine table holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import pandas as pd

from harfuse.store.manifest import available_modalities, read_manifest
from harfuse.store.quarantine import COLUMNS as QUARANTINE_COLUMNS
from harfuse.store.quarantine import quarantine_path, read_quarantine


class InspectError(ValueError):
    """A file ``harfuse inspect`` cannot summarise; the message names it."""


def _plain(value: Any) -> Any:
    """An HDF5 attribute as JSON-friendly Python."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def _dataset(ds: h5py.Dataset) -> dict[str, Any]:
    info: dict[str, Any] = {"shape": list(ds.shape), "dtype": str(ds.dtype)}
    if ds.attrs.get("encoding") == "jpeg":
        info["dtype"] = f"{len(ds)} JPEG frames"
    attrs = {k: _plain(v) for k, v in ds.attrs.items()}
    if attrs:
        info["attrs"] = attrs
    return info


def _quarantine(rows: pd.DataFrame) -> dict[str, Any]:
    return {
        "rows": len(rows),
        "by_stage": rows.groupby("stage").size().to_dict(),
        "first": rows.head(10).to_dict("records"),
    }


def inspect_shard(path: Path, samples: int) -> dict[str, Any]:
    """Root attributes (stage, params), sample count, stacked arrays, and the arrays of
    the first ``samples`` samples; the stage's quarantine rows for this shard."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InspectError(f"{path}: not a readable HDF5 file: {exc}") from exc
    with f:
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        if "params" in attrs:
            attrs["params"] = json.loads(attrs["params"])
        groups = [k for k in f if isinstance(f[k], h5py.Group)]
        out: dict[str, Any] = {
            "kind": "shard",
            "path": str(path),
            "attrs": attrs,
            "samples": len(groups),
            "stacked": {k: _dataset(f[k]) for k in f if isinstance(f[k], h5py.Dataset)},
            "first_samples": {
                g: {name: _dataset(ds) for name, ds in f[g].items()} for g in groups[:samples]
            },
        }
        if "sample_id" in f:  # feature shard: samples are rows of the stacked arrays
            out["samples"] = len(f["sample_id"])
    qpath = quarantine_path(path)
    if qpath.exists():
        out["quarantine"] = _quarantine(read_quarantine([qpath]))
    return out


def inspect_table(path: Path) -> dict[str, Any]:
    """A manifest (samples, classes, split sizes, modalities) or a quarantine table."""
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InspectError(f"{path}: not a readable Parquet table: {exc}") from exc
    if set(QUARANTINE_COLUMNS) <= set(df.columns) and len(df.columns) == len(QUARANTINE_COLUMNS):
        return {"kind": "quarantine", "path": str(path), **_quarantine(df)}
    if "label_idx" not in df.columns or "sample_id" not in df.columns:
        return {"kind": "table", "path": str(path), "rows": len(df), "columns": list(df.columns)}
    df = read_manifest(path)
    splits = df.attrs.get("splits", [])
    out = {
        "kind": "manifest",
        "path": str(path),
        "samples": len(df),
        "classes": int(df["label_idx"].nunique()),
        "samples_per_class": {
            "min": int(df["label"].value_counts().min()),
            "max": int(df["label"].value_counts().max()),
        },
        "subjects": int(df["subject"].nunique()),
        "shards": int(df["shard"].nunique()),
        "modalities": sorted(available_modalities(df)),
        "splits": {s: df[s].value_counts().to_dict() for s in splits},
    }
    qpath = path.with_name("quarantine.parquet")
    if qpath.exists() and qpath != path:
        out["quarantine"] = _quarantine(read_quarantine([qpath]))
    return out


def inspect_file(path: str | Path, samples: int = 3) -> dict[str, Any]:
    """Summary of ``path`` (``.h5`` shard, or ``.parquet`` manifest / quarantine table)."""
    path = Path(path)
    if not path.is_file():
        raise InspectError(f"{path}: no such file")
    if path.suffix in (".h5", ".hdf5"):
        return inspect_shard(path, samples)
    if path.suffix == ".parquet":
        return inspect_table(path)
    raise InspectError(f"{path}: not an HDF5 shard (.h5) or a Parquet table (.parquet)")


def render(summary: dict[str, Any]) -> str:
    """``summary`` as indented text, one key per line."""
    lines: list[str] = []

    def walk(value: Any, indent: int) -> None:
        pad = "  " * indent
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, dict | list) and v and not _flat(v):
                    lines.append(f"{pad}{k}:")
                    walk(v, indent + 1)
                else:
                    lines.append(f"{pad}{k}: {_inline(v)}")
        else:
            for item in value:
                lines.append(f"{pad}- {_inline(item)}")

    walk(summary, 0)
    return "\n".join(lines) + "\n"


def _flat(v: Any) -> bool:
    items = v.values() if isinstance(v, dict) else v
    return all(not isinstance(x, dict | list) for x in items) and len(items) <= 8


def _inline(v: Any) -> str:
    return json.dumps(v, default=str) if isinstance(v, dict | list) else str(v)
