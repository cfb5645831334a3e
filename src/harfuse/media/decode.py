"""Decoding with PyAV: video frames sampled by timestamp, and audio resampled to mono."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np


class DecodeError(RuntimeError):
    """A media file could not be decoded; the message names the file and the reason."""


def open_media(path: str | Path):
    """Open ``path`` with PyAV for reading; :class:`DecodeError` when it cannot."""
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise DecodeError(f"{path}: cannot open: {exc}") from exc


def displayed_rgb(frame) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB as the frame is meant to be shown: the rotation of the
    display matrix (phones' portrait videos) is applied."""
    rgb = frame.to_ndarray(format="rgb24")
    quarter_turns = round((frame.rotation or 0) / 90) % 4  # counter-clockwise
    return np.ascontiguousarray(np.rot90(rgb, k=quarter_turns)) if quarter_turns else rgb


def iter_frames_at_fps(
    path: str | Path, fps: float, max_duration_s: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(t, rgb)`` for target times ``t = k / fps`` s from the first frame.

    Each target time takes the frame shown at that moment (the last frame whose timestamp
    is at or before it), so variable frame rate sources are sampled by time, not by index.
    ``rgb`` is ``(H, W, 3)`` uint8 as displayed (rotation metadata applied); only the
    selected frames are converted.
    """
    import av

    with open_media(path) as container:
        if not container.streams.video:
            raise DecodeError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1.0 / fps
        # Containers round timestamps (Matroska to 1 ms): a frame stamped up to 1 ms after
        # a target time still counts as shown at it, or sampling at the source rate would
        # skip and repeat frames.
        slack = min(1e-3, step / 4)
        k = 0
        start: float | None = None
        prev = None
        prev_t = 0.0
        last_gap = step
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if start is None:
                    start = frame.time
                t = frame.time - start
                if prev is not None:
                    last_gap = max(t - prev_t, 1e-6)
                    while k * step + slack < t:
                        if max_duration_s is not None and k * step >= max_duration_s:
                            return
                        yield k * step, displayed_rgb(prev)
                        k += 1
                prev, prev_t = frame, t
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{path}: decoding failed after {k} frames: {exc}") from exc
        if prev is None:
            raise DecodeError(f"{path}: no decodable video frame")
        end = prev_t + last_gap  # the last frame is shown for one more frame interval
        while k * step < end and (max_duration_s is None or k * step < max_duration_s):
            yield k * step, displayed_rgb(prev)
            k += 1


def read_audio(path: str | Path, rate: int) -> np.ndarray | None:
    """Decode the first audio stream as mono float32 at ``rate`` Hz; ``None`` if absent."""
    import av

    with open_media(path) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(container.streams.audio[0]):
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{path}: audio decoding failed: {exc}") from exc
    if not chunks:
        return np.zeros(0, np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
