"""IMU: read CSV streams, resample to the target rate, fit to a fixed window."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from harfuse.config_schema import default


class IMUError(ValueError):
    """An IMU file is unusable; the message names the file and the reason."""


@dataclass(frozen=True)
class IMUParams:
    """``imu:`` config: target ``rate`` (Hz) and ``window`` length (samples at that rate);
    defaults from the config schema."""

    rate: float = default("imu", "rate")
    window: int = default("imu", "window")


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


#: sampling rate of UTD-MHAD's ``d_iner`` (the .mat files carry no timestamps), Hz
UTD_MHAD_RATE_HZ = 50.0
UTD_MHAD_CHANNELS = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]


def read_utd_mat(path: str | Path) -> tuple[np.ndarray, float, list[str]]:
    """UTD-MHAD ``_inertial.mat``: ``d_iner`` ``(N, 6)`` (acc in g, gyro in deg/s), 50 Hz."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(path)
    except (MatReadError, ValueError, TypeError, OSError) as exc:
        raise IMUError(f"{path}: not a readable MATLAB file: {exc}") from exc
    if "d_iner" not in mat:
        raise IMUError(f"{path}: no d_iner variable (has {sorted(k for k in mat if k[0] != '_')})")
    data = np.asarray(mat["d_iner"], np.float32)
    if data.ndim != 2 or data.shape[1] != 6 or len(data) < 2:
        raise IMUError(f"{path}: d_iner has shape {data.shape}, expected (N >= 2, 6)")
    if not np.isfinite(data).all():
        raise IMUError(f"{path}: non-finite values in {int((~np.isfinite(data)).sum())} cells")
    return data, UTD_MHAD_RATE_HZ, list(UTD_MHAD_CHANNELS)


def read_timestamped_csv(path: str | Path, name: str) -> tuple[np.ndarray, float, list[str]]:
    """Headerless ``timestamp,x,y,z`` rows (MMAct); the timestamp is date-time text or
    seconds. Channels are named ``{name}_x`` etc.; the rate comes from the timestamps."""
    try:
        df = pd.read_csv(path, header=None)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise IMUError(f"{path}: not a readable CSV: {exc}") from exc
    if df.shape[1] < 2 or len(df) < 2:
        raise IMUError(f"{path}: {len(df)} rows x {df.shape[1]} columns, need >= 2 x 2")
    stamps = df[0]
    if pd.api.types.is_numeric_dtype(stamps):
        seconds = stamps.to_numpy(np.float64)
    else:
        parsed = pd.to_datetime(stamps, errors="coerce")
        if parsed.isna().any():
            raise IMUError(
                f"{path}: unparseable timestamps, e.g. {stamps[parsed.isna()].iloc[0]!r}"
            )
        seconds = (parsed - parsed.iloc[0]).dt.total_seconds().to_numpy()
    data = df.iloc[:, 1:].to_numpy(np.float32)
    if not np.isfinite(data).all():
        raise IMUError(f"{path}: non-finite values in {int((~np.isfinite(data)).sum())} cells")
    dt = float(np.median(np.diff(seconds)))
    if dt <= 0:
        raise IMUError(f"{path}: timestamps are not increasing")
    axes = "xyz" if data.shape[1] == 3 else [str(i) for i in range(data.shape[1])]
    return data, 1.0 / dt, [f"{name}_{a}" for a in axes]


def read_streams(spec: str) -> list[tuple[np.ndarray, float, list[str]]]:
    """Every stream of a manifest ``imu_path``: a JSON object ``{stream: csv}`` (MMAct),
    a UTD-MHAD ``.mat``, or a CSV with a ``time_s`` column."""
    if spec.lstrip().startswith("{"):
        return [read_timestamped_csv(p, name) for name, p in json.loads(spec).items()]
    if spec.lower().endswith(".mat"):
        return [read_utd_mat(spec)]
    return [read_imu_csv(spec)]


def load_imu(spec: str, rate: float) -> tuple[np.ndarray, list[str], list[float]]:
    """Read every stream, resample each from its own rate to ``rate`` Hz and align them
    at their start (cut to the shortest). Returns ``(data (N, C) float32, channels,
    source rates in Hz)``."""
    streams = read_streams(spec)
    resampled = [resample(data, src, rate) for data, src, _ in streams]
    n = min(len(r) for r in resampled)
    data = np.concatenate([r[:n] for r in resampled], axis=1)
    return data, [c for _, _, chans in streams for c in chans], [src for _, src, _ in streams]
