"""Each modality's preprocessing, from raw input and its config section to the array the
stage stores and its attributes. The stages write what these return into shards;
``harfuse predict`` calls the same functions, so a model sees at prediction exactly what
it was trained on (``tests/test_predict_parity.py`` checks it over a matrix of settings).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from harfuse.config_schema import default
from harfuse.flow.compute import flow_from_config
from harfuse.flow.quantize import flow_scale, quantize
from harfuse.media.audio import AudioParams, log_mel
from harfuse.media.frames import FrameParams, extract_frames
from harfuse.media.imu import IMUParams, load_imu
from harfuse.media.sampling import pad_or_truncate
from harfuse.store.shards import decode_jpeg, encode_jpeg

Attrs = dict[str, Any]


def frame_params(config: dict[str, Any]) -> FrameParams:
    """The ``frames:`` section as :class:`FrameParams` (``size`` an int or ``(h, w)``)."""
    size = config["size"]
    return FrameParams(
        fps=config["fps"],
        size=size if isinstance(size, int) else tuple(size),
        max_duration_s=config.get("max_duration_s", default("frames", "max_duration_s")),
        num_frames=config.get("num_frames", default("frames", "num_frames")),
    )


def jpeg_quality(config: dict[str, Any]) -> int | None:
    """The JPEG quality frames are stored at, or None for raw storage."""
    if config.get("storage", default("frames", "storage")) != "jpeg":
        return None
    return int(config.get("jpeg_quality", default("frames", "jpeg_quality")))


def video_frames(path: str | Path, config: dict[str, Any]) -> tuple[np.ndarray, Attrs]:
    """``(T, H, W, 3)`` uint8 RGB frames of ``path`` as the frames stage hands them to its
    shard (which JPEG-encodes them with ``storage: jpeg``), and their attributes."""
    p = frame_params(config)
    return extract_frames(path, p), {"fps": p.fps, "source": str(path)}


def as_stored(frames: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """``frames`` as reading them back from the shard gives them: through the JPEG round
    trip of the shard's encoder with ``storage: jpeg``, unchanged with ``raw``."""
    quality = jpeg_quality(config)
    if quality is None:
        return frames
    return np.stack([decode_jpeg(encode_jpeg(f, quality)) for f in frames])


def flow_field(frames: np.ndarray, config: dict[str, Any], device: str) -> tuple[np.ndarray, Attrs]:
    """Flow of stored ``(T, H, W, 3)`` frames as the flow stage stores it: ``(T-1, H, W,
    2)`` uint8 codes (``storage: uint8``) or float16 px, and its attributes. A single frame
    is taken as a still (one zero-motion pair), as prediction on one frame needs it."""
    if len(frames) == 1:
        frames = np.concatenate([frames, frames])
    flow = flow_from_config(frames, config, device)
    bound = float(config.get("bound", default("flow", "bound")))
    storage = config.get("storage", default("flow", "storage"))
    attrs: Attrs = {"method": config["method"], "bound": bound, "storage": storage}
    if storage == "uint8":
        return quantize(flow, bound), {**attrs, "scale": flow_scale(bound)}
    return flow.astype(np.float16), attrs


def log_mel_spectrogram(
    wave: np.ndarray | None, config: dict[str, Any], source: str | Path = ""
) -> tuple[np.ndarray, Attrs]:
    """``(n_mels, frames)`` float16 dB of a mono ``wave`` at ``audio.sample_rate``, as the
    audio stage stores it. No audio track (``None`` or empty) is silence: an empty
    ``(n_mels, 0)`` array with ``has_audio = False``, which models read as zeros."""
    p = AudioParams(**config)
    has_audio = wave is not None and len(wave) > 0
    mel = log_mel(wave, p) if has_audio else np.zeros((p.n_mels, 0), np.float32)
    attrs = {
        "has_audio": has_audio,
        "source": str(source),
        "seconds": 0.0 if wave is None else len(wave) / p.sample_rate,
        **{k: v for k, v in asdict(p).items() if v is not None},
    }
    return mel.astype(np.float16), attrs


def imu_window(path: str | Path, config: dict[str, Any]) -> tuple[np.ndarray, Attrs]:
    """``(window, C)`` float32 of an IMU file resampled to ``imu.rate``, zero-padded or
    cut at the end, with ``valid_length`` (samples before padding) and the rates."""
    p = IMUParams(**config)
    data, channels, source_rates = load_imu(path, p.rate)
    window, valid = pad_or_truncate(data, p.window)
    attrs = {
        "valid_length": valid,
        "rate": p.rate,
        "source_rates": source_rates,
        "channels": channels,
        "source": str(path),
    }
    return window, attrs
