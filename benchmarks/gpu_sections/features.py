"""Section ``features``: clips/s of frozen encoders through ``encode_clips``, fp32 against
the pipeline's bf16 autocast with a channels_last encoder (``frozen_encoder``)."""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from gpu_sections.runner import Check, empty_cache, error_text


def encode_fp32(encoder: torch.nn.Module, clips: np.ndarray, device: torch.device) -> np.ndarray:
    """``encode_clips`` without its bf16 autocast: one batch, fp32."""
    x = torch.from_numpy(clips).to(device)  # (B, T, h, w, 3)
    return encoder(x).float().cpu().numpy()


def channels_last_3d(create: Callable, name: str, device: torch.device) -> torch.nn.Module:
    """A clip encoder whose backbone (Conv3d weights, 5-D) is channels_last_3d; its 4-D
    normalisation buffers stay as they are."""
    encoder = create(name, weights="none").to(device)
    encoder.backbone.to(memory_format=torch.channels_last_3d)
    return encoder


def run(check: Check, deadline: float) -> None:
    """fp32 against the pipeline's bf16 channels_last, per encoder and batch; for a clip
    encoder also bf16 channels_last_3d (the 5-D layout its Conv3d weights can take)."""
    from harfuse.encoders import create_encoder
    from harfuse.encoders.extract import encode_clips, frozen_encoder
    from harfuse.encoders.frozen import ClipEncoder

    def build(make: Callable[[], torch.nn.Module]) -> torch.nn.Module | str:
        """The encoder, or why it could not be made (a row's error, not the section's)."""
        try:
            torch.manual_seed(0)
            return make()
        except Exception as exc:
            return error_text(exc)

    rng = np.random.default_rng(0)
    batches = check.sizes.feature_batches
    for ei, (name, (frames, side)) in enumerate(check.sizes.encoders.items()):
        clips = rng.integers(0, 255, (max(batches), frames, side, side, 3), dtype=np.uint8)
        plain = build(lambda name=name: create_encoder(name, weights="none").to(check.device))
        tf32 = f"TF32 convolutions: {torch.backends.cudnn.allow_tf32}" if check.cuda else ""
        autocast = "" if check.cuda else "on a CPU encode_clips runs fp32"
        # (label, encoder, encode_clips's autocast?, notes); the second is the features
        # stage's own encoder: frozen_encoder converts it to channels_last on CUDA
        variants = [
            ("fp32", plain, False, tf32),
            (
                "bf16 channels_last",
                build(
                    lambda name=name: frozen_encoder(
                        {"encoder": name, "weights": "none", "seed": 0}, check.device
                    )
                ),
                True,
                autocast,
            ),
        ]
        if isinstance(plain, ClipEncoder):
            variants.append(
                (
                    "bf16 channels_last_3d",
                    build(lambda name=name: channels_last_3d(create_encoder, name, check.device)),
                    True,
                    "not the pipeline's layout; " + (autocast or "encode_clips"),
                )
            )
        for b in batches:
            rates: dict[str, float] = {}
            for pi, (label, encoder, autocast_on, notes) in enumerate(variants):
                setting = f"{name} {frames}x{side}px {label} batch {b}"
                key = (ei, b, pi)
                if isinstance(encoder, str):
                    check.add("features", setting, "error", notes=encoder, key=key)
                    continue
                if time.monotonic() > deadline:
                    check.add("features", setting, "skipped: budget", key=key)
                    continue
                if autocast_on:
                    fn = functools.partial(encode_clips, encoder, clips[:b], b, check.device)
                else:
                    fn = functools.partial(encode_fp32, encoder, clips[:b], check.device)
                check.reset_peak()
                try:
                    _, times = check.timed(fn, deadline)
                except Exception as exc:
                    check.add("features", setting, "error", notes=error_text(exc), key=key)
                    empty_cache(check)
                    continue
                rates[label] = b / statistics.median(times)
                vs = (
                    f"x{rates[label] / rates['fp32']:.2f} vs fp32" if pi and "fp32" in rates else ""
                )
                check.add(
                    "features",
                    setting,
                    f"{rates[label]:.1f}",
                    unit="clips/s",
                    vs=vs,
                    peak_mib=check.peak(),
                    notes=f"median of {len(times)}" + (f"; {notes}" if notes else ""),
                    key=key,
                )
        del plain, variants
        empty_cache(check)
