"""``torch.utils.data.Dataset`` over shards: sample dicts keyed by modality.

A *source* maps a sample id to one modality's array (already fitted to a fixed shape by
the modality's ``model_input``, :mod:`harfuse.modalities`); :class:`MultiModalDataset`
zips sources for a list of samples.

Sources stream from the shards: they keep an index (sample id -> shard and row) and read
a sample when asked, so a training job's memory does not grow with the dataset (the OS
page cache keeps what is read often). Each source keeps at most ``max_open`` shard files
open (:class:`OpenFiles`: the least recently read is closed first), opened lazily in each
process, so the sources are safe with DataLoader workers (forked or spawned). With a
``cache_bytes`` budget a source keeps the model inputs it made in memory
(:class:`InputCache`), so later epochs neither read nor transform them again: reading a
sample of a raw modality (HDF5 lookups, its attributes, the transform) cost about as much
as a tiny model's step on it.
"""

from __future__ import annotations

import copy
import io
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from harfuse.store.shards import SampleArrays, ShardReader, decode_jpeg

#: shard files a source keeps open at most, per process
MAX_OPEN = 16

_K = TypeVar("_K", bound=Hashable)
_F = TypeVar("_F")


class OpenFiles(Generic[_K, _F]):
    """Files opened by ``opener`` (from a key: a path, a shard number) on first use in a
    process, at most ``max_open`` at once: opening one more closes the least recently
    used. In a forked process (a DataLoader worker) the parent's files are closed there
    (its copies only) and opened again on use; pickled (a spawned worker), it carries no
    file. For one thread per process (a file it closes may be another thread's)."""

    def __init__(self, opener: Callable[[_K], _F], max_open: int = MAX_OPEN):
        if max_open < 1:
            raise ValueError(f"max_open must be >= 1, got {max_open}")
        self.opener = opener
        self.max_open = int(max_open)
        self._files: OrderedDict[_K, _F] = OrderedDict()
        self._pid = os.getpid()
        #: files opened in this process so far (tests and benchmarks count them)
        self.opened = 0

    def get(self, key: _K) -> _F:
        """The open file of ``key``, opened now if it is not (closing the least recently
        used one when ``max_open`` are open)."""
        if self._pid != os.getpid():
            self.close()
            self._pid, self.opened = os.getpid(), 0
        file = self._files.get(key)
        if file is not None:
            self._files.move_to_end(key)
            return file
        while len(self._files) >= self.max_open:
            self._files.popitem(last=False)[1].close()  # type: ignore[attr-defined]
        file = self._files[key] = self.opener(key)
        self.opened += 1
        return file

    def __len__(self) -> int:
        """Files open now (in the process that last used them)."""
        return len(self._files)

    def close(self) -> None:
        """Close every open file."""
        while self._files:
            self._files.popitem()[1].close()  # type: ignore[attr-defined]

    def __getstate__(self) -> dict[str, Any]:
        return {"opener": self.opener, "max_open": self.max_open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["opener"], state["max_open"])  # type: ignore[misc]


def _open_hdf5(path: Path) -> h5py.File:
    """``path`` opened read-only (a picklable opener)."""
    return h5py.File(path, "r")


class _PooledReader(ShardReader):
    """A :class:`ShardReader` whose file comes from a source's :class:`OpenFiles` (which
    closes it), not kept open by the reader itself."""

    def __init__(self, path: str | os.PathLike[str], files: OpenFiles[Path, h5py.File]):
        super().__init__(path)
        self._files = files

    @property
    def file(self) -> h5py.File:
        return self._files.get(self.path)

    def read_stored(self, sample_id: str, name: str) -> tuple[np.ndarray, dict[str, Any]]:
        """``/{sample_id}/{name}`` and its attributes: what :meth:`read` and :meth:`attrs`
        return, looking the dataset up once."""
        ds = self._dataset(sample_id, name)
        attrs = dict(ds.attrs)
        if attrs.get("encoding") == "jpeg":
            return np.stack([decode_jpeg(buf) for buf in ds[()]]), attrs
        return ds[()], attrs

    def close(self) -> None:
        """Nothing to do: the :class:`OpenFiles` closes the file."""

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_files": self._files}


