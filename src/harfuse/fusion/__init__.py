"""Classifiers over one or several modalities, by name (a variant's ``model``)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from harfuse.config_schema import did_you_mean
from harfuse.fusion.base import MODALITIES, Classifier
from harfuse.fusion.early import EarlyFusion
from harfuse.fusion.late import LateFusion
from harfuse.fusion.mid import MidFusion
from harfuse.fusion.single import SingleModality
from harfuse.fusion.two_stage import TwoStageFusion

MODELS: dict[str, type[Classifier]] = {
    "single": SingleModality,
    "early": EarlyFusion,
    "mid": MidFusion,
    "late": LateFusion,
    "two_stage": TwoStageFusion,
}


def create_model(
    name: str, shapes: dict[str, Sequence[int]], num_classes: int, **options
) -> Classifier:
    """Build model ``name`` for inputs of per-sample ``shapes`` keyed by modality;
    ``options`` are the variant's ``options`` (the model's keyword arguments)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    known = set(inspect.signature(MODELS[name]).parameters) - {"shapes", "num_classes"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"model {name!r} has no option {', '.join(unknown)}"
            f"{did_you_mean(unknown[0], known)} (options: {', '.join(sorted(known))})"
        )
    return MODELS[name](shapes, num_classes, **options)


__all__ = ["MODALITIES", "MODELS", "Classifier", "create_model"]
