"""A seeded training loop with early stopping on a validation split, and prediction."""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from harfuse.config_schema import default
from harfuse.data.clips import clip_loader
from harfuse.environment import cores
from harfuse.fusion import Classifier
from harfuse.fusion.base import Batch
from harfuse.plan import loader_workers
from harfuse.runlog import report_progress

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
    #: DataLoader worker processes (0 = load in the training process; ``auto``:
    #: :func:`harfuse.plan.loader_workers`). The samples in each batch do not depend on
    #: it, but random clip augmentation draws from each worker's stream, so a fine-tuned
    #: backbone's metrics do (:func:`harfuse.data.clips.clip_loader`)
    workers: int | str = default("train", "params", "workers")
    #: MiB of model inputs a job keeps in memory once read, over all its modalities
    #: (:class:`~harfuse.data.dataset.InputCache`; per loading process)
    cache_mb: int = default("train", "params", "cache_mb")


def job_workers(workers: int | str, device: torch.device) -> int:
    """``train.params.workers`` for a job on ``device`` with the cores this process may
    use (:func:`harfuse.plan.loader_workers`, which also sizes the rule's threads)."""
    on_gpu = device.type == "cuda"
    gpus = torch.cuda.device_count() if on_gpu else 1
    return loader_workers(workers, on_gpu, cores(), gpus)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; make CPU kernels deterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _on_device(
    loader: Iterable[dict[str, torch.Tensor]], device: torch.device
) -> Iterator[tuple[Batch, torch.Tensor]]:
    for batch in loader:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        yield batch, batch.pop("label")


def _batches(
    data: Dataset, batch_size: int, device: torch.device, workers: int = 0
) -> Iterator[tuple[Batch, torch.Tensor]]:
    """``data`` in order, batch by batch, on ``device`` (evaluation and prediction); with
    ``workers > 0`` the worker processes start for this pass and end with it."""
    # the draw from torch's global RNG that a plain DataLoader's iterator made (for its
    # workers' base seed): kept, so that seeded runs (dropout masks) stay as they were
    seed = int(torch.empty((), dtype=torch.int64).random_().item())
    yield from _on_device(clip_loader(data, batch_size, device, False, seed, workers), device)


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA; a no-op elsewhere (CPU results stay exact and deterministic)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def evaluate(
    model: Classifier, data: Dataset, device: torch.device, batch_size: int = 64, workers: int = 0
) -> tuple[float, float]:
    """Mean :meth:`Classifier.loss` of the current phase and top-1 of ``forward`` on ``data``
    (loaded by ``workers`` processes, started for this call)."""
    model.eval()
    total, correct, n = 0.0, 0, 0
    for batch, labels in _batches(data, batch_size, device, workers):
        with autocast(device):
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
    ``val_top1`` (NaN without validation data) and ``kept`` (True for the epoch whose
    weights the phase kept: the lowest validation loss, or the last without validation).
    ``params.workers`` processes load the data (:func:`~harfuse.data.clips.clip_loader`:
    one loader per batch size, its workers kept across epochs and phases; the batches are
    the same for any number of workers). A phase's :meth:`Classifier.phase_params` replace
    ``params`` values for that phase.
    """
    seed_everything(params.seed)
    params = dataclasses.replace(params, workers=job_workers(params.workers, device))
    loaders: dict[int, DataLoader] = {}
    model.to(device)
    history: list[dict] = []
    for phase in model.phases:
        model.set_phase(phase)
        p = dataclasses.replace(params, **model.phase_params(phase))
        if p.batch_size not in loaders:
            loaders[p.batch_size] = clip_loader(data, p.batch_size, device, True, p.seed, p.workers)
        history += _train_phase(model, phase, p, loaders[p.batch_size], device, val_data)
    if val_data:
        model.eval()
        model.tune_on_validation(_batches(val_data, 64, device, params.workers))
    return history


def _train_phase(
    model: Classifier,
    phase: str,
    p: TrainParams,
    loader: DataLoader,
    device: torch.device,
    val_data: Dataset | None,
) -> list[dict]:
    """One phase of :func:`train_model` (``p``: its parameters): its history rows, the
    model left with the weights of the epoch it keeps."""
    opt = torch.optim.AdamW(model.param_groups(p.lr), lr=p.lr, weight_decay=p.weight_decay)
    best_loss, best_state, stale = float("inf"), None, 0
    rows: list[dict] = []
    for epoch in range(1, p.epochs + 1):
        start = time.perf_counter()
        train_loss, n = _train_epoch(model, loader, opt, device, phase, epoch, p.epochs)
        row = {"phase": phase, "epoch": epoch, "train_loss": train_loss, "kept": False}
        row["val_loss"], row["val_top1"] = (
            evaluate(model, val_data, device, workers=p.workers)
            if val_data
            else (float("nan"), float("nan"))
        )
        rows.append(row)
        log.info(
            "%s epoch %d/%d: train loss %.4f, val loss %.4f, val top-1 %.3f (%.1f samples/s)",
            phase,
            epoch,
            p.epochs,
            row["train_loss"],
            row["val_loss"],
            row["val_top1"],
            n / (time.perf_counter() - start),
        )
        if not val_data:
            continue
        if row["val_loss"] < best_loss:
            best_loss, best_state, stale = row["val_loss"], copy.deepcopy(model.state_dict()), 0
            for kept in rows:
                kept["kept"] = kept is row
        else:
            stale += 1
            if p.patience is not None and stale >= p.patience:
                log.info("%s: early stop after epoch %d", phase, epoch)
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    elif rows:  # no validation: the last epoch's weights stay
        rows[-1]["kept"] = True
    return rows


def _train_epoch(
    model: Classifier,
    loader: DataLoader,
    opt: torch.optim.Optimizer,
    device: torch.device,
    phase: str,
    epoch: int,
    epochs: int,
) -> tuple[float, int]:
    """One epoch: ``(mean training loss, samples seen)``, its progress reported."""
    model.train()
    total, n = 0.0, 0
    size, position = len(loader.dataset), f"{phase} epoch {epoch}/{epochs}"
    for batch, labels in _on_device(loader, device):
        done = (epoch - 1) * size + n
        report_progress(f"train {phase}", done, epochs * size, "samples", position)
        with autocast(device):
            loss = model.loss(batch, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(labels)
        n += len(labels)
    return total / max(n, 1), n


@torch.no_grad()
def predict(
    model: Classifier, data: Dataset, device: torch.device, batch_size: int = 64, workers: int = 0
) -> np.ndarray:
    """Softmax probabilities ``(N, K)`` float32 in dataset order (loaded by ``workers``
    processes)."""
    model.to(device).eval()
    out = []
    for batch, _ in _batches(data, batch_size, device, workers):
        with autocast(device):
            scores = model(batch)
        out.append(scores.float().softmax(-1).cpu().numpy())
    return np.concatenate(out)
