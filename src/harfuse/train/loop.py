"""A seeded training loop with early stopping on a validation split, and prediction."""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from harfuse.config_schema import default
from harfuse.fusion import Classifier
from harfuse.fusion.base import Batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainParams:
    """``train.params`` of the config: optimisation settings shared by every variant;
    defaults from the config schema."""

    epochs: int = default("train", "params", "epochs")
    batch_size: int = default("train", "params", "batch_size")
    lr: float = default("train", "params", "lr")
    weight_decay: float = default("train", "params", "weight_decay")
    seed: int = default("train", "params", "seed")
    #: fraction of the training split held out (stratified) for early stopping and fusion tuning
    val_fraction: float = default("train", "params", "val_fraction")
    #: epochs without a lower validation loss before a phase stops; None = never
    patience: int | None = default("train", "params", "patience")
    #: torch intra-op threads. Float sums split by thread, so metrics move with this
    #: (measured: 4 of 23 demo runs' top-1 moved by up to 0.042 at 2 threads vs 1); it
    #: is a parameter of the run, not taken from the cores a scheduler happens to give
    threads: int = default("train", "params", "threads")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; make CPU kernels deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _batches(
    data: Dataset, batch_size: int, device: torch.device, generator: torch.Generator | None = None
) -> Iterator[tuple[Batch, torch.Tensor]]:
    loader = DataLoader(
        data, batch_size=batch_size, shuffle=generator is not None, generator=generator
    )
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        yield batch, batch.pop("label")


def _autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA; a no-op elsewhere (CPU results stay exact and deterministic)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def evaluate(
    model: Classifier, data: Dataset, device: torch.device, batch_size: int = 64
) -> tuple[float, float]:
    """Mean :meth:`Classifier.loss` of the current phase and top-1 of ``forward`` on ``data``."""
    model.eval()
    total, correct, n = 0.0, 0, 0
    for batch, labels in _batches(data, batch_size, device):
        with _autocast(device):
            total += float(model.loss(batch, labels)) * len(labels)
            correct += int((model(batch).argmax(-1) == labels).sum())
        n += len(labels)
    return total / max(n, 1), correct / max(n, 1)


def train_model(
    model: Classifier,
    data: Dataset,
    params: TrainParams,
    device: torch.device,
    val_data: Dataset | None = None,
) -> list[dict]:
    """Train ``model`` on ``data`` with AdamW, phase by phase.

    With ``val_data``, each phase keeps the weights of its epoch with the lowest validation
    loss and stops after ``params.patience`` epochs without improvement; then the model
    fits what it tunes on held-out data (:meth:`Classifier.tune_on_validation`).
    Returns one row per epoch: ``phase``, ``epoch``, ``train_loss``, ``val_loss``,
    ``val_top1`` (NaN without validation data).
    """
    seed_everything(params.seed)
    generator = torch.Generator().manual_seed(params.seed)
    model.to(device)
    history: list[dict] = []
    for phase in model.phases:
        model.set_phase(phase)
        opt = torch.optim.AdamW(
            model.param_groups(params.lr), lr=params.lr, weight_decay=params.weight_decay
        )
        best_loss, best_state, stale = float("inf"), None, 0
        for epoch in range(1, params.epochs + 1):
            model.train()
            start, total, n = time.perf_counter(), 0.0, 0
            for batch, labels in _batches(data, params.batch_size, device, generator):
                with _autocast(device):
                    loss = model.loss(batch, labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(labels)
                n += len(labels)
            row = {"phase": phase, "epoch": epoch, "train_loss": total / max(n, 1)}
            row["val_loss"], row["val_top1"] = (
                evaluate(model, val_data, device) if val_data else (float("nan"), float("nan"))
            )
            history.append(row)
            log.info(
                "%s epoch %d/%d: train loss %.4f, val loss %.4f, val top-1 %.3f (%.1f samples/s)",
                phase,
                epoch,
                params.epochs,
                row["train_loss"],
                row["val_loss"],
                row["val_top1"],
                n / (time.perf_counter() - start),
            )
            if not val_data:
                continue
            if row["val_loss"] < best_loss:
                best_loss, best_state, stale = row["val_loss"], copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
                if params.patience is not None and stale >= params.patience:
                    log.info("%s: early stop after epoch %d", phase, epoch)
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
    if val_data:
        model.eval()
        model.tune_on_validation(_batches(val_data, 64, device))
    return history


@torch.no_grad()
def predict(
    model: Classifier, data: Dataset, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Softmax probabilities ``(N, K)`` float32 in dataset order."""
    model.to(device).eval()
    out = []
    for batch, _ in _batches(data, batch_size, device):
        with _autocast(device):
            scores = model(batch)
        out.append(scores.float().softmax(-1).cpu().numpy())
    return np.concatenate(out)
