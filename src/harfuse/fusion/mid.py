"""Mid fusion: per-modality encoders merged at an intermediate layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from harfuse.fusion.base import Batch, Classifier, mlp_head, modality_encoder

MERGES = ("concat", "gated", "attention")


class MidFusion(Classifier):
    """Per-modality encoders, merged, then a 2-layer MLP.

    ``merge``: ``concat`` = features concatenated; ``gated`` = each modality projected to
    ``hidden`` and weighted by a sigmoid gate computed from all of them, then summed;
    ``attention`` = the projected modalities as tokens (plus a learned modality embedding)
    through one multi-head self-attention layer, averaged.
    """

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        hidden: int = 128,
        dropout: float = 0.3,
        merge: str = "concat",
        heads: int = 4,
        encoders: dict[str, str | dict[str, Any]] | None = None,
        backbone: dict[str, Any] | None = None,
    ):
        super().__init__()
        if merge not in MERGES:
            raise ValueError(f"unknown merge {merge!r}; known: {MERGES}")
        self.modalities = tuple(sorted(shapes))
        self.merge = merge
        self.encoders = nn.ModuleDict(
            {m: modality_encoder(m, shapes[m], encoders, backbone) for m in self.modalities}
        )
        if merge == "concat":
            width = sum(e.out_dim for e in self.encoders.values())
        else:
            width = hidden
            self.proj = nn.ModuleDict(
                {m: nn.Linear(e.out_dim, hidden) for m, e in self.encoders.items()}
            )
        if merge == "gated":
            self.gate = nn.Linear(hidden * len(self.modalities), len(self.modalities))
        if merge == "attention":
            self.modality_embedding = nn.Parameter(torch.zeros(len(self.modalities), hidden))
            self.attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
            self.norm = nn.LayerNorm(hidden)
        self.head = mlp_head(width, hidden, num_classes, dropout)

    def merged(self, batch: Batch) -> torch.Tensor:
        """The fused representation ``(B, width)``."""
        feats = [self.encoders[m](batch[m]) for m in self.modalities]
        if self.merge == "concat":
            return torch.cat(feats, dim=-1)
        tokens = torch.stack(
            [self.proj[m](f) for m, f in zip(self.modalities, feats, strict=True)], 1
        )
        if self.merge == "gated":  # tokens (B, M, hidden)
            gates = torch.sigmoid(self.gate(tokens.flatten(1)))  # (B, M)
            return (gates.unsqueeze(-1) * tokens).sum(1)
        tokens = tokens + self.modality_embedding
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return self.norm(tokens + attended).mean(1)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.head(self.merged(batch))
