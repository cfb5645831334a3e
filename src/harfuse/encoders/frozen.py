"""Frozen torchvision backbones: image models applied per frame, video models per clip.

Both take ``(B, T, H, W, 3)`` uint8 RGB and return ``(B, T', D)`` float32 features:
``T' = T`` for image backbones (one vector per frame), ``T' = 1`` for video backbones
(one vector for the clip). They are frozen: ``eval()`` always, no gradients.
"""

from __future__ import annotations

import torch
from torch import nn

from harfuse.encoders.backbones import (
    IMAGE_BACKBONES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    KINETICS_MEAN,
    KINETICS_STD,
    VIDEO_BACKBONES,
)
from harfuse.weights import resolve_state_dict


def headless(arch: str, weights: str, allow_download: bool) -> nn.Module:
    """torchvision ``arch`` with ``weights`` loaded and its classification layer removed."""
    import torchvision

    net = torchvision.models.get_model(arch, weights=None)
    state = resolve_state_dict(arch, weights, allow_download)
    if state is not None:
        net.load_state_dict(state)
    if arch.startswith("vgg"):
        net.classifier = nn.Sequential(*list(net.classifier)[:-1])  # up to fc7 + ReLU
    elif arch == "s3d":
        net.classifier = nn.Identity()  # forward then averages over (T, H, W)
        # a global mean: equal to torchvision's (2, 7, 7) window at the 16 x 224 x 224
        # clips its weights were trained on, and defined for any clip size
        net.avgpool = nn.AdaptiveAvgPool3d(1)
    else:
        net.fc = nn.Identity()
    return net.eval().requires_grad_(False)


class _Frozen(nn.Module):
    """Normalisation buffers and the always-eval behaviour shared by frozen encoders."""

    def __init__(self, mean: tuple, std: tuple, weights: str):
        super().__init__()
        self.weights = weights
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> _Frozen:
        return super().train(False)  # frozen: batch-norm statistics never update

    def normalise(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float, standardised."""
        return (frames.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / self.std


class FrameEncoder(_Frozen):
    """Per-frame ImageNet backbone: ``(B, T, H, W, 3)`` uint8 -> ``(B, T, D)``."""

    def __init__(self, arch: str, weights: str = "none", allow_download: bool = False):
        if arch not in IMAGE_BACKBONES:
            raise ValueError(f"unknown image backbone {arch!r}; known: {sorted(IMAGE_BACKBONES)}")
        super().__init__(IMAGENET_MEAN, IMAGENET_STD, weights)
        self.backbone = headless(arch, weights, allow_download)
        self.out_dim = IMAGE_BACKBONES[arch]

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        x = self.normalise(frames.reshape(b * t, *frames.shape[2:]))  # (B*T, 3, H, W)
        return self.backbone(x).reshape(b, t, -1)  # (B, T, D)


class ClipEncoder(_Frozen):
    """Kinetics video backbone over the whole clip: ``(B, T, H, W, 3)`` uint8 ->
    ``(B, 1, D)``. ``clip_len`` and ``crop`` are what its weights were trained with
    (torchvision metadata), to use as ``features.num_frames`` and ``input_size``."""

    def __init__(self, arch: str, weights: str = "none", allow_download: bool = False):
        import torchvision

        if arch not in VIDEO_BACKBONES:
            raise ValueError(f"unknown video backbone {arch!r}; known: {sorted(VIDEO_BACKBONES)}")
        super().__init__(KINETICS_MEAN, KINETICS_STD, weights)
        self.backbone = headless(arch, weights, allow_download)
        self.out_dim = VIDEO_BACKBONES[arch]
        meta = torchvision.models.get_model_weights(arch).DEFAULT
        self.crop = tuple(meta.transforms().crop_size)
        self.clip_len = int(meta.meta.get("min_temporal_size", 16))

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        x = self.normalise(frames.reshape(b * t, *frames.shape[2:]))  # (B*T, 3, H, W)
        x = x.reshape(b, t, *x.shape[1:]).transpose(1, 2)  # (B, 3, T, H, W)
        return self.backbone(x).reshape(b, 1, -1)  # (B, 1, D)
