"""Two-stage fusion (the UTD-MHAD / MMAct video + IMU recipe).

Stage 1 (phase ``pretrain``) trains each modality's encoder alone, with a linear head of
its own; stage 2 (phase ``fuse``) concatenates the encoders' features into a 2-layer MLP
and fine-tunes only part of each encoder, at a smaller learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from harfuse.fusion.base import Batch, Classifier, mlp_head
from harfuse.fusion.single import SingleModality

FINETUNE = ("none", "last", "all")


class TwoStageFusion(Classifier):
    """Encoders pre-trained one modality at a time, then fused by a 2-layer MLP.

    ``finetune``: which encoder parameters stage 2 trains (``none``; ``last`` = the last
    weight layer of each encoder and what follows it; ``all``), at ``encoder_lr_scale``
    times the learning rate. ``hidden_classes`` maps a modality to class indices withheld
    from its stage-1 training (the hidden-class experiment); stage 2 sees every class.
    """

    phases = ("pretrain", "fuse")

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        hidden: int = 128,
        dropout: float = 0.3,
        finetune: str = "last",
        encoder_lr_scale: float = 0.1,
        hidden_classes: dict[str, list[int]] | None = None,
        encoders: dict[str, str] | None = None,
    ):
        super().__init__()
        if finetune not in FINETUNE:
            raise ValueError(f"unknown finetune {finetune!r}; known: {FINETUNE}")
        self.modalities = tuple(sorted(shapes))
        unknown = set(hidden_classes or {}) - set(self.modalities)
        if unknown:
            raise ValueError(f"hidden_classes names {sorted(unknown)}, not among {self.modalities}")
        self.finetune = finetune
        self.encoder_lr_scale = encoder_lr_scale
        self.hidden_classes = {m: sorted(c) for m, c in (hidden_classes or {}).items()}
        self.branches = nn.ModuleDict(
            {m: SingleModality({m: shapes[m]}, num_classes, encoders) for m in self.modalities}
        )
        width = sum(b.out_dim for b in self.branches.values())
        self.head = mlp_head(width, hidden, num_classes, dropout)
        self.set_phase("pretrain")

    def _tuned_encoder_modules(self) -> list[nn.Module]:
        return [m for b in self.branches.values() for m in b.encoder_layers(self.finetune)]

    def set_phase(self, phase: str) -> None:
        super().set_phase(phase)
        pretrain = phase == "pretrain"
        for p in self.branches.parameters():
            p.requires_grad_(pretrain)
        for p in self.head.parameters():
            p.requires_grad_(not pretrain)
        if not pretrain:
            for module in self._tuned_encoder_modules():
                for p in module.parameters():
                    p.requires_grad_(True)

    def train(self, mode: bool = True) -> TwoStageFusion:
        """In stage 2, frozen encoder layers stay in eval mode (BatchNorm statistics and
        dropout of the pre-trained encoders are not disturbed)."""
        super().train(mode)
        if mode and self.phase == "fuse":
            for module in self.branches.modules():
                if not any(p.requires_grad for p in module.parameters(recurse=False)):
                    module.eval()
        return self

    def param_groups(self, lr: float) -> list[dict]:
        if self.phase == "pretrain":
            return [{"params": list(self.branches.parameters()), "lr": lr}]
        tuned = [p for m in self._tuned_encoder_modules() for p in m.parameters()]
        groups = [{"params": list(self.head.parameters()), "lr": lr}]
        if tuned:
            groups.append({"params": tuned, "lr": lr * self.encoder_lr_scale})
        return groups

    def forward(self, batch: Batch) -> torch.Tensor:
        feats = [self.branches[m].forward_features(batch) for m in self.modalities]
        return self.head(torch.cat(feats, dim=-1))  # (B, sum D_m) -> (B, K)

    def loss(self, batch: Batch, labels: torch.Tensor) -> torch.Tensor:
        if self.phase == "fuse":
            return F.cross_entropy(self(batch), labels)
        total = labels.new_zeros((), dtype=torch.float32)
        for m, branch in self.branches.items():
            hidden = torch.tensor(self.hidden_classes.get(m, []), dtype=labels.dtype)
            seen = ~torch.isin(labels, hidden.to(labels.device))
            if seen.any():  # a batch of hidden classes only teaches this modality nothing
                scores = branch({m: batch[m][seen]})
                total = total + F.cross_entropy(scores.float(), labels[seen])
        return total
