"""The torchvision backbones harfuse knows, as data: their feature sizes, input
normalisation and a variant's ``options.backbone``. Nothing here imports torch, so the
parse-time checks can read shapes without it (:mod:`harfuse.encoders.frozen` and
:mod:`harfuse.encoders.finetune` build the networks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harfuse.config_schema import default

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
#: image backbone -> feature size (ResNets: pooled last stage; VGG16: fc7)
IMAGE_BACKBONES = {"resnet18": 512, "resnet50": 2048, "vgg16": 4096}
#: video backbone -> feature size (pooled last stage, before the classifier)
VIDEO_BACKBONES = {"r3d_18": 512, "r2plus1d_18": 512, "s3d": 1024}

BACKBONE_DIMS = {**IMAGE_BACKBONES, **VIDEO_BACKBONES}


def _default(key: str) -> Any:
    return default("train", "variants", "*", "options", "backbone", key)


@dataclass(frozen=True)
class BackboneSpec:
    """A variant's ``options.backbone``. ``blocks``: ``all``, ``none`` or block names
    (:func:`harfuse.encoders.finetune.named_blocks`); ``lr_scale`` multiplies the learning
    rate of those blocks; ``num_frames`` and ``input_size`` ``[h, w]`` px are the clips it
    reads; ``test_clips`` clips spread over a test video are averaged; ``checkpointing``
    recomputes the trained blocks' activations in the backward pass (less memory, ~1/3 more
    compute); ``init_from`` names the variant whose fine-tuned backbone this one starts
    from (:func:`harfuse.encoders.finetune.copy_backbone`; ``weights`` is then not
    read)."""

    arch: str
    weights: str = _default("weights")
    blocks: str | Sequence[str] = _default("blocks")
    lr_scale: float = _default("lr_scale")
    num_frames: int = _default("num_frames")
    input_size: tuple[int, int] = tuple(_default("input_size"))
    test_clips: int = _default("test_clips")
    checkpointing: bool = _default("checkpointing")
    init_from: str | None = _default("init_from")
    allow_download: bool = field(default=_default("allow_download"), compare=False)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> BackboneSpec:
        """From config: unknown keys are an error naming the valid ones."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(
                f"backbone has no option {', '.join(unknown)} (options: {', '.join(sorted(known))})"
            )
        if "arch" not in options:
            raise ValueError(f"backbone needs arch: one of {', '.join(sorted(BACKBONE_DIMS))}")
        values = dict(options)
        if "input_size" in values:
            values["input_size"] = tuple(values["input_size"])
        return cls(**values)

    @property
    def per_frame(self) -> bool:
        return self.arch in IMAGE_BACKBONES

    def input_shape(self) -> tuple[int, int, int, int]:
        """One sample's clip ``(T, h, w, 3)`` (one test clip)."""
        return (self.num_frames, *self.input_size, 3)

    def output_shape(self) -> tuple[int, int]:
        """One sample's features ``(T', D)``."""
        return (self.num_frames if self.per_frame else 1, BACKBONE_DIMS[self.arch])
