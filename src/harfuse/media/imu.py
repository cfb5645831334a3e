"""IMU: read CSV streams, resample to the target rate, fit to a fixed window."""

from __future__ import annotations

import json
import re
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


#: MMAct's timestamp text, ``20181109_13:42:51.321``; the fraction is sometimes absent
_MMACT_STAMP = re.compile(r"^\d{8}_\d{2}:\d{2}:\d{2}(\.\d+)?$")
_MMACT_FORMAT = "%Y%m%d_%H:%M:%S.%f"


def timestamp_seconds(stamps: pd.Series, path: str | Path) -> np.ndarray:
    """Seconds (float64) of a timestamp column: numbers of seconds, MMAct's
    ``%Y%m%d_%H:%M:%S[.%f]`` text, or ISO 8601 date-time text (with or without a
    fraction). Date-times count from the earliest. :class:`IMUError` naming the first row
    that does not parse."""
    if pd.api.types.is_numeric_dtype(stamps):
        return stamps.to_numpy(np.float64)
    text = stamps.astype(str).str.strip()
    if text.str.match(_MMACT_STAMP).all():
        with_fraction = text.where(text.str.contains(".", regex=False), text + ".0")
        parsed = pd.to_datetime(with_fraction, format=_MMACT_FORMAT, errors="coerce")
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise IMUError(
            f"{path}: row {row + 1}: timestamp {stamps.iloc[row]!r} is neither seconds, "
            "YYYYmmdd_HH:MM:SS[.fff] nor ISO 8601 date-time text"
        )
    return (parsed - parsed.min()).dt.total_seconds().to_numpy()


def regular_samples(seconds: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, float]:
    """Samples ``data`` ``(N, C)`` taken at ``seconds`` (any order, repeats allowed) on a
    regular grid: rows sorted by time, the rows of a repeated timestamp averaged, then
    linear interpolation at the median interval from the first timestamp. Returns
    ``(data (M, C) float32, rate_hz)``; ``M`` is 0 when fewer than 2 distinct times."""
    times, inverse = np.unique(seconds, return_inverse=True)
    if len(times) < 2:
        return data[:0], 0.0
    sums = np.zeros((len(times), data.shape[1]), np.float64)
    np.add.at(sums, inverse, data)
    mean = sums / np.bincount(inverse, minlength=len(times))[:, None]
    dt = float(np.median(np.diff(times)))
    grid = times[0] + dt * np.arange(int(np.floor((times[-1] - times[0]) / dt + 1e-6)) + 1)
    regular = np.stack([np.interp(grid, times, mean[:, c]) for c in range(mean.shape[1])], 1)
    return regular.astype(np.float32), 1.0 / dt


def read_timestamped_csv(path: str | Path, name: str) -> tuple[np.ndarray, float, list[str]]:
    """Headerless ``timestamp,x,y,z`` rows (MMAct); timestamps as in
    :func:`timestamp_seconds`. Rows may be out of order and a timestamp may repeat (as in
    MMAct's released files): :func:`regular_samples` puts them on a regular grid. Channels
    are named ``{name}_x`` etc.; the rate is the median interval's inverse."""
    try:
        df = pd.read_csv(path, header=None)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise IMUError(f"{path}: not a readable CSV: {exc}") from exc
    if df.shape[1] < 2 or len(df) < 2:
        raise IMUError(f"{path}: {len(df)} rows x {df.shape[1]} columns, need >= 2 x 2")
    seconds = timestamp_seconds(df[0], path)
    try:
        values = df.iloc[:, 1:].to_numpy(np.float32)
    except ValueError as exc:
        raise IMUError(f"{path}: a value column is not numeric: {exc}") from exc
    if not np.isfinite(values).all():
        raise IMUError(f"{path}: non-finite values in {int((~np.isfinite(values)).sum())} cells")
    data, rate = regular_samples(seconds, values)
    if len(data) < 2:
        raise IMUError(f"{path}: fewer than 2 distinct timestamps")
    axes = "xyz" if data.shape[1] == 3 else [str(i) for i in range(data.shape[1])]
    return data, rate, [f"{name}_{a}" for a in axes]


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
