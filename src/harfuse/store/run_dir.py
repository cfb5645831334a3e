"""The run folder a training job writes and prediction, inspection and the report read:
``results/{dataset}/runs/{variant}/{split}/{experiment}/``.

- ``model.pt``: the model's state dict (``torch.load(weights_only=True)``);
- ``model.json``: what the model is and was trained on (model, modalities, options,
  classes, input shapes, normalisation, the preprocessing its input shards recorded, ...);
- ``metrics.json``: the test metrics, counts and training history;
- ``predictions.parquet``: one row per test sample (``sample_id``, ``label_idx``,
  ``pred_idx``, ``prob_{class}``);
- ``quarantine.parquet``: the samples the run left out for lacking a modality.

Every file is written atomically; reading checks that the keys the readers rely on are
there and names the file otherwise (:class:`RunError`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harfuse.store.atomic import atomic_path, write_json

#: keys ``model.json`` must hold (prediction rebuilds the model from them)
DESCRIPTION_KEYS = ("variant", "model", "modalities", "options", "shapes", "classes")
#: keys ``metrics.json`` must hold (the report's table)
METRICS_KEYS = ("variant", "modalities", "split", "experiment", "top1")


class RunError(ValueError):
    """A run folder's file is missing, unreadable or lacks what its readers need."""


@dataclass(frozen=True)
class RunDir:
    """One run folder (``path``); see the module docstring for its files."""

    path: Path

    def __init__(self, path: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def model_path(self) -> Path:
        return self.path / "model.pt"

    @property
    def description_path(self) -> Path:
        return self.path / "model.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def predictions_path(self) -> Path:
        return self.path / "predictions.parquet"

    @property
    def quarantine_path(self) -> Path:
        return self.path / "quarantine.parquet"

    # --- writing (the train stage) ---------------------------------------------------

    def write_model(self, state: dict[str, Any]) -> None:
        """``model.pt`` from a state dict (its tensors moved to the CPU by the caller)."""
        import torch

        with atomic_path(self.model_path) as tmp:
            torch.save(state, tmp)

    def write_description(self, description: dict[str, Any]) -> None:
        """``model.json``; :class:`RunError` when it lacks a :data:`DESCRIPTION_KEYS` key."""
        _require(description, DESCRIPTION_KEYS, self.description_path)
        write_json(self.description_path, description)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """``metrics.json``; :class:`RunError` when it lacks a :data:`METRICS_KEYS` key."""
        _require(metrics, METRICS_KEYS, self.metrics_path)
        write_json(self.metrics_path, metrics)

    def write_predictions(self, predictions: pd.DataFrame) -> None:
        """``predictions.parquet``."""
        with atomic_path(self.predictions_path) as tmp:
            predictions.to_parquet(tmp, index=False)

    # --- reading (predict, inspect, report) ------------------------------------------

    def description(self) -> dict[str, Any]:
        """``model.json``, checked for :data:`DESCRIPTION_KEYS`."""
        return read_description(self.description_path)

    def metrics(self) -> dict[str, Any]:
        """``metrics.json``, checked for :data:`METRICS_KEYS`."""
        return read_metrics(self.metrics_path)

    def state(self) -> dict[str, Any]:
        """``model.pt``'s state dict, on the CPU."""
        import torch

        if not self.model_path.is_file():
            raise RunError(f"{self.model_path}: missing")
        try:
            return torch.load(self.model_path, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, ValueError) as exc:
            raise RunError(f"{self.model_path}: unreadable: {exc}") from exc

    def predictions(self) -> pd.DataFrame:
        """``predictions.parquet``."""
        return pd.read_parquet(self.predictions_path)


def read_description(
    path: str | os.PathLike[str], keys: tuple[str, ...] = DESCRIPTION_KEYS
) -> dict[str, Any]:
    """A ``model.json`` (the report reads them by path), checked for ``keys`` (those its
    reader relies on; default: what prediction needs, :data:`DESCRIPTION_KEYS`)."""
    return _require(_read_json(Path(path)), keys, Path(path))


def read_metrics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A ``metrics.json`` (the report reads them by path), checked for
    :data:`METRICS_KEYS`."""
    return _require(_read_json(Path(path)), METRICS_KEYS, Path(path))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RunError(f"{path}: missing")
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: unreadable: {exc}") from exc
    if not isinstance(found, dict):
        raise RunError(f"{path}: not a JSON object")
    return found


def _require(found: dict[str, Any], keys: tuple[str, ...], path: Path) -> dict[str, Any]:
    lacking = [k for k in keys if k not in found]
    if lacking:
        raise RunError(f"{path}: no {', '.join(lacking)} (made by another harfuse? rerun it)")
    return found
