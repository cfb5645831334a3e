"""Classification models over sample dicts keyed by modality.

Every model takes ``batch: dict[str, Tensor]`` (one entry per modality it uses, each
``(B, ...)``) and returns ``(B, K)`` class scores whose softmax is the predicted
distribution; ``loss(batch, labels)`` is what training minimises.

Modality inputs (per sample, without the batch axis):

- ``rgb``: frozen-encoder frame features ``(T, D)``
- ``flow``: optical flow ``(L, H, W, 2)`` in px
- ``audio``: log-mel ``(n_mels, F)`` in dB
- ``imu``: IMU window ``(T, C)``
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from harfuse.encoders import create_encoder

MODALITIES = ("rgb", "flow", "audio", "imu")


def modality_encoder(modality: str, shape: Sequence[int]) -> nn.Module:
    """The trainable encoder for ``modality`` given one sample's input ``shape``."""
    if modality == "rgb":
        return create_encoder("feature_sequence", in_dim=shape[-1])
    if modality == "flow":
        return create_encoder("stacked_flow", length=shape[0])
    if modality == "audio":
        return create_encoder("logmel_cnn")
    if modality == "imu":
        return create_encoder("imu_cnn1d", channels=shape[-1])
    raise ValueError(f"unknown modality {modality!r}; known: {MODALITIES}")


class Classifier(nn.Module):
    """Base: cross-entropy on the scores of :meth:`forward`."""

    modalities: tuple[str, ...]

    def loss(self, batch: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(batch), labels)


class SingleModality(Classifier):
    """One modality's encoder and a linear head."""

    def __init__(self, shapes: dict[str, Sequence[int]], num_classes: int):
        super().__init__()
        if len(shapes) != 1:
            raise ValueError(f"single-modality model takes one modality, got {sorted(shapes)}")
        (self.modality,) = shapes
        self.modalities = (self.modality,)
        self.encoder = modality_encoder(self.modality, shapes[self.modality])
        self.head = nn.Linear(self.encoder.out_dim, num_classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.encoder(batch[self.modality]))


class MidFusion(Classifier):
    """Per-modality encoders, features concatenated, then a 2-layer MLP."""

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        hidden: int = 128,
        dropout: float = 0.3,
    ):
        super().__init__()
        self.modalities = tuple(sorted(shapes))
        self.encoders = nn.ModuleDict({m: modality_encoder(m, shapes[m]) for m in self.modalities})
        width = sum(e.out_dim for e in self.encoders.values())
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        feats = [self.encoders[m](batch[m]) for m in self.modalities]
        return self.head(torch.cat(feats, dim=-1))  # (B, sum D_m) -> (B, K)


class LateFusion(Classifier):
    """One classifier per modality, each trained on its own loss; the prediction is the
    average of their softmax distributions (``forward`` returns its log)."""

    def __init__(self, shapes: dict[str, Sequence[int]], num_classes: int):
        super().__init__()
        self.modalities = tuple(sorted(shapes))
        self.branches = nn.ModuleDict(
            {m: SingleModality({m: shapes[m]}, num_classes) for m in self.modalities}
        )

    def branch_logits(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {m: branch(batch) for m, branch in self.branches.items()}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        probs = torch.stack([s.softmax(-1) for s in self.branch_logits(batch).values()])
        return probs.mean(0).clamp_min(1e-12).log()  # (M, B, K) -> (B, K)

    def loss(self, batch: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return sum(F.cross_entropy(s, labels) for s in self.branch_logits(batch).values())


MODELS: dict[str, type[Classifier]] = {
    "single": SingleModality,
    "mid": MidFusion,
    "late": LateFusion,
}


def create_model(
    name: str, shapes: dict[str, Sequence[int]], num_classes: int, **kwargs
) -> Classifier:
    """Build fusion model ``name`` for inputs of per-sample ``shapes`` keyed by modality."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return MODELS[name](shapes, num_classes, **kwargs)
