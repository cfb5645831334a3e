"""Every modality (:mod:`harfuse.modalities`), by name, and what is asked of all of them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harfuse.config_schema import filled
from harfuse.modalities import audio, depth, flow, imu, rgb, skeleton
from harfuse.modalities.base import FILE_RULE, Modality

#: name -> modality, in the order models, reports and checks list them
MODALITIES: dict[str, Modality] = {
    m.name: m
    for m in (
        rgb.MODALITY,
        flow.MODALITY,
        audio.MODALITY,
        imu.MODALITY,
        skeleton.MODALITY,
        depth.MODALITY,
    )
}
#: the modality names a variant's ``modalities`` may list
NAMES: tuple[str, ...] = tuple(MODALITIES)


def modality(name: str) -> Modality:
    """The modality ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in MODALITIES:
        raise ValueError(f"unknown modality {name!r}; known: {', '.join(NAMES)}")
    return MODALITIES[name]


def available_modalities(df: pd.DataFrame, config: dict[str, Any] | None = None) -> set[str]:
    """The modalities the manifest's samples can provide under ``config`` (e.g. skeletons
    from the videos with ``skeleton.source: pose``, else from ``skeleton_path``; None: the
    defaults, the dataset's own skeletons)."""
    if config is None:
        config = {"skeleton": filled({}, "skeleton")}
    return {name for name, m in MODALITIES.items() if m.available(df, config)}


def file_modalities(config: dict[str, Any]) -> list[str]:
    """The modalities whose shards the per-file rule (:data:`FILE_RULE`) writes under
    ``config``."""
    return [name for name, m in MODALITIES.items() if m.shard_rule(config) == FILE_RULE]


def used_by(variants: dict[str, dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    """The ``variants`` (name -> spec) that read modality ``name``."""
    return {v: spec for v, spec in variants.items() if name in spec["modalities"]}


def modality_problems(
    config: dict[str, Any], variants: dict[str, dict[str, Any]], stages: set[str]
) -> list[str]:
    """Each modality's checks before work, for the ``variants`` that read it."""
    return [
        problem
        for name, m in MODALITIES.items()
        if (users := used_by(variants, name))
        for problem in m.problems(config, users, stages)
    ]


def modality_notes(config: dict[str, Any], variants: dict[str, dict[str, Any]]) -> list[str]:
    """Each used modality's lines under the report's table, for the runnable ``variants``."""
    return [
        note
        for name, m in MODALITIES.items()
        if (users := used_by(variants, name))
        for note in m.report_notes(config, users)
    ]
