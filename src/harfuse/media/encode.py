"""Writing media with PyAV: the demo dataset, the test fixtures and ``harfuse predict
--overlay`` use this one writer."""

from __future__ import annotations

import fractions
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

#: pts unit of variable-frame-rate writes, s
_VFR_TIME_BASE = fractions.Fraction(1, 1000)


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    times_s: Sequence[float] | None = None,
    codec: str = "libx264",
    container_format: str | None = None,
    qp: int = 0,
    audio_codec: str = "aac",
) -> None:
    """Encode ``frames`` (``(T, H, W, 3)`` uint8 RGB, or an iterable of ``(H, W, 3)``
    frames, consumed one at a time), plus mono ``audio`` (float in [-1, 1])
    with ``audio_codec`` if given.

    ``times_s`` gives each frame's presentation time (variable frame rate, ms
    resolution); by default frame ``i`` is at ``i / fps``. The container comes from the
    file extension unless ``container_format`` names it. For libx264, ``qp`` is the
    quantiser: 0 (default) is lossless, so decoded frames are exactly the input converted
    to YUV 4:2:0, the same on every run (lossy x264 output varied slightly run to run).
    """
    import av

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    rate = fractions.Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", format=container_format) as out:
        vstream = out.add_stream(codec, rate=rate)
        vstream.height, vstream.width = first.shape[:2]
        vstream.pix_fmt = "yuv420p"
        if codec == "libx264":
            vstream.options = {"qp": str(qp), "preset": "veryfast"}
        time_base = _VFR_TIME_BASE if times_s is not None else 1 / rate
        vstream.codec_context.time_base = time_base
        # every stream must exist before the first packet is muxed
        astream = None
        if audio is not None:
            astream = out.add_stream(audio_codec, rate=audio_rate, layout="mono")
        for i, rgb in enumerate(itertools.chain([first], frames)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i if times_s is None else round(times_s[i] / _VFR_TIME_BASE)
            frame.time_base = time_base
            out.mux(vstream.encode(frame))
        out.mux(vstream.encode())
        if astream is None:
            return
        block = 1024  # PyAV re-frames and converts to what the encoder takes
        for start in range(0, len(audio), block):
            chunk = np.ascontiguousarray(audio[start : start + block], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            frame.sample_rate = audio_rate
            frame.pts = start
            out.mux(astream.encode(frame))
        out.mux(astream.encode())
