"""One modality's trainable encoder and a linear head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from harfuse.fusion.base import Batch, Classifier, modality_encoder


class SingleModality(Classifier):
    """One modality: its encoder (``options.encoders`` picks which) and a linear head.
    With ``rgb`` features this is the frame-CNN (temporal average), the CNN-LSTM
    (``encoders: {rgb: feature_lstm}``) or the still-image dense head, depending on the
    feature set and encoder the variant names."""

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        encoders: dict[str, str] | None = None,
    ):
        super().__init__()
        if len(shapes) != 1:
            raise ValueError(f"single-modality model takes one modality, got {sorted(shapes)}")
        (self.modality,) = shapes
        self.modalities = (self.modality,)
        self.encoder = modality_encoder(self.modality, shapes[self.modality], encoders)
        self.head = nn.Linear(self.encoder.out_dim, num_classes)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.head(self.encoder(batch[self.modality]))
