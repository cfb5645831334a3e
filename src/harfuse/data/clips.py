"""Clips of frames read from the frame shards, and the loader that keeps training fed.

:class:`FrameClipSource` maps a sample id to a clip ``(num_frames, h, w, 3)`` uint8 RGB for
fine-tuning a backbone end to end (a source for :class:`~harfuse.data.dataset.
MultiModalDataset`). Clips stay uint8 until the model: 4x less to copy between processes
and to the GPU than float32; the model scales and normalises them.

Time (SlowFast / mmaction2 ``SampleFrames`` style, on the frames as stored: the frames
stage has already sampled them at ``frames.fps``, so consecutive stored frames are
``1 / fps`` s apart; with ``frames.num_frames`` set they are that many spread over the
whole video, and a window of as many frames is the whole video, repeated in every
epoch: leave ``frames.num_frames`` null for fine-tuning):

- train: a window of ``num_frames`` consecutive frames at a random offset (I3D-style
  dense sampling; a clip CNN sees real motion, a per-frame CNN a random second or two).
- eval: ``clips`` windows whose starts are the centres of ``clips`` equal parts of the
  possible starts; one clip is the centre window. The model averages over clips.
- a video with fewer frames than ``num_frames``: frames repeated as
  :func:`~harfuse.media.sampling.uniform_indices` does (every mode, no random offset).

Space: the frame is scaled so that its short side covers the crop ``size = (h, w)``
(aspect kept), then cropped. Train: the scale is multiplied by a factor uniform in
``[1, SCALE_JITTER]``, the crop is placed at random and the clip flipped left-right with
probability 1/2; eval: the centre crop at the covering scale. The crop box is chosen in
the stored frame and only the box is resized (area interpolation when shrinking, bilinear
when enlarging), so a frame is never resized whole. Only the frames a clip uses are read
and decoded (:meth:`ShardReader.read_frames`).

Random draws come from torch's RNG (``torch.randint``, ``torch.rand``): in DataLoader
workers from each worker's stream, seeded by the loader (:func:`clip_loader`), so a run
is reproducible for a seed and a worker count; with ``workers=0`` from the main
process's stream, seeded by the caller (``harfuse.train.loop.seed_everything``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler

from harfuse.data.dataset import MAX_OPEN, OpenFiles
from harfuse.media.sampling import uniform_indices
from harfuse.store.shards import ShardReader

#: train-time scale jitter: the covering scale times a factor uniform in [1, SCALE_JITTER]
SCALE_JITTER = 1.25


def window_indices(length: int, num_frames: int, start: int) -> np.ndarray:
    """``num_frames`` consecutive frame indices from ``start`` in a video of ``length``
    frames; a shorter video gives :func:`uniform_indices` (frames repeated)."""
    if length < num_frames:
        return uniform_indices(length, num_frames)
    if not 0 <= start <= length - num_frames:
        raise ValueError(f"window start {start} outside 0..{length - num_frames}")
    return np.arange(start, start + num_frames)


def eval_starts(length: int, num_frames: int, clips: int) -> np.ndarray:
    """Starts of ``clips`` windows spread uniformly over a video of ``length`` frames: the
    centres of ``clips`` equal parts of the ``length - num_frames + 1`` possible starts
    (one clip: the centre window), as mmaction2's test-mode ``SampleFrames``."""
    part = (max(length - num_frames, 0) + 1) / clips
    return (np.arange(clips) * part + part / 2).astype(np.int64)


def crop_size(
    height: int, width: int, size: tuple[int, int], scale: float = 1.0
) -> tuple[int, int]:
    """``(ch, cw)`` px of a ``height x width`` frame that become the ``size = (h, w)``
    crop once the frame is scaled to cover ``size`` (aspect kept) times ``scale``."""
    h, w = size
    cover = max(h / height, w / width) * scale  # output px per stored px
    return min(height, max(1, round(h / cover))), min(width, max(1, round(w / cover)))


def crop_resize(
    frames: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int]
) -> np.ndarray:
    """Frames ``(N, H, W, 3)`` -> ``(N, h, w, 3)``: the box ``(top, left, ch, cw)`` of each,
    resized to ``size = (h, w)`` (area interpolation when shrinking, bilinear when
    enlarging; no resize when the box is already ``h x w``)."""
    import cv2

    top, left, ch, cw = box
    h, w = size
    cropped = frames[:, top : top + ch, left : left + cw]
    if (ch, cw) == (h, w):
        return np.ascontiguousarray(cropped)
    interpolation = cv2.INTER_AREA if ch * cw > h * w else cv2.INTER_LINEAR
    out = np.empty((len(frames), h, w, frames.shape[-1]), np.uint8)
    for i, frame in enumerate(cropped):
        out[i] = cv2.resize(frame, (w, h), interpolation=interpolation)
    return out


def clip_windows(length: int, num_frames: int, starts: Sequence[int]) -> np.ndarray:
    """Frame indices ``(len(starts), num_frames)`` of the windows starting at ``starts``."""
    return np.stack([window_indices(length, num_frames, int(s)) for s in starts])


def centre_fit(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames ``(N, H, W, 3)`` -> ``(N, h, w, 3)``: the centre crop at the covering scale,
    what evaluation takes."""
    height, width = frames.shape[1:3]
    ch, cw = crop_size(height, width, size)
    return crop_resize(frames, ((height - ch) // 2, (width - cw) // 2, ch, cw), size)


def eval_clips(
    frames: np.ndarray, num_frames: int, size: tuple[int, int], clips: int = 1
) -> np.ndarray:
    """The test clips of a video's stored frames ``(T, H, W, 3)`` uint8: ``(num_frames, h,
    w, 3)``, or ``(clips, num_frames, h, w, 3)`` with ``clips > 1`` (what
    :class:`FrameClipSource` gives in eval mode, and ``harfuse predict`` feeds a model)."""
    windows = clip_windows(len(frames), num_frames, eval_starts(len(frames), num_frames, clips))
    picked, where = np.unique(windows, return_inverse=True)
    out = centre_fit(frames[picked], size)[where.reshape(windows.shape)]
    return np.ascontiguousarray(out[0] if clips == 1 else out)


def _randint(high: int) -> int:
    """Uniform in ``0..high-1`` from torch's RNG."""
    return int(torch.randint(high, (1,)).item())


