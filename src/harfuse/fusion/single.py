"""One modality's trainable encoder and a linear head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harfuse.fusion.base import Batch, Classifier, modality_encoder


def last_layers(module: nn.Module) -> list[nn.Module]:
    """The last leaf module holding a weight matrix or kernel (a linear, convolution or
    LSTM layer) and every leaf module after it (e.g. its BatchNorm)."""
    leaves = [m for m in module.modules() if not list(m.children()) and list(m.parameters())]
    weighted = [i for i, m in enumerate(leaves) if any(p.dim() >= 2 for p in m.parameters())]
    return leaves[weighted[-1] :] if weighted else leaves


class SingleModality(Classifier):
    """One modality: its encoder (``options.encoders`` picks which) and a linear head.
    With ``rgb`` features this is the frame-CNN (temporal average), the CNN-LSTM
    (``encoders: {rgb: feature_lstm}``) or the still-image dense head, depending on the
    feature set and encoder the variant names; with ``backbone``, rgb is clips of frames
    through a fine-tuned torchvision backbone (:mod:`harfuse.encoders.finetune`)."""

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        encoders: dict[str, str | dict[str, Any]] | None = None,
        backbone: dict[str, Any] | None = None,
    ):
        super().__init__()
        if len(shapes) != 1:
            raise ValueError(f"single-modality model takes one modality, got {sorted(shapes)}")
        (self.modality,) = shapes
        self.modalities = (self.modality,)
        self.encoder = modality_encoder(self.modality, shapes[self.modality], encoders, backbone)
        self.head = nn.Linear(self.encoder.out_dim, num_classes)

    @property
    def out_dim(self) -> int:
        """Width D of :meth:`forward_features`."""
        return self.encoder.out_dim

    def forward_features(self, batch: Batch) -> torch.Tensor:
        """The encoder's features ``(B, D)`` of this branch's modality."""
        return self.encoder(batch[self.modality])

    def encoder_layers(self, which: str) -> list[nn.Module]:
        """The encoder modules a fine-tuning setting trains: ``all`` (the encoder), ``last``
        (its last weight layer and what follows it) or ``none``."""
        if which == "none":
            return []
        return [self.encoder] if which == "all" else last_layers(self.encoder)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.head(self.forward_features(batch))
