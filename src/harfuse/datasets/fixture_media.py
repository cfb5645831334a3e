"""Tiny real media files for the layout fixtures (tests and examples, never downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harfuse.media.encode import write_video

#: container suffix -> (video codec, audio codec) used for fixtures
_CODECS = {".avi": ("mpeg4", "mp3"), ".webm": ("libvpx-vp9", "libopus")}


def tiny_video(
    path: Path,
    seed: int,
    audio: bool = False,
    frames: int = 8,
    size: int | tuple[int, int] = 32,
    fps: float = 8.0,
) -> Path:
    """A ``frames``-frame clip of a bright square moving over noise, plus a tone if
    ``audio``; ``size`` px square or ``(height, width)``; the codecs follow the extension
    (mpeg4 + mp3 in .avi, else H.264 + AAC)."""
    rng = np.random.default_rng(seed)
    height, width = (size, size) if isinstance(size, int) else size
    base = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    clip = np.repeat(base[None], frames, axis=0)
    dx, dy = rng.integers(-2, 3, 2)
    for t in range(frames):
        x = int(width // 4 + dx * t) % (width - 8)
        y = int(height // 4 + dy * t) % (height - 8)
        clip[t, y : y + 8, x : x + 8] = 230
    sound = None
    if audio:
        n = int(16000 * frames / fps)
        sound = 0.3 * np.sin(2 * np.pi * rng.uniform(300, 900) * np.arange(n) / 16000)
    video_codec, audio_codec = _CODECS.get(path.suffix.lower(), ("libx264", "aac"))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, clip, fps, sound, 16000, codec=video_codec, audio_codec=audio_codec)
    return path


def tiny_image(path: Path, seed: int, size: int = 32) -> Path:
    """A small noisy image (format from the extension)."""
    import cv2

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    return path
