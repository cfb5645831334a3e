"""The preprocessing that input shards recorded: what a model trained on them saw.

Separate from :mod:`harfuse.store.shards` so that only the train stage's code version
depends on it (every stage writes shards).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py

from harfuse.store.shards import FRAMES_PARAMS

#: the config sections each modality's shards record: their own stage's, and for flow, rgb
#: features and estimated skeletons the frame shard's they were computed from (``frames``:
#: the frame shards a fine-tuned backbone reads)
_SECTIONS = {
    "rgb": "features",
    "flow": "flow",
    "audio": "audio",
    "imu": "imu",
    "skeleton": "skeleton",
    "frames": "frames",
}


def recorded_preprocessing(
    shards: dict[str, Sequence[str | os.PathLike[str]]],
) -> dict[str, dict[str, Any]]:
    """The preprocessing the input shards were made with, by config section (``frames``,
    ``features``, ``flow``, ``audio``, ``imu``), from their stored parameters: what a model
    trained on them saw, whatever the config says now.

    ``shards`` maps a modality (or ``frames``) to its shard files. Raises ``ValueError``
    naming the shard whose parameters differ from an earlier one's for the same section,
    or that lacks them (made by an older harfuse: rerun its stage).
    """
    found: dict[str, tuple[dict[str, Any], Path]] = {}

    def record(section: str, params: dict[str, Any], path: Path) -> None:
        if section in found and found[section][0] != params:
            first = found[section][1]
            raise ValueError(
                f"{path}: {section} parameters {params} differ from those of {first} "
                f"({found[section][0]}); rerun the stages so that every shard has the same"
            )
        found.setdefault(section, (params, path))

    for modality, paths in shards.items():
        for p in map(Path, paths):
            with h5py.File(p, "r") as f:
                attrs = dict(f.attrs)
            if "params" not in attrs:
                raise ValueError(f"{p}: no stored parameters; rerun its stage")
            record(_SECTIONS[modality], json.loads(attrs["params"]), p)
            if modality in ("rgb", "flow") or (modality == "skeleton" and FRAMES_PARAMS in attrs):
                if FRAMES_PARAMS not in attrs:
                    raise ValueError(f"{p}: no {FRAMES_PARAMS}; made by an older harfuse, rerun")
                record("frames", json.loads(attrs[FRAMES_PARAMS]), p)
    return {section: params for section, (params, _) in found.items()}
