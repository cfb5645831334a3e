"""A plain, seeded training loop and batched prediction."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from harfuse.fusion.models import Classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainParams:
    """``train:`` config: optimisation settings shared by every variant."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; make CPU kernels deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def fit(model: Classifier, data: Dataset, params: TrainParams, device: torch.device) -> list[float]:
    """Train ``model`` on ``data`` with AdamW; returns the mean loss of each epoch."""
    seed_everything(params.seed)
    loader = DataLoader(
        data,
        batch_size=params.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(params.seed),
    )
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    history = []
    for epoch in range(params.epochs):
        start, total, n = time.perf_counter(), 0.0, 0
        for batch in loader:
            batch = _to(batch, device)
            labels = batch.pop("label")
            loss = model.loss(batch, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(labels)
            n += len(labels)
        history.append(total / max(n, 1))
        log.info(
            "epoch %d/%d loss %.4f (%.1f samples/s)",
            epoch + 1,
            params.epochs,
            history[-1],
            n / (time.perf_counter() - start),
        )
    return history


@torch.no_grad()
def predict(
    model: Classifier, data: Dataset, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Softmax probabilities ``(N, K)`` in dataset order."""
    model.to(device).eval()
    out = []
    for batch in DataLoader(data, batch_size=batch_size, shuffle=False):
        batch = _to(batch, device)
        batch.pop("label")
        out.append(model(batch).float().softmax(-1).cpu().numpy())
    return np.concatenate(out)
