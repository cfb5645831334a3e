"""A feed of decoded samples: worker threads load ahead while the consumer computes.

The flow and features stages read frame shards whose frames are JPEG bytes; decoding them
one sample after another in the process that computes leaves a GPU waiting. :func:`feed`
runs a per-sample loader (decode, select, resize) in a pool of threads, at most
``prefetch`` samples ahead, and hands the samples over in the order asked for, so the
outputs keep the shard's order and the same input gives the same bytes whatever the
number of workers.

Threads rather than processes: OpenCV's JPEG decoder, colour conversion and resize
release the GIL, so threads decode in parallel, and a decoded sample needs no copy
between processes (``BENCHMARKS.md``, "Feed rate (null compute)", has the figures). HDF5
reads hold the GIL (h5py serialises them), but reading JPEG bytes is a small part of the
work.

When the consumer's device is CUDA (``pin=True``), each sample is copied into page-locked
(pinned) host memory in the worker, so that the consumer's host-to-device copy can run
without blocking (``tensor.to(device, non_blocking=True)``) and overlap compute. On a CPU
pinning would only cost a copy, so the stages pin only for CUDA.

A sample whose loading fails is handed over with its error instead of its array; the
consumer decides (the stages quarantine bad inputs and go on), and the other samples
are unaffected.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harfuse.media.decode import DecodeError
from harfuse.store.shards import ShardReader

if TYPE_CHECKING:
    import torch

#: samples in flight (loading or loaded, not yet taken) per worker when ``prefetch`` is
#: not given: one being decoded and one waiting, so a worker never idles on a slow sample
PREFETCH_PER_WORKER = 2


@dataclass(frozen=True)
class Fed:
    """One sample as the feed hands it over: its array, or the error that stopped it.

    ``array`` is what the loader returned; with ``pin=True`` it lives in pinned memory,
    and ``pinned`` is the same memory as a ``torch.Tensor`` (copy that one to the device
    with ``non_blocking=True``: torch then keeps the buffer until the copy is done).
    """

    sample_id: str
    array: np.ndarray | None = None
    pinned: torch.Tensor | None = None
    error: Exception | None = None

    def get(self) -> np.ndarray:
        """The array; raises the loading error here, in the consumer, when it failed."""
        if self.error is not None:
            raise self.error
        assert self.array is not None
        return self.array


def feed(
    load: Callable[[str], np.ndarray],
    sample_ids: Sequence[str],
    workers: int = 1,
    prefetch: int | None = None,
    pin: bool = False,
) -> Generator[Fed, None, None]:
    """``Fed(sid, load(sid))`` for every ``sid`` of ``sample_ids``, in that order, loaded by
    ``workers`` threads at most ``prefetch`` samples ahead (default
    :data:`PREFETCH_PER_WORKER` per worker), so memory holds about ``prefetch + 1``
    samples. An exception from ``load`` is handed over in :attr:`Fed.error`, not raised.

    Close the generator when stopping early (``contextlib.closing``): that cancels what
    was not started and waits for the samples being loaded.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    depth = PREFETCH_PER_WORKER * workers if prefetch is None else prefetch
    if depth < 1:
        raise ValueError(f"prefetch must be >= 1, got {prefetch}")

    def task(sid: str) -> Fed:
        try:
            array = load(sid)
            if not pin:
                return Fed(sid, array)
            import torch

            tensor = torch.from_numpy(np.ascontiguousarray(array)).pin_memory()
            return Fed(sid, tensor.numpy(), tensor)
        except Exception as exc:  # the consumer decides what an error means
            return Fed(sid, error=exc)

    ids = iter(sample_ids)
    pending: deque[Future[Fed]] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="frame-feed")
    try:
        for sid in ids:
            pending.append(pool.submit(task, sid))
            if len(pending) == depth:
                break
        while pending:
            done = pending.popleft().result()
            nxt = next(ids, None)
            if nxt is not None:  # refill before handing over: workers run while we compute
                pending.append(pool.submit(task, nxt))
            yield done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def decoded_frames(
    reader: ShardReader,
    sample_id: str,
    indices: Sequence[int] | np.ndarray | None = None,
    gray: bool = False,
) -> np.ndarray:
    """Steps ``indices`` (all when ``None``) of ``/{sample_id}/frames`` in that order,
    repeats allowed: ``(n, H, W, 3)`` uint8 RGB, or with ``gray`` ``(n, H, W)`` uint8
    (OpenCV's weights, the same bytes as :func:`harfuse.flow.compute.to_gray` of the RGB
    frames). The bytes of :meth:`ShardReader.read_frames` (and of ``read`` for all
    steps), with two differences the feed needs: of JPEG frames, each decoded step goes
    straight into the output (gray without an RGB copy), and a frame that does not
    decode raises :class:`DecodeError`, a bad input the stages quarantine. An absent
    sample raises ``KeyError`` naming the shard."""
    import cv2

    length = reader.length(sample_id)
    ds = reader.file[sample_id]["frames"]
    if indices is None:
        stored, inverse = ds[()], None
    else:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= length:
            raise IndexError(
                f"{reader.path}: {sample_id}/frames has {length} steps, asked for {idx.tolist()}"
            )
        unique, inverse = np.unique(idx, return_inverse=True)
        stored = ds[unique]  # h5py wants increasing indices
    if len(stored) == 0:
        raise ValueError(f"{reader.path}: {sample_id}/frames holds no frames")
    if ds.attrs.get("encoding") != "jpeg":
        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in stored]) if gray else stored
        return frames if inverse is None else frames[inverse]
    conversion = cv2.COLOR_BGR2GRAY if gray else cv2.COLOR_BGR2RGB
    frames = np.empty(0, np.uint8)
    for i, buf in enumerate(stored):
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if i == 0 and bgr is not None:
            frames = np.empty((len(stored), *bgr.shape[:2], *(() if gray else (3,))), np.uint8)
        if bgr is None or bgr.shape[:2] != frames.shape[1:3]:
            raise DecodeError(f"{reader.path}: {sample_id}/frames: a stored JPEG does not decode")
        cv2.cvtColor(bgr, conversion, dst=frames[i])  # BGR -> RGB or gray, into place
    return frames if inverse is None else frames[inverse]
