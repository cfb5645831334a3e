"""``torch.utils.data.Dataset`` over shards: sample dicts keyed by modality.

A *source* maps a sample id to one modality's array (already fitted to a fixed shape);
:class:`MultiModalDataset` zips sources for a list of samples. Shard files are opened
lazily in each process, so the dataset is safe with DataLoader workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from harfuse.flow.quantize import dequantize
from harfuse.media.sampling import pad_or_truncate, uniform_indices
from harfuse.store.shards import ShardReader, read_feature_shard


class SampleShardSource:
    """One array per sample from per-sample shards, passed through ``fit``."""

    def __init__(
        self,
        shard_paths: Sequence[str | os.PathLike[str]],
        name: str,
        fit: Callable[[np.ndarray, dict], np.ndarray],
    ):
        self.name = name
        self.fit = fit
        self._index: dict[str, ShardReader] = {}
        for path in shard_paths:
            reader = ShardReader(path)
            for sid in reader.sample_ids():
                self._index[sid] = reader
            reader.close()

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index

    def __call__(self, sample_id: str) -> np.ndarray:
        reader = self._index[sample_id]
        return self.fit(reader.read(sample_id, self.name), reader.attrs(sample_id, self.name))


class FeatureSource:
    """Temporal features ``(T, D)`` of a cached frozen encoder (loaded into memory)."""

    def __init__(self, shard_paths: Sequence[str | os.PathLike[str]]):
        self._rows: dict[str, np.ndarray] = {}
        for path in shard_paths:
            shard = read_feature_shard(path)
            for sid, feats in zip(shard["sample_id"], shard["temporal"], strict=True):
                self._rows[sid] = feats.astype(np.float32)

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._rows

    def __call__(self, sample_id: str) -> np.ndarray:
        return self._rows[sample_id]


def fit_flow(stored: np.ndarray, bound: float, length: int) -> np.ndarray:
    """Stored flow ``(T-1, H, W, 2)`` (uint8 codes or float16 px) -> ``(length, H, W, 2)``
    float32 px: ``length`` fields sampled uniformly in time."""
    picked = stored[uniform_indices(len(stored), length)]
    if stored.dtype == np.uint8:
        return dequantize(picked, bound)
    return picked.astype(np.float32)


def fit_audio(mel: np.ndarray, frames: int) -> np.ndarray:
    """Log-mel ``(n_mels, F)`` -> ``(n_mels, frames)`` float32 dB: zero-padded or cut at the end."""
    fitted, _ = pad_or_truncate(mel.T.astype(np.float32), frames)
    return np.ascontiguousarray(fitted.T)


def flow_source(shard_paths: Sequence[str | os.PathLike[str]], length: int) -> SampleShardSource:
    """Flow of each sample fitted by :func:`fit_flow`."""
    return SampleShardSource(
        shard_paths, "flow", lambda codes, attrs: fit_flow(codes, float(attrs["bound"]), length)
    )


def audio_source(shard_paths: Sequence[str | os.PathLike[str]], frames: int) -> SampleShardSource:
    """Log-mel of each sample fitted by :func:`fit_audio`."""
    return SampleShardSource(shard_paths, "audio", lambda mel, attrs: fit_audio(mel, frames))


def imu_source(
    shard_paths: Sequence[str | os.PathLike[str]],
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> SampleShardSource:
    """IMU window ``(T, C)`` float32, as fitted by the IMU stage; with ``mean`` and
    ``std`` (``(C,)``), the valid steps are standardised and the padding stays zero."""

    def fit(x: np.ndarray, attrs: dict) -> np.ndarray:
        return standardise_imu(x, int(attrs["valid_length"]), mean, std)

    return SampleShardSource(shard_paths, "imu", fit)


def standardise_imu(
    x: np.ndarray, valid: int, mean: np.ndarray | None, std: np.ndarray | None
) -> np.ndarray:
    """IMU window ``(T, C)`` as float32 with its first ``valid`` steps standardised by
    ``mean`` and ``std`` ``(C,)`` (unchanged when they are None); padding stays zero."""
    x = x.astype(np.float32)
    if mean is not None and std is not None:
        x[:valid] = (x[:valid] - mean) / std
    return x


def imu_channel_stats(
    shard_paths: Sequence[str | os.PathLike[str]], sample_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation ``(C,)`` over the valid (unpadded) steps
    of ``sample_ids`` only (the training split: test data must not leak into them)."""
    raw = SampleShardSource(shard_paths, "imu", lambda x, attrs: x[: int(attrs["valid_length"])])
    steps = np.concatenate([raw(s).astype(np.float64) for s in sample_ids])
    std = steps.std(axis=0)
    return steps.mean(axis=0).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


class MultiModalDataset(Dataset):
    """``dataset[i]`` is ``{modality: Tensor, ..., "label": int64 Tensor}``."""

    def __init__(
        self,
        sample_ids: Sequence[str],
        labels: Sequence[int],
        sources: dict[str, Callable[[str], np.ndarray]],
    ):
        self.sample_ids = list(sample_ids)
        self.labels = list(labels)
        self.sources = sources

    def __len__(self) -> int:
        return len(self.sample_ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        sid = self.sample_ids[i]
        item = {m: torch.from_numpy(np.asarray(src(sid))) for m, src in self.sources.items()}
        item["label"] = torch.tensor(self.labels[i], dtype=torch.int64)
        return item
