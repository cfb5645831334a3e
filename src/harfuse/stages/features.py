"""Stage ``features``: frozen image-encoder features of each frame shard."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harfuse.data.frame_feed import Fed, feed
from harfuse.device import resolve_device
from harfuse.encoders.extract import clip_from_shard, encode_clips, frozen_encoder
from harfuse.runlog import report_progress
from harfuse.stages.shard_job import BAD_INPUT
from harfuse.store.quarantine import OnError, quarantine_path, write_quarantine
from harfuse.store.shards import FRAMES_PARAMS, ShardReader, ShardWriter, encode_params
from harfuse.weights import describe

log = logging.getLogger(__name__)


def run(
    frames_path: str | Path,
    out_path: str | Path,
    params: dict[str, Any],
    device: str,
    threads: int = 1,
    on_error: str = OnError.SKIP,
    workers: int | None = None,
) -> None:
    """Write ``sample_id`` ``(N,)``, ``pooled`` ``(N, D)`` and ``temporal`` ``(N, T, D)``
    float32 in the frame shard's order (``T = num_frames`` for per-frame backbones, 1 for
    clip backbones), and the quarantine sidecar beside it: a sample whose frames cannot be
    read is left out with a row there (``on_error="skip"``) or stops the job (``fail``).

    ``threads`` (the rule's) is torch's thread count and, unless ``workers`` says
    otherwise, the number of threads decoding clips ahead of the encoder
    (:func:`frame_feed`); ``workers`` does not change the output.
    """
    if on_error not in (OnError.SKIP, OnError.FAIL):
        raise ValueError(f"on_error must be skip or fail, got {on_error!r}")
    torch.set_num_threads(threads)
    dev = resolve_device(device)
    encoder = frozen_encoder(params, dev)
    frames = ShardReader(frames_path)
    kept: list[str] = []
    quarantine: list[dict[str, str]] = []
    start = time.perf_counter()
    with closing(frame_feed(frames, params, dev, workers or max(1, threads))) as fed:
        clips = _usable(fed, on_error, kept, quarantine, len(frames.sample_ids()))
        temporal = encode_clips(encoder, clips, params["batch_size"], dev)
    elapsed = time.perf_counter() - start
    log.info(
        "features %s: %d clips in %.1f s (%.1f clips/s) on %s",
        params["encoder"],
        len(kept),
        elapsed,
        len(kept) / max(elapsed, 1e-9),
        dev,
    )
    with ShardWriter(out_path, "features", params) as writer:
        writer.write_stacked("sample_id", np.array(kept, dtype=object))
        writer.write_stacked("pooled", temporal.mean(axis=1))
        writer.write_stacked("temporal", temporal)
        writer.set_attr(FRAMES_PARAMS, encode_params(frames.params))
        writer.set_attr("encoder", params["encoder"])
        writer.set_attr("weights", describe(params["weights"]))
        writer.set_attr("random_init", params["weights"] == "none")
    write_quarantine(quarantine_path(out_path), quarantine)


def frame_feed(
    frames: ShardReader, params: dict[str, Any], device: torch.device, workers: int
) -> Generator[Fed, None, None]:
    """What the encoder computes on, one :class:`Fed` per sample of ``frames`` in shard
    order: ``(num_frames, h, w, 3)`` uint8 clips (:func:`clip_from_shard`), decoded and
    resized by ``workers`` threads ahead of the encoder, in pinned memory on CUDA.
    ``benchmarks/features.py --compute null`` times this feed alone."""
    num_frames, size = params["num_frames"], tuple(params["input_size"])

    def load(sid: str) -> np.ndarray:
        return clip_from_shard(frames, sid, num_frames, size)

    return feed(load, frames.sample_ids(), workers, pin=device.type == "cuda")


def _usable(
    fed: Iterator[Fed],
    on_error: str,
    kept: list[str],
    quarantine: list[dict[str, str]],
    total: int = 0,
) -> Iterator[np.ndarray | torch.Tensor]:
    """The clips of ``fed`` that loaded (pinned tensors on CUDA), their ids appended to
    ``kept``; a bad input is appended to ``quarantine`` (or raised with ``fail``), any
    other error raised. Reports its progress through the ``total`` samples."""
    for i, item in enumerate(fed, 1):
        report_progress("features", i, total, "clips", f"clip {i}/{total}")
        if item.error is not None:
            if on_error == OnError.FAIL or not isinstance(item.error, BAD_INPUT):
                raise item.error
            log.warning("features: quarantined %s: %s", item.sample_id, item.error)
            quarantine.append(
                {"sample_id": item.sample_id, "stage": "features", "reason": str(item.error)}
            )
            continue
        kept.append(item.sample_id)
        yield item.pinned if item.pinned is not None else item.get()
