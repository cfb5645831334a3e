"""Stage ``features``: frozen image-encoder features of each frame shard."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

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
    torch.manual_seed(params["seed"])  # makes `weights: none` the same random encoder every run
    encoder = create_encoder(
        params["encoder"],
        weights=params["weights"],
        allow_download=params.get("allow_download", False),
    ).to(dev)
    if dev.type == "cuda":
        encoder = encoder.to(memory_format=torch.channels_last)
    size = tuple(params["input_size"])
    frames = ShardReader(frames_path)
    ids = frames.sample_ids()
    batches: list[np.ndarray] = []
    start = time.perf_counter()
    for lo in range(0, len(ids), params["batch_size"]):
        batch_ids = ids[lo : lo + params["batch_size"]]
        clips = np.stack(
            [clip(frames.read(s, "frames"), params["num_frames"], size) for s in batch_ids]
        )  # (B, T, h, w, 3)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            out = encoder(torch.from_numpy(clips).to(dev))  # (B, T, D)
        batches.append(out.float().cpu().numpy())
    # (N, T, D): T = num_frames for per-frame backbones, 1 for clip backbones
    temporal = np.concatenate(batches) if batches else np.zeros((0, 1, encoder.out_dim), np.float32)
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
