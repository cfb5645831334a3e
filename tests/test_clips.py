"""Clips of frames from the frame shards, and the loader that feeds training."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from harfuse.data.clips import FrameClipSource, clip_loader, eval_starts
from harfuse.data.dataset import MultiModalDataset
from harfuse.fusion import create_model
from harfuse.media.sampling import uniform_indices
from harfuse.store import shards
from harfuse.store.shards import ShardReader, ShardWriter
from harfuse.train.loop import TrainParams, predict, train_model

from .helpers import open_count

H, W = 48, 64
#: frames per stored video, by sample id; "short" has fewer than a clip
LENGTHS = {"a": 20, "b": 40, "c": 12, "short": 3, "d": 16, "e": 24}
CPU = torch.device("cpu")


def video(length: int) -> np.ndarray:
    """``(T, H, W, 3)``: red = 240 on the left half (flip marker), green = ``6 t + 4``
    (frame index ``t``), blue = ``3 x`` (column ``x``: where a crop starts)."""
    frames = np.zeros((length, H, W, 3), np.uint8)
    frames[:, :, : W // 2, 0] = 240
    frames[..., 1] = (6 * np.arange(length) + 4)[:, None, None]
    frames[..., 2] = 3 * np.arange(W)
    return frames


@pytest.fixture(scope="module")
def frame_shards(tmp_path_factory) -> list[Path]:
    """Two JPEG frame shards holding the videos of ``LENGTHS``."""
    folder = tmp_path_factory.mktemp("frames")
    ids = list(LENGTHS)
    paths = []
    for k, part in enumerate((ids[:3], ids[3:])):
        path = folder / f"shard-{k}.h5"
        with ShardWriter(path, "frames", {"fps": 8.0}) as writer:
            for sid in part:
                writer.write(sid, "frames", video(LENGTHS[sid]), jpeg_quality=95)
        paths.append(path)
    return paths


def frame_ids(clip: np.ndarray) -> list[int]:
    """The stored frame index of each frame of ``(T, h, w, 3)`` (from its green level)."""
    return [round((float(f[..., 1].mean()) - 4) / 6) for f in clip]


def flipped(clip: np.ndarray) -> bool:
    return float(clip[:, :, -1, 0].mean()) > float(clip[:, :, 0, 0].mean())


def test_read_frames_reads_and_decodes_only_the_picked_frames(frame_shards, monkeypatch, tmp_path):
    reader = ShardReader(frame_shards[0])
    whole = reader.read("b", "frames")
    assert reader.length("b") == LENGTHS["b"] == len(whole)
    decoded = []
    real = shards.decode_jpeg
    monkeypatch.setattr(shards, "decode_jpeg", lambda buf: decoded.append(1) or real(buf))
    for idx in ([5, 6, 7, 8], [9, 2, 2, 30, 9], [0]):
        decoded.clear()
        np.testing.assert_array_equal(reader.read_frames("b", idx), whole[idx])
        assert len(decoded) == len(set(idx))
    with pytest.raises(IndexError, match="40 steps"):
        reader.read_frames("b", [40])
    with pytest.raises(KeyError, match="no zz/frames"):
        reader.read_frames("zz", [0])
    raw = tmp_path / "raw.h5"  # raw (gzip) storage reads the same way
    with ShardWriter(raw, "frames", {}) as writer:
        writer.write("a", "frames", video(10))
    np.testing.assert_array_equal(
        ShardReader(raw).read_frames("a", [7, 1, 1]), video(10)[[7, 1, 1]]
    )


@pytest.mark.parametrize("size", [(32, 32), (24, 40), (112, 112)])
def test_clip_shapes_and_dtypes(frame_shards, size):
    train = FrameClipSource(frame_shards, 8, size, train=True)
    one = FrameClipSource(frame_shards, 8, size, train=False)
    three = FrameClipSource(frame_shards, 8, size, train=False, clips=3)
    for sid in LENGTHS:
        assert sid in train and "zz" not in train
        assert train(sid).shape == one(sid).shape == (8, *size, 3)
        assert three(sid).shape == (3, 8, *size, 3)
        assert train(sid).dtype == one(sid).dtype == three(sid).dtype == np.uint8
    with pytest.raises(ValueError, match="clips must be 1 in train"):
        FrameClipSource(frame_shards, 8, size, train=True, clips=2)


def test_eval_is_the_centre_window_and_centre_crop_and_deterministic(frame_shards):
    source = FrameClipSource(frame_shards, 8, (32, 32), train=False)
    clip = source("a")  # 20 frames: 13 possible starts, the centre one is 6
    assert frame_ids(clip) == list(range(6, 14))
    np.testing.assert_array_equal(clip, source("a"))
    # 48x64 scaled by 2/3 covers 32x32: the centre 48x48 box (columns 8..55) is kept
    assert abs(float(clip[:, :, 0, 2].mean()) - 3 * 8.5) < 6
    assert abs(float(clip[:, :, -1, 2].mean()) - 3 * 54.5) < 6
    assert not flipped(clip)


def test_clip_source_keeps_at_most_max_open_shards(frame_shards, tmp_path):
    """Reading across shards with ``max_open=1`` closes one shard to open the other, and
    gives the clips of a source that keeps both open. (Copies of the shards: HDF5 shares
    one descriptor among the handles of a file, so the counts are the copies' own.)"""
    import shutil

    copies = [shutil.copy(path, tmp_path / path.name) for path in frame_shards]
    both = FrameClipSource(frame_shards, 8, (32, 32), train=False)
    one = FrameClipSource(copies, 8, (32, 32), train=False, max_open=1)
    assert open_count(copies) == 0  # indexed, then closed
    for sid in ["a", "d", "b", "e", "a"]:  # shard 0, 1, 0, 1, 0
        np.testing.assert_array_equal(one(sid), both(sid))
        assert len(one.readers) == open_count(copies) == 1
    assert one.readers.opened == 5 and both.readers.opened == 2
    one.readers.close()
    assert open_count(copies) == 0


def test_eval_clips_spread_over_the_video(frame_shards):
    clips = FrameClipSource(frame_shards, 8, (32, 32), train=False, clips=3)("a")
    assert list(eval_starts(20, 8, 3)) == [2, 6, 10]
    assert [frame_ids(c)[0] for c in clips] == [2, 6, 10]
    assert all(
        frame_ids(c) == list(range(s, s + 8)) for c, s in zip(clips, [2, 6, 10], strict=True)
    )
    np.testing.assert_array_equal(clips[1], FrameClipSource(frame_shards, 8, (32, 32), False)("a"))


def test_videos_shorter_than_a_clip_repeat_frames(frame_shards):
    expected = list(uniform_indices(3, 8))
    assert expected == [0, 0, 0, 1, 1, 2, 2, 2]
    for train in (True, False):
        assert frame_ids(FrameClipSource(frame_shards, 8, (32, 32), train)("short")) == expected
    three = FrameClipSource(frame_shards, 8, (32, 32), False, clips=3)("short")
    assert all(frame_ids(c) == expected for c in three)


def test_train_clips_are_reproducible_and_vary(frame_shards):
    source = FrameClipSource(frame_shards, 8, (32, 32), train=True)
    torch.manual_seed(0)
    first = [source("b") for _ in range(24)]
    torch.manual_seed(0)
    again = [source("b") for _ in range(24)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert len({c.tobytes() for c in first}) == len(first)
    starts = [frame_ids(c)[0] for c in first]
    assert len(set(starts)) > 5  # random windows of consecutive frames
    assert all(frame_ids(c) == list(range(s, s + 8)) for c, s in zip(first, starts, strict=True))
    flips = [flipped(c) for c in first]
    assert any(flips) and not all(flips)
    # the crop moves and scales: the column at the clip's left edge (unflipped) varies
    lefts = {
        round(float(c[:, :, 0, 2].mean()) / 3) for c, f in zip(first, flips, strict=True) if not f
    }
    assert len(lefts) > 3 and min(lefts) >= 0 and max(lefts) <= W - 32


def _dataset(frame_shards, train: bool) -> MultiModalDataset:
    ids = list(LENGTHS)
    source = FrameClipSource(frame_shards, 4, (16, 16), train)
    return MultiModalDataset(ids, range(len(ids)), {"rgb": source})


def _epochs(loader, n: int = 2) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    return [[(b["label"], b["rgb"]) for b in loader] for _ in range(n)]


def labels(epochs) -> list[list[list[int]]]:
    return [[a.tolist() for a, _ in epoch] for epoch in epochs]


def test_loader_batches_do_not_depend_on_workers(frame_shards):
    def run(train: bool, workers: int, seed: int = 3):
        return _epochs(clip_loader(_dataset(frame_shards, train), 4, CPU, True, seed, workers))

    torch.manual_seed(0)
    serial = run(False, 0)
    parallel = run(False, 2)
    for one, two in zip(serial, parallel, strict=True):  # same samples, batches, tensors
        assert all(
            torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(one, two, strict=True)
        )
    assert not torch.equal(serial[0][0][0], serial[1][0][0])  # reshuffled each epoch
    # the order is DataLoader(shuffle=True, generator=seeded)'s, epoch after epoch
    plain = torch.utils.data.DataLoader(
        _dataset(frame_shards, False), 4, shuffle=True, generator=torch.Generator().manual_seed(3)
    )
    assert labels(serial) == [[b["label"].tolist() for b in plain] for _ in range(2)]
    # random augmentation: the same batches of samples; reproducible for a seed and a
    # worker count (each worker draws from its own seeded stream)
    augmented, again = run(True, 2), run(True, 2)
    assert all(
        torch.equal(a, c) and torch.equal(b, d)
        for e1, e2 in zip(augmented, again, strict=True)
        for (a, b), (c, d) in zip(e1, e2, strict=True)
    )
    assert labels(augmented) == labels(serial)
    other_seed = run(True, 2, seed=4)
    assert not all(
        torch.equal(b, d) for (_, b), (_, d) in zip(augmented[0], other_seed[0], strict=True)
    )


class _CountingFile(h5py.File):
    """``h5py.File`` that logs ``pid path`` of every read-only open to ``LOG``."""

    LOG = ""

    def __init__(self, name, mode="r", *args, **kwargs):
        super().__init__(name, mode, *args, **kwargs)
        if mode == "r":
            fd = os.open(self.LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(fd, f"{os.getpid()} {Path(name).name}\n".encode())
            os.close(fd)


@pytest.mark.skipif(
    multiprocessing.get_start_method(allow_none=True) not in (None, "fork")
    or not hasattr(os, "fork"),
    reason="counts opens through a patch that forked workers inherit",
)
def test_each_worker_opens_each_shard_once(frame_shards, monkeypatch, tmp_path):
    monkeypatch.setattr(_CountingFile, "LOG", str(tmp_path / "opens.log"))
    monkeypatch.setattr(h5py, "File", _CountingFile)
    data = _dataset(frame_shards, True)  # indexing opens each shard once here, then closes
    loader = clip_loader(data, 2, CPU, True, 0, workers=2)
    for _ in range(3):  # epochs: the workers persist
        assert sum(len(b["label"]) for b in loader) == len(LENGTHS)
    opens = [line.split() for line in Path(_CountingFile.LOG).read_text().splitlines()]
    parent = [name for pid, name in opens if int(pid) == os.getpid()]
    assert sorted(parent) == ["shard-0.h5", "shard-1.h5"]
    workers = [(pid, name) for pid, name in opens if int(pid) != os.getpid()]
    assert len({pid for pid, _ in workers}) == 2
    assert len(workers) == len(set(workers)) <= 4  # a worker opens a shard at most once


def test_training_loop_results_do_not_depend_on_workers():
    """Dropout draws from the global RNG; the loader's draws must not move it differently."""
    g = torch.Generator().manual_seed(0)
    x, imu, y = torch.randn(22, 6, 16, generator=g), torch.randn(22, 40, 6), torch.arange(22) % 3
    data = [{"rgb": x[i], "imu": imu[i], "label": y[i]} for i in range(22)]
    runs = []
    for workers in (0, 1):
        torch.manual_seed(0)
        model = create_model("mid", {"rgb": (6, 16), "imu": (40, 6)}, 3)
        params = TrainParams(epochs=3, batch_size=4, lr=3e-3, workers=workers)
        history = train_model(model, data[:16], params, CPU, val_data=data[16:])
        runs.append((history, predict(model, data, CPU, workers=workers), torch.get_rng_state()))
    (h0, p0, r0), (h1, p1, r1) = runs
    assert h0 == h1 and np.array_equal(p0, p1) and torch.equal(r0, r1)
    # evaluation draws from the global RNG what a plain DataLoader drew (the seeded runs
    # made before clip_loader stay as they were)
    torch.manual_seed(0)
    list(torch.utils.data.DataLoader(data, 64))
    plain = torch.get_rng_state()
    torch.manual_seed(0)
    predict(model, data, CPU, workers=1)
    assert torch.equal(torch.get_rng_state(), plain)
