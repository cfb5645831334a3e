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


#: modality -> default trainable encoder
DEFAULT_ENCODERS = {
    "rgb": "feature_sequence",
    "flow": "stacked_flow",
    "audio": "logmel_cnn",
    "imu": "imu_cnn1d",
}
#: encoder -> which dimension of one sample's input shape it is built from
_SHAPE_ARGS = {
    "feature_sequence": lambda s: {"in_dim": s[-1]},
    "stacked_flow": lambda s: {"length": s[0]},
    "flow_resnet18": lambda s: {"length": s[0]},
    "flow_3dcnn": lambda s: {},
    "logmel_cnn": lambda s: {},
    "audio_resnet18": lambda s: {},
    "imu_cnn1d": lambda s: {"channels": s[-1]},
}


def modality_encoder(
    modality: str, shape: Sequence[int], encoders: dict[str, str] | None = None
) -> nn.Module:
    """The trainable encoder for ``modality`` given one sample's input ``shape``;
    ``encoders`` overrides :data:`DEFAULT_ENCODERS` (a variant's ``options.encoders``)."""
    if modality not in DEFAULT_ENCODERS:
        raise ValueError(f"unknown modality {modality!r}; known: {MODALITIES}")
    name = (encoders or {}).get(modality, DEFAULT_ENCODERS[modality])
    if name not in _SHAPE_ARGS:
        raise ValueError(
            f"{name!r} is not a trainable {modality} encoder; known: {sorted(_SHAPE_ARGS)}"
        )
    return create_encoder(name, **_SHAPE_ARGS[name](shape))


class Classifier(nn.Module):
    """Base: cross-entropy on the scores of :meth:`forward`."""

    modalities: tuple[str, ...]

    def loss(self, batch: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(batch), labels)


class SingleModality(Classifier):
    """One modality's encoder and a linear head."""

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
        encoders: dict[str, str] | None = None,
    ):
        super().__init__()
        self.modalities = tuple(sorted(shapes))
        self.encoders = nn.ModuleDict(
            {m: modality_encoder(m, shapes[m], encoders) for m in self.modalities}
        )
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

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        encoders: dict[str, str] | None = None,
    ):
        super().__init__()
        self.modalities = tuple(sorted(shapes))
        self.branches = nn.ModuleDict(
            {m: SingleModality({m: shapes[m]}, num_classes, encoders) for m in self.modalities}
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
