"""``torch.utils.data.Dataset`` over shards: sample dicts keyed by modality.

A *source* maps a sample id to one modality's array (already fitted to a fixed shape by
the modality's ``model_input``, :mod:`harfuse.modalities`); :class:`MultiModalDataset`
zips sources for a list of samples. Shard files are opened lazily in each process, so the
dataset is safe with DataLoader workers.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from harfuse.store.shards import SampleArrays, ShardReader, read_feature_shard


class SampleShardSource:
    """One model input per sample from per-sample shards: the sample's ``arrays`` (names
    in its shard group, the modality's first) as stored, passed through ``transform``."""

    def __init__(
        self,
        shard_paths: Sequence[str | os.PathLike[str]],
        arrays: Sequence[str],
        transform: Callable[[SampleArrays], np.ndarray],
    ):
        self.arrays = tuple(arrays)
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
        return self.transform(self.stored(sample_id))

    def stored(self, sample_id: str) -> SampleArrays:
        """The sample's arrays as the shard stores them, with their attributes."""
        reader = self._index[sample_id]
        return {a: (reader.read(sample_id, a), reader.attrs(sample_id, a)) for a in self.arrays}

    def with_transform(self, transform: Callable[[SampleArrays], np.ndarray]):
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