class FrameClipSource:
    """Sample id -> clip of frames from the frame shards (``/{sample_id}/frames``).

    ``__call__`` returns uint8 RGB ``(num_frames, h, w, 3)`` with ``size = (h, w)`` px,
    or ``(clips, num_frames, h, w, 3)`` in eval mode with ``clips > 1``. ``train``: random
    window, scale, crop and flip (module docstring); eval: deterministic centre window(s)
    and centre crop. Shards are indexed here and then closed; each process (DataLoader
    worker) opens a shard on its first read and keeps at most ``max_open`` open (the least
    recently read closed first: a Kinetics-size dataset has thousands of shards, more than
    a process may hold open).
    """

    def __init__(
        self,
        shard_paths: Sequence[str | os.PathLike[str]],
        num_frames: int,
        size: tuple[int, int],
        train: bool,
        clips: int = 1,
        max_open: int = MAX_OPEN,
    ):
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if clips < 1 or (train and clips != 1):
            raise ValueError(f"clips must be 1 in train mode and >= 1 in eval, got {clips}")
        self.num_frames = int(num_frames)
        self.size = (int(size[0]), int(size[1]))
        self.train = bool(train)
        self.clips = int(clips)
        self._index: dict[str, Path] = {}
        self._lengths: dict[str, int] = {}
        self.readers: OpenFiles[Path, ShardReader] = OpenFiles(ShardReader, max_open)
        for path in map(Path, shard_paths):
            reader = ShardReader(path)
            for sid in reader.sample_ids():
                self._index[sid] = path
                self._lengths[sid] = reader.length(sid, "frames")
            reader.close()  # nothing stays open in the process that forks the workers

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index

    def __call__(self, sample_id: str) -> np.ndarray:
        reader, length = self.readers.get(self._index[sample_id]), self._lengths[sample_id]
        if self.train:
            starts = [_randint(max(length - self.num_frames, 0) + 1)]
        else:
            starts = list(eval_starts(length, self.num_frames, self.clips))
        windows = clip_windows(length, self.num_frames, starts)
        picked, where = np.unique(windows, return_inverse=True)  # each frame decoded once
        frames = reader.read_frames(sample_id, picked, "frames")  # (U, H, W, 3)
        if self.train:
            height, width = frames.shape[1:3]
            scale = 1.0 + (SCALE_JITTER - 1.0) * float(torch.rand(()).item())
            ch, cw = crop_size(height, width, self.size, scale)
            top, left = _randint(height - ch + 1), _randint(width - cw + 1)
            fitted = crop_resize(frames, (top, left, ch, cw), self.size)  # (U, h, w, 3)
            if torch.rand(()).item() < 0.5:
                fitted = fitted[:, :, ::-1]
        else:
            fitted = centre_fit(frames, self.size)
        clips = fitted[where.reshape(windows.shape)]  # (clips, num_frames, h, w, 3)
        return np.ascontiguousarray(clips[0] if self.clips == 1 else clips)


class _EpochSampler(Sampler[int]):
    """torch's ``RandomSampler`` on ``order``, each pass preceded by the int64 draw that a
    fresh DataLoader iterator makes from its generator (its workers' base seed).

    Each epoch then draws from ``order`` exactly what a plain ``DataLoader(shuffle=True,
    generator=order)`` draws, whatever the number of workers: a loader whose workers
    persist makes that draw only once, which would otherwise shift every later epoch's
    permutation."""

    def __init__(self, data: Dataset, order: torch.Generator):
        self._order = order
        self._sampler = RandomSampler(data, generator=order)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._sampler)

    def __iter__(self) -> Iterator[int]:
        torch.empty((), dtype=torch.int64).random_(generator=self._order)
        yield from self._sampler


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed Python's and numpy's RNGs from the worker's torch
    seed (the loader's base seed + ``worker_id``) and keep OpenCV to one thread (workers
    are the parallelism)."""
    import cv2

    seed = torch.initial_seed()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    cv2.setNumThreads(1)


def clip_loader(
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    shuffle: bool,
    seed: int,
    workers: int = 0,
) -> DataLoader:
    """A DataLoader over ``dataset`` for training on ``device``.

    ``workers`` processes (0 = in this process) that persist across epochs, so each keeps
    its open shard files (up to the sources' ``max_open``) from one epoch to the next;
    batches in pinned memory when ``device`` is CUDA (copy them with
    ``non_blocking=True``). With ``shuffle``, the order is drawn from a generator seeded
    with ``seed``, epoch after epoch, exactly as ``DataLoader(shuffle=True,
    generator=torch.Generator().manual_seed(seed))`` draws it: the same samples in the same
    batches for any number of workers. Workers' torch, numpy and Python RNGs are seeded
    from ``seed`` (:func:`seed_worker`), so random augmentation is reproducible for a seed
    and a worker count (workers draw from their own streams, so it differs between worker
    counts; with ``workers=0`` it draws from this process's torch RNG).
    """
    order = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=_EpochSampler(dataset, order) if shuffle else None,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
        # the workers' base seeds; with shuffle, ``order`` is the sampler's alone
        generator=torch.Generator().manual_seed(seed) if shuffle else order,
        worker_init_fn=seed_worker if workers > 0 else None,
    )
