"""Features of a frozen encoder from uint8 frames: the features stage and ``harfuse
predict`` both call these, so a model sees at prediction what it was trained on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from harfuse.config_schema import filled
from harfuse.data.frame_feed import decoded_frames
from harfuse.encoders.registry import create_encoder
from harfuse.media.frames import resize
from harfuse.media.sampling import uniform_indices
from harfuse.store.shards import ShardReader


def clip(frames: np.ndarray, num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` -> ``(num_frames, h, w, 3)`` uint8: uniform in time, resized."""
    return resized(frames[uniform_indices(len(frames), num_frames)], size)


def clip_from_shard(
    frames: ShardReader, sample_id: str, num_frames: int, size: tuple[int, int]
) -> np.ndarray:
    """:func:`clip` of a frame shard's sample, ``(num_frames, h, w, 3)`` uint8, the same
    bytes as ``clip(frames.read(sample_id, "frames"), num_frames, size)`` but decoding
    only the frames the clip takes (8 of a 60-frame video: 8 JPEG decodes, not 60)."""
    indices = uniform_indices(frames.length(sample_id), num_frames)
    return resized(decoded_frames(frames, sample_id, indices), size)


def resized(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(T, H, W, 3)`` -> ``(T, h, w, 3)`` uint8, each frame resized to ``size = (h, w)``."""
    return np.stack([resize(f, size) for f in frames])


def encode_clips(
    encoder: torch.nn.Module,
    clips: Iterable[np.ndarray | torch.Tensor],
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Frozen-encoder features of ``(T, h, w, 3)`` uint8 clips, ``batch_size`` at a time
    (bf16 autocast on CUDA): ``(N, T', D)`` float32, ``T' = T`` for per-frame backbones and
    1 for clip backbones.

    Clips are arrays, or CPU tensors in pinned memory (the features stage's feed on
    CUDA), which are copied to the device one by one without blocking. The features stay
    on the device until the end, so on CUDA the host queues the next batch while the
    GPU computes.
    """
    out: list[torch.Tensor] = []
    batch: list[np.ndarray | torch.Tensor] = []

    def flush() -> None:
        if isinstance(batch[0], torch.Tensor):
            x = torch.empty((len(batch), *batch[0].shape), dtype=torch.uint8, device=device)
            for i, c in enumerate(batch):  # x: (B, T, h, w, 3)
                x[i].copy_(c, non_blocking=True)
        else:
            x = torch.from_numpy(np.stack(batch)).to(device)  # (B, T, h, w, 3)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(encoder(x).float())  # (B, T', D)
        batch.clear()

    for c in clips:
        batch.append(c)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not out:
        return np.zeros((0, 1, encoder.out_dim), np.float32)
    return torch.cat(out).cpu().numpy()


def frozen_encoder(params: dict[str, Any], device: torch.device) -> torch.nn.Module:
    """The frozen encoder of a features set (``encoder``, ``weights``, ``seed``,
    ``allow_download``) on ``device``; ``weights: none`` gives the same random encoder
    for the same seed."""
    torch.manual_seed(params["seed"])
    encoder = create_encoder(
        params["encoder"],
        weights=params["weights"],
        allow_download=filled(params, "features")["allow_download"],
    ).to(device)
    if device.type == "cuda":  # NHWC kernels: channels_last (2D) or channels_last_3d (video)
        encoder.backbone.to(memory_format=channels_last(encoder.backbone))
    return encoder


def channels_last(module: torch.nn.Module) -> torch.memory_format:
    """The channels-last memory format for ``module``'s convolutions: ``channels_last_3d``
    when it has 3D ones (video backbones), else ``channels_last``."""
    has_3d = any(isinstance(m, torch.nn.Conv3d) for m in module.modules())
    return torch.channels_last_3d if has_3d else torch.channels_last
