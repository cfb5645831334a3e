"""IMU windows as the IMU stage stores them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harfuse.media.imu import IMUParams, load_imu
from harfuse.media.sampling import pad_or_truncate
from harfuse.preprocess import Attrs


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
