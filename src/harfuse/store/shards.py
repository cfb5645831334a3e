"""HDF5 shards: one group per sample, one dataset per array, provenance as attributes.

Layout of ``shard-{k}.h5``::

    /                    attrs: stage, params (JSON), harfuse_version
    /{sample_id}/{name}  array, chunked along time and gzip-compressed; attrs per array

Feature shards (the features stage, with :meth:`ShardWriter.write_stacked`) hold stacked
arrays instead::

    /sample_id           (N,) str, manifest order
    /pooled              (N, D) float32
    /temporal            (N, T, D) float32
"""

from __future__ import annotations

import json
import os
import zlib
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

import harfuse
from harfuse.store.atomic import atomic_path

_STR = h5py.string_dtype()
#: one sample as a shard stores it: ``{array name: (array, attrs)}``
SampleArrays = dict[str, tuple[np.ndarray, dict[str, Any]]]


def _chunks(shape: tuple[int, ...], target_bytes: int, itemsize: int) -> tuple[int, ...] | None:
    """Chunk along the first (time) axis: whole steps, about ``target_bytes`` per chunk."""
    if not shape or 0 in shape:
        return None
    step = int(np.prod(shape[1:], dtype=np.int64)) * itemsize
    return (max(1, min(shape[0], target_bytes // max(step, 1))), *shape[1:])


def encode_jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> JPEG bytes as a ``(N,)`` uint8 array (OpenCV's quality scale)."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for a {rgb.shape} frame")
    return encoded.reshape(-1)


def decode_jpeg(buf: np.ndarray) -> np.ndarray:
    """JPEG bytes -> ``(H, W, 3)`` uint8 RGB; ``ValueError`` (a bad input to the stages,
    which quarantine the sample) when the bytes do not decode."""
    import cv2

    rgb = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if rgb is None:
        raise ValueError(f"a stored JPEG frame ({buf.size} bytes) does not decode")
    return rgb[..., ::-1]


def _write_jpeg(group: h5py.Group, name: str, frames: np.ndarray, quality: int) -> h5py.Dataset:
    """``(T, H, W, 3)`` uint8 RGB -> a ``(T,)`` dataset of JPEG byte strings."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"JPEG storage takes (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}"
        )
    ds = group.create_dataset(name, (len(frames),), dtype=h5py.vlen_dtype(np.uint8))
    for i, rgb in enumerate(frames):
        ds[i] = encode_jpeg(rgb, quality)
    ds.attrs["encoding"] = "jpeg"
    ds.attrs["jpeg_quality"] = quality
    return ds


#: root attribute of flow and feature shards: the ``params`` of the frame shard they read
FRAMES_PARAMS = "frames_params"


def encode_params(params: dict[str, Any]) -> str:
    """How a shard stores the parameters that made it (its ``params`` attribute, and the
    frame shard's ``params`` under :data:`FRAMES_PARAMS` in shards computed from frames):
    JSON with sorted keys."""
    return json.dumps(params, sort_keys=True, default=str)


def _read_jpeg(ds: h5py.Dataset) -> np.ndarray:
    """Decode a JPEG frame dataset back to ``(T, H, W, 3)`` uint8 RGB."""
    return np.stack([decode_jpeg(buf) for buf in ds[()]])


#: gzip level of every compressed array (BENCHMARKS.md: level 1 is the knee)
GZIP_LEVEL = 1


def deflated_chunk(block: np.ndarray, chunk_steps: int, shuffle: bool) -> bytes:
    """One chunk as HDF5's filter pipeline stores it with ``shuffle`` (byte-shuffle) then
    ``gzip`` (zlib's deflate) at :data:`GZIP_LEVEL`: ``block`` (up to ``chunk_steps`` time
    steps) padded with zeros to a whole chunk, as HDF5 stores an edge chunk. Plain h5py
    reads it back through its own gzip filter. zlib releases the GIL, so threads compress
    chunks side by side."""
    if len(block) < chunk_steps:
        pad = np.zeros((chunk_steps - len(block), *block.shape[1:]), block.dtype)
        block = np.concatenate([block, pad])
    raw = np.ascontiguousarray(block)
    if shuffle:  # byte k of every element together, for k = 0..itemsize-1
        data = raw.view(np.uint8).reshape(-1, raw.dtype.itemsize).T.tobytes()
    else:
        data = raw.tobytes()
    return zlib.compress(data, GZIP_LEVEL)


class ShardWriter:
    """Write a shard atomically: nothing appears under ``path`` until :meth:`close`.

    Use as a context manager; an exception inside the block discards the shard.
    With ``compress_threads``, the chunks of gzip-compressed arrays are compressed by that
    many threads while the caller goes on (:func:`deflated_chunk`), and written as they
    finish (``write_direct_chunk``): h5py serialises its calls under one lock, so its own
    filter would compress one chunk at a time, on the caller's thread.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        stage: str,
        params: dict[str, Any],
        compress_threads: int = 0,
    ):
        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._file = h5py.File(self._tmp, "w")
        self._file.attrs["stage"] = stage
        self._file.attrs["params"] = encode_params(params)
        self._file.attrs["harfuse_version"] = harfuse.__version__
        self._pool = ThreadPoolExecutor(compress_threads) if compress_threads > 0 else None
        #: chunks being compressed, oldest first: (dataset, offset, compressed bytes)
        self._pending: deque[tuple[h5py.Dataset, tuple[int, ...], Future[bytes]]] = deque()
        #: how many chunks may wait compressed or compressing (bounds the memory held)
        self._max_pending = 8 * max(compress_threads, 1)

    def write(
        self,
        sample_id: str,
        name: str,
        array: np.ndarray,
        attrs: dict[str, Any] | None = None,
        jpeg_quality: int | None = None,
    ) -> None:
        """Store ``array`` as ``/{sample_id}/{name}`` with ``attrs``.

        Arrays are gzip-compressed (level 1: BENCHMARKS.md) in chunks of whole time steps.
        With ``jpeg_quality``, a ``(T, H, W, 3)`` uint8 RGB array is stored as one JPEG per
        step instead (lossy, several times smaller); :meth:`ShardReader.read` decodes it.
        """
        group = self._file.require_group(sample_id)
        if jpeg_quality is not None:
            ds = _write_jpeg(group, name, array, jpeg_quality)
        else:
            chunks = _chunks(array.shape, 1 << 20, array.dtype.itemsize)
            shuffle = bool(chunks) and array.dtype.itemsize > 1
            ds = group.create_dataset(
                name,
                shape=array.shape,
                dtype=array.dtype,
                data=None if chunks and self._pool else array,
                chunks=chunks,
                compression="gzip" if chunks else None,
                compression_opts=GZIP_LEVEL if chunks else None,
                shuffle=shuffle,
            )
            if chunks and self._pool:
                self._compress(ds, array, chunks[0], shuffle)
        for key, value in (attrs or {}).items():
            ds.attrs[key] = value

    def _compress(self, ds: h5py.Dataset, array: np.ndarray, steps: int, shuffle: bool) -> None:
        """Queue ``array``'s chunks of ``steps`` time steps for the compressing threads,
        writing those already done; waits only when too many are pending."""
        zeros = (0,) * (array.ndim - 1)
        for start in range(0, len(array), steps):
            block = array[start : start + steps]
            job = self._pool.submit(deflated_chunk, block, steps, shuffle)
            self._pending.append((ds, (start, *zeros), job))
        self._flush(self._max_pending)

    def _flush(self, keep: int = 0) -> None:
        """Write compressed chunks, oldest first: every finished one, and as many more
        (waiting for them) as leaves at most ``keep`` pending."""
        while self._pending and (len(self._pending) > keep or self._pending[0][2].done()):
            ds, offset, job = self._pending.popleft()
            ds.id.write_direct_chunk(offset, job.result())

    def write_stacked(self, name: str, array: np.ndarray) -> None:
        """Store a whole ``(N, ...)`` array (feature shards)."""
        if array.dtype.kind in "UO":
            self._file.create_dataset(name, data=array.astype(object), dtype=_STR)
        else:
            self._file.create_dataset(name, data=array)

    def set_attr(self, key: str, value: Any) -> None:
        """Set a root attribute (provenance that is not part of ``params``)."""
        self._file.attrs[key] = value

    def close(self) -> None:
        """Finish the file and move it onto its final name; a file that cannot be
        finished (its last writes fail: a full disk) is discarded."""
        try:
            self._flush()
            self._stop_pool()
        except BaseException as exc:  # a chunk that failed to compress or write
            self.abort(exc)
            raise
        try:
            self._file.close()
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._ctx.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        """Discard the partial file (even when closing it fails as well)."""
        self._pending.clear()
        try:
            self._stop_pool()
            self._file.close()
        finally:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)

    def _stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


class ShardReader:
    """Read a per-sample shard. Opens the file lazily, once per process (fork-safe)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid = -1

    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    @property
    def params(self) -> dict[str, Any]:
        """The ``params`` that made this shard."""
        return json.loads(self.file.attrs["params"])

    def sample_ids(self) -> list[str]:
        """Samples stored in this shard."""
        return list(self.file.keys())

    def _dataset(self, sample_id: str, name: str) -> h5py.Dataset:
        try:
            return self.file[sample_id][name]
        except KeyError:
            raise KeyError(f"{self.path}: no {sample_id}/{name}") from None

    def read(self, sample_id: str, name: str) -> np.ndarray:
        """The array ``/{sample_id}/{name}`` (JPEG frames decoded); ``KeyError`` names the
        shard if absent."""
        ds = self._dataset(sample_id, name)
        return _read_jpeg(ds) if ds.attrs.get("encoding") == "jpeg" else ds[()]

    def length(self, sample_id: str, name: str = "frames") -> int:
        """Time steps of ``/{sample_id}/{name}`` (frames of a clip), without reading them."""
        return len(self._dataset(sample_id, name))

    def read_frames(
        self, sample_id: str, indices: Sequence[int] | np.ndarray, name: str = "frames"
    ) -> np.ndarray:
        """Steps ``indices`` of ``/{sample_id}/{name}`` in that order (repeats allowed):
        ``(len(indices), ...)``, e.g. ``(n, H, W, 3)`` uint8 frames. Only those steps are
        read, and of JPEG frames only those are decoded (a clip of 8 frames out of a long
        video costs 8 decodes, not one per stored frame)."""
        ds = self._dataset(sample_id, name)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise ValueError(f"{self.path}: no indices given for {sample_id}/{name}")
        if idx.min() < 0 or idx.max() >= len(ds):
            raise IndexError(
                f"{self.path}: {sample_id}/{name} has {len(ds)} steps, asked for "
                f"{idx.min()}..{idx.max()}"
            )
        unique, inverse = np.unique(idx, return_inverse=True)
        first, last = int(unique[0]), int(unique[-1])
        # h5py reads a slice faster than a point selection, and wants increasing indices
        stored = ds[first : last + 1] if last - first + 1 == len(unique) else ds[unique]
        if ds.attrs.get("encoding") == "jpeg":
            stored = np.stack([decode_jpeg(buf) for buf in stored])
        return stored[inverse]

    def attrs(self, sample_id: str, name: str) -> dict[str, Any]:
        """Attributes of ``/{sample_id}/{name}``."""
        return dict(self.file[sample_id][name].attrs)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_file": None, "_pid": -1}


def read_feature_shard(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a feature shard: ``sample_id`` list, ``pooled`` ``(N, D)``, ``temporal``
    ``(N, T, D)`` and the root attributes."""
    with h5py.File(path, "r") as f:
        return {
            "sample_id": [s.decode() if isinstance(s, bytes) else s for s in f["sample_id"][()]],
            "pooled": f["pooled"][()],
            "temporal": f["temporal"][()],
            "attrs": dict(f.attrs),
        }
