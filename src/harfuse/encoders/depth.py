"""The trainable encoder of the ``depth`` modality."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class DepthCNNEncoder(nn.Module):
    """Depth maps ``(B, L, H, W)`` in metres -> ``(B, out_dim)``: each map through one
    small 2D CNN (shared over time; three stride-2 blocks, then spatial average), the
    ``L`` map features through a temporal convolution (kernel 3), averaged over time."""

    @classmethod
    def from_shape(cls, shape: Sequence[int], **kwargs) -> DepthCNNEncoder:
        """The encoder for one sample's input ``shape``, ``(L, H, W)``; nothing depends on it."""
        if len(shape) != 3:
            raise ValueError(f"depth_cnn reads (L, H, W) depth maps, got shape {tuple(shape)}")
        return cls(**kwargs)

    def __init__(self, out_dim: int = 64, width: int = 32):
        super().__init__()
        self.frame = nn.Sequential(
            _block(1, width // 2),
            _block(width // 2, width),
            _block(width, out_dim),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.temporal = nn.Sequential(nn.Conv1d(out_dim, out_dim, 3, padding=1), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, depth: torch.Tensor) -> torch.Tensor:
        b, length, h, w = depth.shape
        per_map = self.frame(depth.reshape(b * length, 1, h, w)).reshape(b, length, -1)
        return self.temporal(per_map.transpose(1, 2)).mean(dim=2)
