"""Two-stage fusion (the UTD-MHAD / MMAct video + IMU recipe).

Stage 1 (a phase ``pretrain_{modality}`` per modality) trains each modality's encoder
alone, with a linear head of its own, one after the other (each with its own optimiser,
early stopping and, with ``stage1``, hyperparameters); stage 2 (phase ``fuse``)
concatenates the encoders' features into a 2-layer MLP and fine-tunes only part of each
encoder, at a smaller learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harfuse.config_schema import node
from harfuse.encoders.finetune import lr_groups
from harfuse.fusion.base import Batch, Classifier, mlp_head
from harfuse.fusion.single import SingleModality

FINETUNE = ("none", "last", "all")


class TwoStageFusion(Classifier):
    """Encoders pre-trained one modality at a time, then fused by a 2-layer MLP.

    ``finetune``: which encoder parameters stage 2 trains (``none``; ``last`` = the last
    weight layer of each encoder and what follows it; ``all``), at ``encoder_lr_scale``
    times the learning rate. ``hidden_classes`` maps a modality to class indices withheld
    from its stage-1 training (the hidden-class experiment); stage 2 sees every class.
    ``stage1`` maps a modality to its stage-1 values of ``train.params`` keys (``lr``,
    ``weight_decay``, ``batch_size``, ``epochs``, ...); stage 2 takes the variant's.
    With a ``backbone``, its named blocks are part of the rgb encoder: trained in stage 1,
    and in stage 2 with ``finetune: all``.
    """

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        hidden: int = 128,
        dropout: float = 0.3,
        finetune: str = "last",
        encoder_lr_scale: float = 0.1,
        hidden_classes: dict[str, list[int]] | None = None,
        encoders: dict[str, str | dict[str, Any]] | None = None,
        backbone: dict[str, Any] | None = None,
        stage1: dict[str, dict[str, Any]] | None = None,
    ):
        if finetune not in FINETUNE:
            raise ValueError(f"unknown finetune {finetune!r}; known: {FINETUNE}")
        self.modalities = tuple(sorted(shapes))
        self.phases = (*(f"pretrain_{m}" for m in self.modalities), "fuse")
        super().__init__()
        unknown = set(stage1 or {}) - set(self.modalities)
        if unknown:
            raise ValueError(f"stage1 names {sorted(unknown)}, not among {self.modalities}")
        stage1_schema = node("train", "variants", "*", "options", "stage1")
        keys = set(stage1_schema["additionalProperties"]["properties"])
        for m, values in (stage1 or {}).items():
            if set(values) - keys:
                raise ValueError(
                    f"stage1.{m}: {', '.join(sorted(set(values) - keys))} not per-phase "
                    f"train.params keys ({', '.join(sorted(keys))})"
                )
        self.stage1 = {m: dict(v) for m, v in (stage1 or {}).items()}
        unknown = set(hidden_classes or {}) - set(self.modalities)
        if unknown:
            raise ValueError(f"hidden_classes names {sorted(unknown)}, not among {self.modalities}")
        self.finetune = finetune
        self.encoder_lr_scale = encoder_lr_scale
        self.hidden_classes = {m: sorted(c) for m, c in (hidden_classes or {}).items()}
        self.branches = nn.ModuleDict(
            {
                m: SingleModality({m: shapes[m]}, num_classes, encoders, backbone)
                for m in self.modalities
            }
        )
        width = sum(b.out_dim for b in self.branches.values())
        self.head = mlp_head(width, hidden, num_classes, dropout)
        self.set_phase(self.phases[0])

    def _tuned_encoder_modules(self) -> list[nn.Module]:
        return [m for b in self.branches.values() for m in b.encoder_layers(self.finetune)]

    def _pretraining(self) -> str | None:
        """The modality stage 1 trains in the current phase (None in stage 2)."""
        return self.phase.removeprefix("pretrain_") if self.phase != "fuse" else None

    def set_phase(self, phase: str) -> None:
        super().set_phase(phase)
        modality = self._pretraining()
        for m, branch in self.branches.items():
            branch.requires_grad_(m == modality)
        self.head.requires_grad_(modality is None)
        if modality is None:
            for module in self._tuned_encoder_modules():
                module.requires_grad_(True)

    def phase_params(self, phase: str) -> dict[str, Any]:
        """``stage1``'s values for a stage-1 phase; nothing for stage 2."""
        return dict(self.stage1.get(phase.removeprefix("pretrain_"), {})) if phase != "fuse" else {}

    def train(self, mode: bool = True) -> TwoStageFusion:
        """Frozen layers stay in eval mode (BatchNorm statistics and dropout of encoders
        not being trained are not disturbed): the other branches in stage 1, the
        untuned encoder layers in stage 2."""
        super().train(mode)
        if not mode:
            return self
        modality = self._pretraining()
        if modality is not None:
            for m, branch in self.branches.items():
                if m != modality:
                    branch.eval()
            return self
        self.branches.eval()
        for module in self._tuned_encoder_modules():
            module.train()  # a fine-tuned backbone keeps its frozen blocks in eval itself
        return self

    def param_groups(self, lr: float) -> list[dict]:
        modality = self._pretraining()
        if modality is not None:
            return lr_groups(list(self.branches[modality].parameters()), self, lr)
        tuned = [p for m in self._tuned_encoder_modules() for p in m.parameters()]
        groups = [{"params": list(self.head.parameters()), "lr": lr}]
        return groups + lr_groups(tuned, self, lr * self.encoder_lr_scale)

    def forward(self, batch: Batch) -> torch.Tensor:
        feats = [self.branches[m].forward_features(batch) for m in self.modalities]
        return self.head(torch.cat(feats, dim=-1))  # (B, sum D_m) -> (B, K)

    def loss(self, batch: Batch, labels: torch.Tensor) -> torch.Tensor:
        m = self._pretraining()
        if m is None:
            return F.cross_entropy(self(batch), labels)
        branch = self.branches[m]
        hidden = torch.tensor(self.hidden_classes.get(m, []), dtype=labels.dtype)
        seen = ~torch.isin(labels, hidden.to(labels.device))
        if not seen.any():  # a batch of hidden classes only teaches this modality nothing
            return sum(p.sum() for p in branch.parameters() if p.requires_grad) * 0.0
        scores = branch({m: batch[m][seen]})
        return F.cross_entropy(scores.float(), labels[seen])
