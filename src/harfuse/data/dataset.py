"""``torch.utils.data.Dataset`` over shards: sample dicts keyed by modality.

A *source* maps a sample id to one modality's array (already fitted to a fixed shape);
:class:`MultiModalDataset` zips sources for a list of samples. Shard files are opened
lazily in each process, so the dataset is safe with DataLoader workers.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from harfuse.flow.quantize import dequantize
from harfuse.media.sampling import pad_or_truncate, uniform_indices
from harfuse.preprocess.skeleton import skeleton_input
from harfuse.store.shards import ShardReader, read_feature_shard


class SampleShardSource:
    """One array per sample from per-sample shards, passed through ``transform``."""

    def __init__(
        self,
        shard_paths: Sequence[str | os.PathLike[str]],
        name: str,
        transform: Callable[[np.ndarray, dict], np.ndarray],
    ):
        self.name = name
        self.transform = transform
        self._index: dict[str, ShardReader] = {}
        for path in shard_paths:
            reader = ShardReader(path)
            for sid in reader.sample_ids():
                self._index[sid] = reader
            reader.close()

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index

    def __call__(self, sample_id: str) -> np.ndarray:
        return self.transform(*self.stored(sample_id))

    def stored(self, sample_id: str) -> tuple[np.ndarray, dict]:
        """The array as the shard stores it, and its attributes."""
        reader = self._index[sample_id]
        return reader.read(sample_id, self.name), reader.attrs(sample_id, self.name)

    def with_transform(self, transform: Callable[[np.ndarray, dict], np.ndarray]):
        """The same samples (no shard is opened again) through another ``transform``."""
        other = copy.copy(self)
        other.transform = transform
        return other


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


def flow_input(
    stored: np.ndarray, bound: float, length: int, size: Sequence[int] | None = None
) -> np.ndarray:
    """Stored flow ``(T-1, H, W, 2)`` (uint8 codes or float16 px) -> ``(length, h, w, 2)``
    float32 px: ``length`` fields sampled uniformly in time, then fitted to ``size =
    [h, w]`` by :func:`fit_flow` (``None``: as stored)."""
    picked = stored[uniform_indices(len(stored), length)]
    flow = dequantize(picked, bound) if stored.dtype == np.uint8 else picked.astype(np.float32)
    return flow if size is None else fit_flow(flow, (int(size[0]), int(size[1])))


def fit_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Flow fields ``(T, H, W, 2)`` float32 px -> ``(T, h, w, 2)``: scaled (bilinear) just
    enough to cover ``h x w`` with the aspect ratio kept, then centre-cropped, as frames are
    for a CNN. The vectors are scaled with the image, so they stay in pixels of the fitted
    frame. Fields already ``h x w`` are returned unchanged (no copy, no arithmetic)."""
    import cv2

    t, height, width, _ = flow.shape
    h, w = size
    if (height, width) == (h, w):
        return flow
    scale = max(h / height, w / width)
    new_h, new_w = max(h, round(height * scale)), max(w, round(width * scale))
    if (new_h, new_w) != (height, width):
        resized = np.empty((t, new_h, new_w, 2), np.float32)
        for i in range(t):
            resized[i] = cv2.resize(flow[i], (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        resized[..., 0] *= new_w / width
        resized[..., 1] *= new_h / height
        flow = resized
    top, left = (new_h - h) // 2, (new_w - w) // 2
    return np.ascontiguousarray(flow[:, top : top + h, left : left + w])


def audio_input(mel: np.ndarray, frames: int) -> np.ndarray:
    """Log-mel ``(n_mels, F)`` -> ``(n_mels, frames)`` float32 dB: zero-padded or cut at the end."""
    fitted, _ = pad_or_truncate(mel.T.astype(np.float32), frames)
    return np.ascontiguousarray(fitted.T)


def flow_source(
    shard_paths: Sequence[str | os.PathLike[str]], length: int, size: Sequence[int] | None
) -> SampleShardSource:
    """Flow of each sample made a model input by :func:`flow_input`."""
    return SampleShardSource(
        shard_paths,
        "flow",
        lambda codes, attrs: flow_input(codes, float(attrs["bound"]), length, size),
    )


def audio_source(shard_paths: Sequence[str | os.PathLike[str]], frames: int) -> SampleShardSource:
    """Log-mel of each sample made a model input by :func:`audio_input`."""
    return SampleShardSource(shard_paths, "audio", lambda mel, attrs: audio_input(mel, frames))


def imu_source(
    shard_paths: Sequence[str | os.PathLike[str]] | SampleShardSource,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> SampleShardSource:
    """IMU window ``(T, C)`` float32, as fitted by the IMU stage; with ``mean`` and
    ``std`` (``(C,)``), the valid steps are standardised and the padding stays zero.
    Given an IMU source instead of paths, its shards are not indexed again."""

    def standardised(x: np.ndarray, attrs: dict) -> np.ndarray:
        return standardise_imu(x, int(attrs["valid_length"]), mean, std)

    if isinstance(shard_paths, SampleShardSource):
        return shard_paths.with_transform(standardised)
    return SampleShardSource(shard_paths, "imu", standardised)


class SkeletonSource(SampleShardSource):
    """Skeleton of each sample (stored by the skeleton or the pose stage) with its
    ``detected`` mask, made a model input ``(length, M, J, C)`` by
    :func:`~harfuse.preprocess.skeleton.skeleton_input`."""

    def __init__(self, shard_paths: Sequence[str | os.PathLike[str]], length: int):
        super().__init__(shard_paths, "skeleton", lambda joints, attrs: joints)
        self.length = length

    def __call__(self, sample_id: str) -> np.ndarray:
        joints, attrs = self.stored(sample_id)
        detected = self._index[sample_id].read(sample_id, "detected")
        return skeleton_input(joints, detected, attrs, self.length)


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
    shard_paths: Sequence[str | os.PathLike[str]] | SampleShardSource, sample_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation ``(C,)`` over the valid (unpadded) steps
    of ``sample_ids`` only (the training split: test data must not leak into them), from
    the IMU shards or an IMU source over them."""
    source = (
        shard_paths
        if isinstance(shard_paths, SampleShardSource)
        else SampleShardSource(shard_paths, "imu", lambda x, attrs: x)
    )
    windows = (source.stored(s) for s in sample_ids)
    steps = np.concatenate([x[: int(a["valid_length"])].astype(np.float64) for x, a in windows])
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
