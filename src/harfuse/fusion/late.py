"""Late fusion: one classifier per modality, their scores combined."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from harfuse.encoders.finetune import lr_groups
from harfuse.fusion.base import Batch, Classifier
from harfuse.fusion.single import SingleModality

log = logging.getLogger(__name__)

COMBINES = ("mean", "weighted", "meta")
#: step of the simplex grid searched for the score weights
WEIGHT_STEP = 0.1


def simplex_grid(m: int, step: float) -> torch.Tensor:
    """Every weight vector ``(G, m)`` with entries in multiples of ``step`` summing to 1."""
    n = round(1 / step)
    rows = [c for c in itertools.product(range(n + 1), repeat=m) if sum(c) == n]
    return torch.tensor(rows, dtype=torch.float64) / n


class LateFusion(Classifier):
    """One single-modality classifier per modality, each trained on its own loss.

    ``combine`` says how their softmax scores become one prediction (``forward`` returns
    log-probabilities or, for ``meta``, logits):

    - ``mean``: the plain average;
    - ``weighted``: a weighted average whose weights (on a 0.1 grid of the simplex) maximise
      validation accuracy, ties broken by validation log-likelihood; equal weights when
      there is no validation split;
    - ``meta``: a multinomial logistic regression (the meta-classifier) stacked on the
      branches' log-probabilities of the held-out validation samples.
    """

    def __init__(
        self,
        shapes: dict[str, Sequence[int]],
        num_classes: int,
        combine: str = "weighted",
        meta_l2: float = 1e-3,
        encoders: dict[str, str | dict[str, Any]] | None = None,
        backbone: dict[str, Any] | None = None,
    ):
        super().__init__()
        if combine not in COMBINES:
            raise ValueError(f"unknown combine {combine!r}; known: {COMBINES}")
        self.modalities = tuple(sorted(shapes))
        self.combine = combine
        self.meta_l2 = meta_l2
        self.branches = nn.ModuleDict(
            {
                m: SingleModality({m: shapes[m]}, num_classes, encoders, backbone)
                for m in self.modalities
            }
        )
        m = len(self.modalities)
        self.register_buffer("weights", torch.full((m,), 1.0 / m))
        self.meta = nn.Linear(m * num_classes, num_classes) if combine == "meta" else None
        #: the meta-classifier is only defined once fitted on held-out samples
        self.needs_validation = combine == "meta"

    def branch_logits(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {m: branch(batch) for m, branch in self.branches.items()}

    def combined(self, log_probs: torch.Tensor) -> torch.Tensor:
        """Branch log-probabilities ``(M, B, K)`` -> combined scores ``(B, K)``."""
        if self.meta is not None:
            return self.meta(log_probs.permute(1, 0, 2).flatten(1))
        w = self.weights.to(log_probs.dtype).view(-1, 1, 1)
        return (w * log_probs.exp()).sum(0).clamp_min(1e-12).log()

    def forward(self, batch: Batch) -> torch.Tensor:
        logits = self.branch_logits(batch)
        return self.combined(torch.stack([logits[m].log_softmax(-1) for m in self.modalities]))

    def loss(self, batch: Batch, labels: torch.Tensor) -> torch.Tensor:
        return sum(F.cross_entropy(s, labels) for s in self.branch_logits(batch).values())

    def param_groups(self, lr: float) -> list[dict]:
        return lr_groups(list(self.branches.parameters()), self, lr)

    @torch.no_grad()
    def _held_out(
        self, batches: Iterable[tuple[Batch, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        outs, labels = [], []
        for batch, y in batches:
            logits = self.branch_logits(batch)
            outs.append(torch.stack([logits[m].float().log_softmax(-1) for m in self.modalities]))
            labels.append(y)
        return torch.cat(outs, dim=1).cpu().double(), torch.cat(labels).cpu()

    def tune_on_validation(self, batches: Iterable[tuple[Batch, torch.Tensor]]) -> None:
        if self.combine == "mean":
            return
        log_probs, labels = self._held_out(batches)  # (M, N, K), (N,)
        if self.combine == "weighted":
            self._tune_weights(log_probs, labels)
        else:
            self._fit_meta(log_probs, labels)

    def _tune_weights(self, log_probs: torch.Tensor, labels: torch.Tensor) -> None:
        grid = simplex_grid(len(self.modalities), WEIGHT_STEP)  # (G, M)
        probs = torch.einsum("gm,mnk->gnk", grid, log_probs.exp())  # (G, N, K)
        accuracy = (probs.argmax(-1) == labels).double().mean(-1)
        loglik = (
            probs.clamp_min(1e-12)
            .log()
            .gather(-1, labels.view(1, -1, 1).expand(len(grid), -1, 1))
            .mean((1, 2))
        )
        best = max(range(len(grid)), key=lambda g: (float(accuracy[g]), float(loglik[g])))
        self.weights.copy_(grid[best].to(self.weights))
        log.info(
            "late fusion weights %s (validation accuracy %.3f)",
            dict(zip(self.modalities, grid[best].tolist(), strict=True)),
            float(accuracy[best]),
        )

    def _fit_meta(self, log_probs: torch.Tensor, labels: torch.Tensor) -> None:
        assert self.meta is not None
        device = self.meta.weight.device
        x = log_probs.permute(1, 0, 2).flatten(1).float().to(device)  # (N, M*K)
        labels = labels.to(device)
        with torch.enable_grad():
            opt = torch.optim.LBFGS(
                self.meta.parameters(), max_iter=200, line_search_fn="strong_wolfe"
            )

            def closure() -> torch.Tensor:
                opt.zero_grad()
                weight = self.meta.weight
                loss = F.cross_entropy(self.meta(x), labels) + self.meta_l2 * weight.pow(2).sum()
                loss.backward()
                return loss

            opt.step(closure)
        accuracy = float((self.meta(x).argmax(-1) == labels).float().mean())
        log.info("meta-classifier fitted on %d held-out samples (accuracy %.3f)", len(x), accuracy)
