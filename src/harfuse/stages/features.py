"""Stage ``features``: frozen image-encoder features of each frame shard."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harfuse.config_schema import default
from harfuse.device import resolve_device
from harfuse.encoders import create_encoder
from harfuse.encoders.weights import describe
from harfuse.media.frames import resize
from harfuse.media.sampling import uniform_indices
from harfuse.store.shards import ShardReader, ShardWriter

log = logging.getLogger(__name__)


def clip(frames: np.ndarray, num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` -> ``(num_frames, h, w, 3)`` uint8: uniform in time, resized."""
    return np.stack([resize(f, size) for f in frames[uniform_indices(len(frames), num_frames)]])


def encode_clips(
    encoder: torch.nn.Module, clips: Iterable[np.ndarray], batch_size: int, device: torch.device
) -> np.ndarray:
    """Frozen-encoder features of ``(T, h, w, 3)`` uint8 clips, ``batch_size`` at a time
    (bf16 autocast on CUDA): ``(N, T', D)`` float32, ``T' = T`` for per-frame backbones and
    1 for clip backbones."""
    out: list[np.ndarray] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        x = torch.from_numpy(np.stack(batch)).to(device)  # (B, T, h, w, 3)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(encoder(x).float().cpu().numpy())  # (B, T', D)
        batch.clear()

    for c in clips:
        batch.append(c)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return np.concatenate(out) if out else np.zeros((0, 1, encoder.out_dim), np.float32)


def frozen_encoder(params: dict[str, Any], device: torch.device) -> torch.nn.Module:
    """The frozen encoder of a features set (``encoder``, ``weights``, ``seed``,
    ``allow_download``) on ``device``; ``weights: none`` gives the same random encoder
    for the same seed."""
    torch.manual_seed(params["seed"])
    encoder = create_encoder(
        params["encoder"],
        weights=params["weights"],
        allow_download=params.get("allow_download", default("features", "allow_download")),
    ).to(device)
    if device.type == "cuda":
        encoder = encoder.to(memory_format=torch.channels_last)
    return encoder


def run(
    frames_path: str | Path,
    out_path: str | Path,
    params: dict[str, Any],
    device: str,
    threads: int = 1,
) -> None:
    """Write ``sample_id`` ``(N,)``, ``pooled`` ``(N, D)`` and ``temporal`` ``(N, T, D)``
    float32 in the frame shard's order (``T = num_frames`` for per-frame backbones, 1 for
    clip backbones)."""
    torch.set_num_threads(threads)
    dev = resolve_device(device)
    encoder = frozen_encoder(params, dev)
    size = tuple(params["input_size"])
    frames = ShardReader(frames_path)
    ids = frames.sample_ids()
    start = time.perf_counter()
    clips = (clip(frames.read(s, "frames"), params["num_frames"], size) for s in ids)
    temporal = encode_clips(encoder, clips, params["batch_size"], dev)
    elapsed = time.perf_counter() - start
    log.info(
        "features %s: %d clips in %.1f s (%.1f clips/s) on %s",
        params["encoder"],
        len(ids),
        elapsed,
        len(ids) / max(elapsed, 1e-9),
        dev,
    )
    with ShardWriter(out_path, "features", params) as writer:
        writer.write_stacked("sample_id", np.array(ids, dtype=object))
        writer.write_stacked("pooled", temporal.mean(axis=1))
        writer.write_stacked("temporal", temporal)
        writer.set_attr("encoder", params["encoder"])
        writer.set_attr("weights", describe(params["weights"]))
        writer.set_attr("random_init", params["weights"] == "none")
