"""RGB frames: decode at a target rate and resize."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harfuse.config_schema import default
from harfuse.media.decode import DecodeError, iter_frames_at_fps
from harfuse.media.sampling import uniform_indices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameParams:
    """``frames:`` config: ``fps`` (Hz), output ``size`` (px, short side or ``[h, w]``;
    None: the source's), optional ``max_duration_s`` (s) and ``num_frames`` (keep that
    many frames spread uniformly over the clip, after sampling at ``fps``)."""

    fps: float
    size: int | tuple[int, int] | None
    max_duration_s: float | None = default("frames", "max_duration_s")
    num_frames: int | None = default("frames", "num_frames")


def output_size(
    height: int, width: int, size: int | tuple[int, int] | None, upscale: bool = True
) -> tuple[int, int]:
    """``(h, w)`` after resizing: an int scales the short side to it, keeping aspect
    (without ``upscale``, only down); a pair is the size; None keeps the source's."""
    if size is None or (isinstance(size, int) and not upscale and min(height, width) <= size):
        return height, width
    if isinstance(size, int):
        scale = size / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    return int(size[0]), int(size[1])


def resize(rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize ``(H, W, 3)`` to ``hw`` with area interpolation (no-op when equal)."""
    import cv2

    if rgb.shape[:2] == hw:
        return rgb
    return cv2.resize(rgb, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)


#: still-image extensions: one frame, read with OpenCV
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_image(path: str | Path) -> np.ndarray:
    """A still image as ``(H, W, 3)`` uint8 RGB; :class:`DecodeError` when unreadable."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DecodeError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def extract_frames(path: str | Path, params: FrameParams) -> np.ndarray:
    """Decode ``path`` at ``params.fps`` and resize; returns ``(T, H, W, 3)`` uint8 RGB.

    A still image (by extension) gives ``T = 1``.
    """
    return decode_frames(path, params)[0]


def decode_frames(
    path: str | Path, params: FrameParams, upscale: bool = True
) -> tuple[np.ndarray, int]:
    """:func:`extract_frames` and the number of distinct source frames behind them
    (without ``upscale``, an int ``params.size`` only caps the short side: a smaller
    source keeps its size).

    Logs a warning when sampling by timestamp repeats the source's frames more than
    :data:`REPEAT_WARNING` times over (a variable frame rate or a near-still stream: the
    frames cost storage and time but add nothing), and when an uncapped video runs past
    :data:`LONG_VIDEO_S`; both point to ``frames.max_duration_s`` and ``frames.num_frames``.
    """
    if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
        rgb = read_image(path)
        hw = output_size(rgb.shape[0], rgb.shape[1], params.size, upscale)
        return resize(rgb, hw)[None], 1
    out: list[np.ndarray] = []
    hw: tuple[int, int] | None = None
    distinct, last = 0, None
    for _, rgb in iter_frames_at_fps(path, params.fps, params.max_duration_s):
        if hw is None:
            hw = output_size(rgb.shape[0], rgb.shape[1], params.size, upscale)
        distinct += rgb is not last  # a repeated frame is the same array
        last = rgb
        out.append(resize(rgb, hw))
    if not out:
        raise DecodeError(f"{path}: no frame at {params.fps} fps")
    warn_costly_sampling(path, len(out), distinct, params)
    return keep_frames(np.stack(out), params.num_frames), distinct


#: sampled frames per distinct source frame above which the frames stage warns
REPEAT_WARNING = 10
#: seconds of video above which an uncapped video (no max_duration_s, no num_frames) warns
LONG_VIDEO_S = 600.0
_CAP = "cap the work per video with frames.max_duration_s (s) or frames.num_frames"


def warn_costly_sampling(
    path: str | Path, sampled: int, distinct: int, params: FrameParams
) -> None:
    """The warnings of :func:`decode_frames` (see there)."""
    if sampled > REPEAT_WARNING * distinct:
        log.warning(
            "%s: %d frames at %g fps repeat its %d distinct frames %.0fx over (variable "
            "frame rate or a near-still stream); %s, or lower frames.fps",
            path,
            sampled,
            params.fps,
            distinct,
            sampled / distinct,
            _CAP,
        )
    seconds = sampled / params.fps
    if params.max_duration_s is None and params.num_frames is None and seconds > LONG_VIDEO_S:
        log.warning("%s: %.0f s of video stored as %d frames; %s", path, seconds, sampled, _CAP)


def keep_frames(frames: np.ndarray, num_frames: int | None) -> np.ndarray:
    """``num_frames`` of ``(T, ...)`` frames spread uniformly over them (TSN style), or
    all of them for None."""
    return frames[uniform_indices(len(frames), num_frames)] if num_frames else frames
