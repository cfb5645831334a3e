"""Frozen torchvision image backbones applied per frame."""

from __future__ import annotations

import torch
from torch import nn

from harfuse.encoders.weights import resolve_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: torchvision architecture -> feature size after global average pooling
IMAGE_BACKBONES = {"resnet18": 512, "resnet50": 2048}


class FrameEncoder(nn.Module):
    """Per-frame ImageNet-style encoder, frozen (``eval()``, no gradients).

    ``forward`` takes ``(B, T, H, W, 3)`` uint8 RGB and returns ``(B, T, D)`` float32
    features (global-average-pooled last stage).
    """

    def __init__(self, arch: str, weights: str = "none"):
        super().__init__()
        import torchvision

        if arch not in IMAGE_BACKBONES:
            raise ValueError(f"unknown image backbone {arch!r}; known: {sorted(IMAGE_BACKBONES)}")
        net = torchvision.models.get_model(arch, weights=None)
        state = resolve_state_dict(arch, weights)
        if state is not None:
            net.load_state_dict(state)
        net.fc = nn.Identity()
        self.backbone = net.eval().requires_grad_(False)
        self.out_dim = IMAGE_BACKBONES[arch]
        self.weights = weights
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> FrameEncoder:
        return super().train(False)  # frozen: batch-norm statistics never update

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        x = frames.reshape(b * t, *frames.shape[2:]).permute(0, 3, 1, 2)  # (B*T, 3, H, W)
        x = (x.float() / 255.0 - self.mean) / self.std
        return self.backbone(x).reshape(b, t, -1)  # (B, T, D)