class SampleShardSource:
    """One model input per sample from per-sample shards: the sample's ``arrays`` (names
    in its shard group, the modality's first) as stored, passed through ``transform`` (a
    function of the stored arrays alone: its results are kept). Reads the sample's group
    when asked, keeping at most ``max_open`` shards open; holds the index (sample id ->
    shard) and, with ``cache_bytes``, the inputs made so far up to that many bytes
    (:class:`InputCache`)."""

    def __init__(
        self,
        shard_paths: Sequence[str | os.PathLike[str]],
        arrays: Sequence[str],
        transform: Callable[[SampleArrays], np.ndarray],
        max_open: int = MAX_OPEN,
        cache_bytes: int = 0,
    ):
        self.arrays = tuple(arrays)
        self.transform = transform
        self.cache = InputCache(cache_bytes)
        self.files: OpenFiles[Path, h5py.File] = OpenFiles(_open_hdf5, max_open)
        self._index: dict[str, _PooledReader] = {}
        for path in shard_paths:
            reader = _PooledReader(path, self.files)
            for sid in reader.sample_ids():
                self._index[sid] = reader
        self.files.close()  # nothing stays open in the process that forks the workers

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index

    def sample_ids(self) -> list[str]:
        """Every sample the shards hold, in shard order."""
        return list(self._index)

    def __call__(self, sample_id: str) -> np.ndarray:
        value = self.cache.get(sample_id)
        if value is None:
            value = self.cache.keep(sample_id, self.transform(self.stored(sample_id)))
        return value

    def stored(self, sample_id: str) -> SampleArrays:
        """The sample's arrays as the shard stores them, with their attributes."""
        reader = self._index[sample_id]
        return {a: reader.read_stored(sample_id, a) for a in self.arrays}

    def attrs(self, sample_id: str, name: str) -> dict[str, Any]:
        """The attributes of the sample's array ``name``, without reading the array."""
        return self._index[sample_id].attrs(sample_id, name)

    def with_transform(self, transform: Callable[[SampleArrays], np.ndarray]):
        """The same samples (no shard is indexed again; the open files are shared) through
        another ``transform``, with a cache of its own (same budget)."""
        other = copy.copy(self)
        other.transform = transform
        other.cache = InputCache(self.cache.max_bytes)
        return other


@dataclass(frozen=True)
class RowLayout:
    """Where the rows of a feature shard's ``/temporal`` ``(N, T, D)`` lie in its file:
    stored contiguous and unfiltered (as :meth:`ShardWriter.write_stacked` writes it),
    row ``i`` is ``nbytes`` bytes at ``offset + i * nbytes`` (bytes from the file's
    start), ``dtype`` values of ``shape`` ``(T, D)``."""

    offset: int
    nbytes: int
    dtype: np.dtype
    shape: tuple[int, ...]

    @classmethod
    def of(cls, ds: h5py.Dataset) -> RowLayout | None:
        """The layout of ``ds``; None when its rows cannot be read as plain bytes
        (chunked or filtered storage, no storage allocated, a non-numeric type), or when
        its first row so read differs from HDF5's."""
        offset = ds.id.get_offset()
        if offset is None or ds.chunks is not None or ds.dtype.kind not in "fiu" or not len(ds):
            return None
        shape = tuple(int(n) for n in ds.shape[1:])
        nbytes = int(np.prod(shape, dtype=np.int64)) * ds.dtype.itemsize
        layout = cls(int(offset), nbytes, ds.dtype, shape)
        with io.FileIO(ds.file.filename, "r") as raw:
            same = layout.read(raw, 0).tobytes() == np.asarray(ds[0], ds.dtype).tobytes()
        return layout if same else None

    def read(self, raw: io.FileIO, row: int) -> np.ndarray:
        """Row ``row`` ``(T, D)`` of the open file ``raw`` (one ``pread``: no HDF5 call,
        the bytes HDF5 would return)."""
        buf = os.pread(raw.fileno(), self.nbytes, self.offset + row * self.nbytes)
        if len(buf) != self.nbytes:
            raise OSError(f"{raw.name}: row {row} ends past the end of the file")
        return np.frombuffer(buf, self.dtype).reshape(self.shape)


