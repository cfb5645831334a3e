"""Name -> encoder constructor."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from harfuse.encoders.frozen import FrameEncoder
from harfuse.encoders.trainable import (
    FeatureSequenceEncoder,
    IMUEncoder,
    LogMelEncoder,
    StackedFlowEncoder,
)

ENCODERS: dict[str, Callable[..., nn.Module]] = {
    "resnet18": partial(FrameEncoder, "resnet18"),
    "resnet50": partial(FrameEncoder, "resnet50"),
    "feature_sequence": FeatureSequenceEncoder,
    "stacked_flow": StackedFlowEncoder,
    "logmel_cnn": LogMelEncoder,
    "imu_cnn1d": IMUEncoder,
}


def create_encoder(name: str, **kwargs) -> nn.Module:
    """Build encoder ``name`` with its keyword arguments (e.g. ``weights="none"``)."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}")
    return ENCODERS[name](**kwargs)
