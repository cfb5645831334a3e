"""Early fusion: low-level inputs aligned in time, concatenated, and processed jointly."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from harfuse.fusion.base import Batch, Classifier, mlp_head

#: flow fields are average-pooled to this spatial grid before concatenation
FLOW_GRID = 4


def low_level_channels(modality: str, shape: Sequence[int]) -> int:
    """Channels of :func:`low_level_sequence` for one sample of input ``shape``."""
    if modality == "rgb":  # (T, D) features
        return shape[-1]
    if modality == "flow":  # (L, H, W, 2) -> a 4x4 grid of mean (dx, dy)
        return 2 * FLOW_GRID * FLOW_GRID
    if modality == "audio":  # (n_mels, F)
        return shape[0]
    if modality == "imu":  # (T, C)
        return shape[-1]
    raise ValueError(
        f"early fusion has no low-level sequence of {modality!r}; it takes rgb, flow, audio "
        "and imu (use mid or late fusion)"
    )


def low_level_sequence(modality: str, x: torch.Tensor, steps: int) -> torch.Tensor:
    """A modality's batch as a ``(B, steps, C)`` sequence on a common time axis (average
    pooling over time; flow also over space)."""
    if modality == "flow":
        b, length, h, w, _ = x.shape
        grid = F.adaptive_avg_pool2d(
            x.permute(0, 1, 4, 2, 3).reshape(b * length, 2, h, w), FLOW_GRID
        )
        x = grid.reshape(b, length, -1)  # (B, L, 2 * 4 * 4)
    elif modality == "audio":
        x = x.transpose(1, 2)  # (B, F, n_mels)
    return F.adaptive_avg_pool1d(x.transpose(1, 2), steps).transpose(1, 2)


class EarlyFusion(Classifier):
    """Every modality reduced to a ``(steps, C_m)`` sequence (:func:`low_level_sequence`),
    normalised per modality, concatenated along channels, then one joint temporal CNN
    (two conv blocks, kernel 3) and an MLP head: no modality has an encoder of its own."""

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        steps: int = 16,
        width: int = 128,
        hidden: int = 128,
        dropout: float = 0.3,
    ):
        super().__init__()
        self.modalities = tuple(sorted(shapes))
        self.steps = steps
        channels = {m: low_level_channels(m, shapes[m]) for m in self.modalities}
        self.norms = nn.ModuleDict({m: nn.LayerNorm(c) for m, c in channels.items()})
        self.joint = nn.Sequential(
            nn.Conv1d(sum(channels.values()), width, 3, padding=1),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Conv1d(width, width, 3, padding=1),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
        )
        self.head = mlp_head(width, hidden, num_classes, dropout)

    def forward(self, batch: Batch) -> torch.Tensor:
        seqs = [
            self.norms[m](low_level_sequence(m, batch[m].float(), self.steps))
            for m in self.modalities
        ]
        x = torch.cat(seqs, dim=-1).transpose(1, 2)  # (B, sum C_m, steps)
        return self.head(self.joint(x))
