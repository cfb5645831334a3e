"""Frames as the frames stage stores them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harfuse.config_schema import filled
from harfuse.media.frames import FrameParams, decode_frames, keep_frames
from harfuse.preprocess import Attrs
from harfuse.store.shards import decode_jpeg, encode_jpeg


def frame_params(config: dict[str, Any]) -> FrameParams:
    """The ``frames:`` section as :class:`FrameParams` (``size`` an int or ``(h, w)``)."""
    config = filled(config, "frames")
    size = config["size"]
    return FrameParams(
        fps=config["fps"],
        size=size if isinstance(size, int) else tuple(size),
        max_duration_s=config["max_duration_s"],
        num_frames=config["num_frames"],
    )


def jpeg_quality(config: dict[str, Any]) -> int | None:
    """The JPEG quality frames are stored at, or None for raw storage."""
    config = filled(config, "frames")
    return int(config["jpeg_quality"]) if config["storage"] == "jpeg" else None


def video_frames(
    path: str | Path, config: dict[str, Any], every_frame: bool = False
) -> tuple[np.ndarray, Attrs]:
    """``(T, H, W, 3)`` uint8 RGB frames of ``path`` as the frames stage hands them to its
    shard (which JPEG-encodes them with ``storage: jpeg``), and their attributes. With
    ``every_frame``, every frame at ``fps`` before ``num_frames`` keeps some of them
    (prediction takes :func:`select_frames` of each segment)."""
    p = frame_params(config)
    if every_frame:
        p = FrameParams(p.fps, p.size, p.max_duration_s, None)
    frames, distinct = decode_frames(path, p)
    return frames, {"fps": p.fps, "source": str(path), "source_frames": distinct}


def select_frames(frames: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """The ``num_frames`` the frames stage keeps of frames at ``fps`` (all for null)."""
    return keep_frames(frames, frame_params(config).num_frames)


def as_stored(frames: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """``frames`` as reading them back from the shard gives them: through the JPEG round
    trip of the shard's encoder with ``storage: jpeg``, unchanged with ``raw``."""
    quality = jpeg_quality(config)
    if quality is None:
        return frames
    return np.stack([decode_jpeg(encode_jpeg(f, quality)) for f in frames])
