"""The ``imu`` modality: each sample's IMU file resampled to ``imu.rate`` and fitted to
``imu.window`` steps (the IMU stage), standardised per channel with the training split's
statistics when a model reads it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harfuse.modalities.base import Context, Modality, Source, Stored

#: IMU channels assumed for the parse-time model check (the real count is known from the
#: data only; no model's options depend on it)
DUMMY_CHANNELS = 6


class Imu(Modality):
    name = "imu"
    section = "imu"
    columns = ("imu_path",)
    arrays = ("imu",)
    default_encoder = "imu_cnn1d"

    def stored(self, raw: Any, prep: dict[str, dict[str, Any]], context: Context) -> Stored:
        """An IMU file -> ``(window, C)`` float32, zero-padded at the end, with
        ``valid_length`` (samples before padding) and the rates as attributes."""
        from harfuse.preprocess.imu import imu_window

        return {"imu": imu_window(raw, prep["imu"])}

    def model_input(self, stored: Stored, inputs: dict[str, Any]) -> np.ndarray:
        """The window as float32, unstandardised (:func:`standardised` does that once the
        training rows are known)."""
        return stored["imu"][0].astype(np.float32)

    def dummy_shape(self, config: dict[str, Any], variant: str) -> tuple[int, ...]:
        return (config["imu"]["window"], DUMMY_CHANNELS)


def standardise_imu(
    x: np.ndarray, valid: int, mean: np.ndarray | None, std: np.ndarray | None
) -> np.ndarray:
    """IMU window ``(T, C)`` as float32 with its first ``valid`` steps standardised by
    ``mean`` and ``std`` ``(C,)`` (unchanged when they are None); padding stays zero."""
    x = x.astype(np.float32)
    if mean is not None and std is not None:
        x[:valid] = (x[:valid] - mean) / std
    return x


def imu_channel_stats(source: Source, sample_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation ``(C,)`` over the valid (unpadded) steps
    of ``sample_ids`` only (the training split: test data must not leak into them), from
    an IMU source (:meth:`Imu.source`). One window in memory at a time: each window's
    count, mean and sum of squared deviations (float64) are merged into the running ones
    (Chan et al.'s pairwise update), so the memory does not grow with the dataset. A
    channel that never varies gets std 1 (standardising then only centres it)."""
    count, mean, m2 = 0, np.zeros(0), np.zeros(0)
    for sample_id in sample_ids:
        window, attrs = source.stored(sample_id)["imu"]
        steps = window[: int(attrs["valid_length"])].astype(np.float64)  # (n, C)
        if not len(steps):
            continue
        n, step_mean = len(steps), steps.mean(axis=0)
        step_m2 = ((steps - step_mean) ** 2).sum(axis=0)
        if not count:
            count, mean, m2 = n, step_mean, step_m2
            continue
        delta, total = step_mean - mean, count + n
        mean = mean + delta * (n / total)
        m2 = m2 + step_m2 + delta**2 * (count * n / total)
        count = total
    if not count:
        raise ValueError(f"no valid IMU step in the {len(sample_ids)} training samples")
    std = np.sqrt(m2 / count)
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def standardised(source: Source, mean: np.ndarray, std: np.ndarray) -> Source:
    """``source`` (an IMU source) with its windows' valid steps standardised by ``mean``
    and ``std`` ``(C,)``; the padding stays zero. No shard is indexed again."""

    def transform(stored: Stored) -> np.ndarray:
        x, attrs = stored["imu"]
        return standardise_imu(x, int(attrs["valid_length"]), mean, std)

    return source.with_transform(transform)


MODALITY = Imu()
