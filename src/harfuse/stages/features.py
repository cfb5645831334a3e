"""Stage ``features``: frozen image-encoder features of each frame shard."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harfuse.device import resolve_device
from harfuse.encoders.extract import clip, encode_clips, frozen_encoder
from harfuse.encoders.weights import describe
from harfuse.store.shards import FRAMES_PARAMS, ShardReader, ShardWriter

log = logging.getLogger(__name__)


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
        writer.set_attr(FRAMES_PARAMS, frames.file.attrs["params"])
        writer.set_attr("encoder", params["encoder"])
        writer.set_attr("weights", describe(params["weights"]))
        writer.set_attr("random_init", params["weights"] == "none")
