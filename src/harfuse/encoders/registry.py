"""Name -> encoder constructor."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from harfuse.encoders.backbones import IMAGE_BACKBONES, VIDEO_BACKBONES
from harfuse.encoders.depth import DepthCNNEncoder
from harfuse.encoders.frozen import ClipEncoder, FrameEncoder
from harfuse.encoders.skeleton import SkeletonGCNEncoder, SkeletonTCNEncoder
from harfuse.encoders.trainable import (
    AudioResNetEncoder,
    FeatureLSTMEncoder,
    FeatureSequenceEncoder,
    Flow3DEncoder,
    FlowResNetEncoder,
    IMUEncoder,
    LogMelEncoder,
    StackedFlowEncoder,
)

#: frozen: the image and video backbones (``weights=``); the rest are trained
ENCODERS: dict[str, Callable[..., nn.Module]] = {
    **{arch: partial(FrameEncoder, arch) for arch in IMAGE_BACKBONES},
    **{arch: partial(ClipEncoder, arch) for arch in VIDEO_BACKBONES},
    "feature_sequence": FeatureSequenceEncoder,
    "feature_lstm": FeatureLSTMEncoder,
    "stacked_flow": StackedFlowEncoder,
    "flow_resnet18": FlowResNetEncoder,
    "flow_3dcnn": Flow3DEncoder,
    "logmel_cnn": LogMelEncoder,
    "audio_resnet18": AudioResNetEncoder,
    "imu_cnn1d": IMUEncoder,
    "skeleton_gcn": SkeletonGCNEncoder,
    "skeleton_tcn": SkeletonTCNEncoder,
    "depth_cnn": DepthCNNEncoder,
}


def create_encoder(name: str, **kwargs) -> nn.Module:
    """Build encoder ``name`` with its keyword arguments (e.g. ``weights="none"``)."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}")
    return ENCODERS[name](**kwargs)
