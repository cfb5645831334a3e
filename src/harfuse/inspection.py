"""``harfuse inspect``: what an HDF5 shard, a harfuse Parquet table (manifest, quarantine,
predictions) or a trained model folder holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import pandas as pd

from harfuse.modalities.registry import available_modalities
from harfuse.plan import describe_backbone
from harfuse.store.manifest import read_manifest
from harfuse.store.quarantine import COLUMNS as QUARANTINE_COLUMNS
from harfuse.store.quarantine import quarantine_path, read_quarantine
from harfuse.store.run_dir import RunDir, RunError
from harfuse.train.metrics import shown_metrics


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
        from harfuse.store.shards import decode_jpeg

        # (T,) JPEG byte strings: show the decoded (T, H, W, 3)
        frame = decode_jpeg(ds[0]).shape if len(ds) else (0, 0, 3)
        info["shape"] = [len(ds), *frame]
        info["dtype"] = f"uint8, stored as {len(ds)} JPEG frames"
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
    probs = [c for c in df.columns if c.startswith("prob_")]
    if probs and {"sample_id", "label_idx", "pred_idx"} <= set(df.columns):
        return _predictions(path, df, [c[len("prob_") :] for c in probs])
    if not {"sample_id", "label", "label_idx", "shard"} <= set(df.columns):
        return {"kind": "table", "path": str(path), "rows": len(df), "columns": list(df.columns)}
    try:
        df = read_manifest(path)
    except (KeyError, ValueError) as exc:
        raise InspectError(f"{path}: a manifest without its metadata: {exc}") from exc
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


def _predictions(path: Path, df: pd.DataFrame, classes: list[str]) -> dict[str, Any]:
    """A run's ``predictions.parquet``: test samples, top-1 and the per-class counts."""
    correct = df["pred_idx"] == df["label_idx"]
    return {
        "kind": "predictions",
        "path": str(path),
        "samples": len(df),
        "classes": classes,
        "top1": round(float(correct.mean()), 4) if len(df) else None,
        "per_class": {
            classes[int(k)]: {
                "samples": int(n),
                "correct": int(correct[df["label_idx"] == k].sum()),
            }
            for k, n in df["label_idx"].value_counts().sort_index().items()
        },
    }


def inspect_model(folder: Path) -> dict[str, Any]:
    """A trained run folder (``model.json``, ``model.pt``, ``metrics.json``): the model, its
    classes, input shapes, the preprocessing it was trained on and its test metrics."""
    run = RunDir(folder)
    try:
        description = run.description()
    except RunError as exc:
        raise InspectError(f"not a readable model description: {exc}") from exc
    out: dict[str, Any] = {
        "kind": "model",
        "path": str(folder),
        "variant": description.get("variant"),
        "model": description.get("model"),
        "modalities": description.get("modalities"),
        "classes": description.get("classes"),
        "shapes": description.get("shapes"),
        "split": description.get("split"),
        "experiment": (description.get("experiment") or {}).get("name"),
        "preprocessing": description.get("preprocessing"),
        "files": sorted(p.name for p in folder.iterdir() if p.is_file()),
    }
    backbone = (description.get("options") or {}).get("backbone")
    if backbone:
        out["rgb"] = describe_backbone(backbone)
    if run.metrics_path.is_file():
        metrics = run.metrics()
        shown = [*shown_metrics(len(description.get("classes") or [])), "n_train", "n_test"]
        out["metrics"] = {k: metrics[k] for k in shown if k in metrics}
        out["environment"] = metrics.get("environment")
    return out


def inspect_file(path: str | Path, samples: int = 3) -> dict[str, Any]:
    """Summary of ``path``: an ``.h5`` shard, a ``.parquet`` table, or a model folder (or
    its ``model.json``)."""
    path = Path(path)
    if path.is_dir() and (path / "model.json").is_file():
        return inspect_model(path)
    if path.name == "model.json" and path.is_file():
        return inspect_model(path.parent)
    if not path.exists():
        raise InspectError(f"{path}: no such file")
    if path.suffix in (".h5", ".hdf5"):
        return inspect_shard(path, samples)
    if path.suffix == ".parquet":
        return inspect_table(path)
    raise InspectError(
        f"{path}: not an HDF5 shard (.h5), a Parquet table (.parquet) or a model folder "
        "(with model.json)"
    )


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
