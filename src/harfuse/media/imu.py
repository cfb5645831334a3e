"""IMU: read CSV streams, resample to the target rate, fit to a fixed window."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd


class IMUError(ValueError):
    """An IMU file is unusable; the message names the file and the reason."""


@dataclass(frozen=True)
class IMUParams:
    """``imu:`` config: target ``rate`` (Hz) and ``window`` length (samples at that rate)."""

    rate: float = 50.0
    window: int = 128


def read_imu_csv(path: str | Path) -> tuple[np.ndarray, float, list[str]]:
    """Read a CSV with a ``time_s`` column plus one column per channel.

    Returns ``(data (N, C) float32, rate_hz, channel_names)``; the rate is the median
    sampling interval's inverse.
    """
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise IMUError(f"{path}: not a readable CSV: {exc}") from exc
    if "time_s" not in df.columns:
        raise IMUError(f"{path}: no time_s column (columns: {list(df.columns)})")
    if len(df) < 2:
        raise IMUError(f"{path}: {len(df)} rows, need at least 2")
    channels = [c for c in df.columns if c != "time_s"]
    data = df[channels].to_numpy(np.float32)
    if not np.isfinite(data).all():
        raise IMUError(f"{path}: non-finite values in {int((~np.isfinite(data)).sum())} cells")
    dt = float(np.median(np.diff(df["time_s"].to_numpy(np.float64))))
    if dt <= 0:
        raise IMUError(f"{path}: time_s is not increasing")
    return data, 1.0 / dt, channels


def resample(x: np.ndarray, src_rate: float, dst_rate: float) -> np.ndarray:
    """Polyphase resampling of ``x`` ``(N, C)`` from ``src_rate`` to ``dst_rate`` Hz.

    Uses an anti-aliasing FIR (scipy ``resample_poly``), so content above the new Nyquist
    frequency is removed instead of folded back. Output length is
    ``ceil(N * dst_rate / src_rate)``.
    """
    from scipy.signal import resample_poly

    ratio = Fraction(dst_rate / src_rate).limit_denominator(1000)
    if ratio == 1:
        return x.astype(np.float32, copy=True)
    y = resample_poly(x, ratio.numerator, ratio.denominator, axis=0, padtype="line")
    return y.astype(np.float32)