class InputCache:
    """Model inputs by sample id, kept once made, up to ``max_bytes`` of array data in all
    (0 = none kept). The first inputs made stay and none replaces them: with a dataset
    larger than the budget, every epoch serves the same part of it from memory and reads
    the rest, with no churn (an LRU over shuffled epochs would drop what it keeps before
    reusing it). Kept arrays are read-only, so no consumer can change a later epoch's
    input. A pickled copy (a spawned loader worker) starts empty, with the same budget."""

    def __init__(self, max_bytes: int = 0):
        self.max_bytes = max(0, int(max_bytes))
        #: bytes of the arrays kept
        self.nbytes = 0
        self._values: dict[Hashable, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: Hashable) -> np.ndarray | None:
        """The kept input of ``key``, None when it is not kept."""
        return self._values.get(key)

    def keep(self, key: Hashable, value: np.ndarray) -> np.ndarray:
        """``value``, kept when its bytes fit what is left of the budget: then the kept
        array (its own copy when ``value`` is a view of a larger one), read-only."""
        if self.nbytes + value.nbytes > self.max_bytes or key in self._values:
            return value
        if value.base is not None:  # a view holds its base alive: keep only its bytes
            value = value.copy()
        value.flags.writeable = False
        self._values[key] = value
        self.nbytes += value.nbytes
        return value

    def __getstate__(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_bytes"])  # type: ignore[misc]


@dataclass(frozen=True)
class _FeatureShards:
    """Opens feature shard ``k`` of ``paths``: as plain bytes when its rows have a
    :class:`RowLayout` (``layouts[k]``), else as HDF5."""

    paths: tuple[Path, ...]
    layouts: tuple[RowLayout | None, ...]

    def __call__(self, k: int) -> io.FileIO | h5py.File:
        path = self.paths[k]
        return io.FileIO(path, "r") if self.layouts[k] is not None else h5py.File(path, "r")


class FeatureSource:
    """Temporal features ``(T, D)`` float32 of a cached frozen encoder, read from the
    feature shards (``/temporal`` ``(N, T, D)``, :mod:`harfuse.store.shards`) one row at a
    time when asked: the values ``read_feature_shard`` gives, without loading the shards.

    Holds the index (sample id -> shard, row), at most ``max_open`` open shard files and,
    with ``cache_bytes``, the samples read so far up to that many bytes
    (:class:`InputCache`). Rows of contiguous storage (what the features stage writes) are
    read with one ``pread`` each (:class:`RowLayout`); others through HDF5."""

    def __init__(
        self,
        shard_paths: Sequence[str | os.PathLike[str]],
        max_open: int = MAX_OPEN,
        cache_bytes: int = 0,
    ):
        paths = tuple(Path(p) for p in shard_paths)
        self._index: dict[str, tuple[int, int]] = {}
        layouts = []
        for k, path in enumerate(paths):
            with h5py.File(path, "r") as f:
                ids = f["sample_id"][()]
                layouts.append(RowLayout.of(f["temporal"]))
            for row, sid in enumerate(ids):
                self._index[sid.decode() if isinstance(sid, bytes) else str(sid)] = (k, row)
        self._shards = _FeatureShards(paths, tuple(layouts))
        self.files: OpenFiles[int, io.FileIO | h5py.File] = OpenFiles(self._shards, max_open)
        self.cache = InputCache(cache_bytes)

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index

    def sample_ids(self) -> list[str]:
        """Every sample the shards hold, in shard order."""
        return list(self._index)

    def __call__(self, sample_id: str) -> np.ndarray:
        """The sample's features ``(T, D)`` float32 (read-only when kept)."""
        feats = self.cache.get(sample_id)
        if feats is None:
            k, row = self._index[sample_id]
            file, layout = self.files.get(k), self._shards.layouts[k]
            stored = file["temporal"][row] if layout is None else layout.read(file, row)
            feats = stored.astype(np.float32)  # a copy, writable (the bytes read are not)
            feats = self.cache.keep(sample_id, feats)
        return feats


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
        item = {m: _tensor(src(sid)) for m, src in self.sources.items()}
        item["label"] = torch.tensor(self.labels[i], dtype=torch.int64)
        return item


def _tensor(value: np.ndarray) -> torch.Tensor:
    """``value`` as a tensor, sharing its memory unless it is read-only (a kept input:
    torch cannot promise not to write to it, so it gets a copy)."""
    array = np.asarray(value)
    return torch.from_numpy(array if array.flags.writeable else array.copy())
