"""The preprocessing that input shards recorded: what a model trained on them saw.

Separate from :mod:`harfuse.store.shards` so that only the train stage's code version
depends on it (every stage writes shards).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import h5py

from harfuse.store.shards import FRAMES_PARAMS


def recorded_preprocessing(
    shards: dict[str, Sequence[str | os.PathLike[str]]],
    frames_from: Collection[str] = (),
) -> dict[str, dict[str, Any]]:
    """The preprocessing the input shards were made with, by config section, from their
    stored parameters: what a model trained on them saw, whatever the config says now.

    ``shards`` maps a config section (``features``, ``flow``, ``frames`` ...) to the shard
    files that recorded it. A shard computed on the frame shards also records theirs, as
    ``frames``; those of ``frames_from`` must. Raises ``ValueError`` naming the shard whose
    parameters differ from an earlier one's for the same section, or that lacks them (made
    by an older harfuse: rerun its stage).
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

    for section, paths in shards.items():
        for p in map(Path, paths):
            with h5py.File(p, "r") as f:
                attrs = dict(f.attrs)
            if "params" not in attrs:
                raise ValueError(f"{p}: no stored parameters; rerun its stage")
            record(section, json.loads(attrs["params"]), p)
            if FRAMES_PARAMS in attrs:
                record("frames", json.loads(attrs[FRAMES_PARAMS]), p)
            elif section in frames_from:
                raise ValueError(f"{p}: no {FRAMES_PARAMS}; made by an older harfuse, rerun")
    return {section: params for section, (params, _) in found.items()}
