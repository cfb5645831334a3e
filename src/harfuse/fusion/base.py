"""What every classifier shares: the modality encoders and the training interface.

Every model takes ``batch: dict[str, Tensor]`` (one entry per modality it uses, each
``(B, ...)``) and returns ``(B, K)`` class scores whose softmax is the predicted
distribution. Training (:func:`harfuse.train.loop.train_model`) runs the model's ``phases`` in
order, each with its own optimiser over :meth:`Classifier.param_groups`, minimising
:meth:`Classifier.loss`; afterwards :meth:`Classifier.tune_on_validation` may fit what is
tuned on held-out data (late-fusion weights, a meta-classifier).

Modality inputs (per sample, without the batch axis; each is its modality module's
``model_input``, :mod:`harfuse.modalities`):

- ``rgb``: frozen-encoder frame features ``(T, D)``
- ``flow``: optical flow ``(L, H, W, 2)`` in px
- ``audio``: log-mel ``(n_mels, F)`` in dB
- ``imu``: IMU window ``(T, C)``
- ``skeleton``: joints ``(T, M, J, C)`` in torso lengths, hip-centred (``M`` bodies, ``J``
  joints of the sample's joint format)
- ``depth``: depth maps ``(L, H, W)`` in metres
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harfuse.encoders import ENCODERS
from harfuse.encoders.backbones import BackboneSpec
from harfuse.encoders.finetune import BackboneThen, TunedBackbone, lr_groups
from harfuse.modalities.registry import MODALITIES as _REGISTRY
from harfuse.modalities.registry import NAMES as MODALITIES

#: modality -> default trainable encoder (each modality's ``default_encoder``)
DEFAULT_ENCODERS = {name: m.default_encoder for name, m in _REGISTRY.items()}
Batch = dict[str, torch.Tensor]


def modality_encoder(
    modality: str,
    shape: Sequence[int],
    encoders: dict[str, str | dict[str, Any]] | None = None,
    backbone: dict[str, Any] | None = None,
) -> nn.Module:
    """The trainable encoder for ``modality`` given one sample's input ``shape``;
    ``encoders`` overrides :data:`DEFAULT_ENCODERS` (a variant's ``options.encoders``):
    per modality an encoder name, or ``{name: ..., **arguments}`` (e.g. ``{name:
    skeleton_gcn, channels: [16, 32, 64]}``) for the encoder's own keyword arguments.
    With ``backbone`` (``options.backbone``, :class:`~harfuse.encoders.backbones.
    BackboneSpec`), ``rgb`` is clips of frames ``(T, h, w, 3)`` through that fine-tuned
    backbone, then the rgb encoder."""
    if modality not in DEFAULT_ENCODERS:
        raise ValueError(f"unknown modality {modality!r}; known: {MODALITIES}")
    if backbone is not None and modality == "rgb":
        spec = BackboneSpec.from_options(backbone)
        if tuple(shape)[-4:] != spec.input_shape():
            raise ValueError(f"backbone reads clips {spec.input_shape()}, got {tuple(shape)}")
        return BackboneThen(
            TunedBackbone(spec), modality_encoder(modality, spec.output_shape(), encoders)
        )
    choice = (encoders or {}).get(modality, DEFAULT_ENCODERS[modality])
    arguments = dict(choice) if isinstance(choice, dict) else {"name": choice}
    name = arguments.pop("name", DEFAULT_ENCODERS[modality])
    trainable = sorted(n for n, c in ENCODERS.items() if hasattr(c, "from_shape"))
    if name not in trainable:
        raise ValueError(f"{name!r} is not a trainable {modality} encoder; known: {trainable}")
    try:
        return ENCODERS[name].from_shape(shape, **arguments)
    except TypeError as exc:  # an argument the encoder does not take
        raise ValueError(f"{modality} encoder {name}: {exc}") from exc


def mlp_head(width: int, hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    """``(B, width)`` -> dropout -> linear -> ReLU -> linear ``(B, num_classes)``."""
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


class Classifier(nn.Module):
    """Base: one training phase over every parameter, cross-entropy on :meth:`forward`."""

    modalities: tuple[str, ...]
    #: training phases, run in order by ``train_model``; each gets a fresh optimiser
    phases: tuple[str, ...] = ("joint",)
    #: True when :meth:`tune_on_validation` needs held-out samples (a meta-classifier)
    needs_validation: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.phase = self.phases[0]

    def set_phase(self, phase: str) -> None:
        """Switch to ``phase`` (what :meth:`loss` and :meth:`param_groups` refer to)."""
        if phase not in self.phases:
            raise ValueError(f"{type(self).__name__} has phases {self.phases}, not {phase!r}")
        self.phase = phase

    def phase_params(self, phase: str) -> dict[str, Any]:
        """``train.params`` values of ``phase`` that differ from the run's (e.g. stage-1
        learning rates of a two-stage model); none by default."""
        return {}

    def param_groups(self, lr: float) -> list[dict]:
        """Optimiser parameter groups of the current phase (base learning rate ``lr``; a
        fine-tuned backbone's blocks at ``lr`` times its ``lr_scale``)."""
        return lr_groups([p for p in self.parameters() if p.requires_grad], self, lr)

    def loss(self, batch: Batch, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(batch), labels)

    def tune_on_validation(self, batches: Iterable[tuple[Batch, torch.Tensor]]) -> None:
        """Fit what is tuned on held-out data after training; nothing by default."""
