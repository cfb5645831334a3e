"""The frame feed of the flow and features stages: order, errors, bounded read-ahead, and
outputs that do not depend on the number of decode workers."""

from __future__ import annotations

import hashlib
import importlib
import sys
import threading
from contextlib import closing
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from harfuse.data.frame_feed import decoded_frames, feed
from harfuse.encoders.extract import clip, clip_from_shard, encode_clips, frozen_encoder
from harfuse.flow.compute import to_gray
from harfuse.media.decode import DecodeError
from harfuse.stages import features, flow
from harfuse.store.quarantine import quarantine_path, read_quarantine
from harfuse.store.shards import ShardReader, ShardWriter, read_feature_shard

from .conftest import FEATURES, FLOW, REPO

#: frames per sample: a one-frame sample (flow quarantines it), short and longer clips
LENGTHS = (5, 1, 9, 3, 7, 4)


def write_frames(path: Path, jpeg: bool = True) -> Path:
    """A frame shard as the frames stage writes one: moving textures, 24x32 px."""
    rng = np.random.default_rng(7)
    with ShardWriter(path, "frames", {"size": [24, 32], "storage": "jpeg"}) as writer:
        for k, n in enumerate(LENGTHS):
            big = rng.integers(0, 255, (24 + 2 * n, 32 + 2 * n, 3), dtype=np.uint8)
            frames = np.stack([big[t : t + 24, 2 * t : 2 * t + 32] for t in range(n)])
            writer.write(f"v{k}", "frames", frames, None, 95 if jpeg else None)
    return path


@pytest.fixture(scope="module")
def shard(tmp_path_factory) -> Path:
    return write_frames(tmp_path_factory.mktemp("feed") / "frames.h5")


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory) -> Path:
    """The same shard with one JPEG of ``v2`` replaced by bytes that do not decode."""
    path = write_frames(tmp_path_factory.mktemp("corrupt") / "frames.h5")
    with h5py.File(path, "r+") as f:
        f["v2/frames"][3] = np.frombuffer(b"not a JPEG at all", np.uint8)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("jpeg", [True, False], ids=["jpeg", "raw"])
def test_feed_hands_over_a_sequential_read_in_order(tmp_path, jpeg):
    reader = ShardReader(write_frames(tmp_path / "frames.h5", jpeg))
    ids = reader.sample_ids()
    plain = [reader.read(s, "frames") for s in ids]
    fed = list(feed(lambda s: decoded_frames(reader, s), ids, workers=2, prefetch=3))
    assert [f.sample_id for f in fed] == ids
    for item, want in zip(fed, plain, strict=True):
        np.testing.assert_array_equal(item.get(), want)
    # the flow feed's gray frames: the bytes compute_flow's own conversion gives
    for sid, want in zip(ids, plain, strict=True):
        np.testing.assert_array_equal(decoded_frames(reader, sid, gray=True), to_gray(want))
    # the features feed decodes only the clip's frames, the same bytes as a full read
    for sid, want in zip(ids, plain, strict=True):
        got = clip_from_shard(reader, sid, 4, (16, 20))
        np.testing.assert_array_equal(got, clip(want, 4, (16, 20)))


def test_feed_reads_ahead_a_bounded_number_of_samples():
    started: list[str] = []
    lock = threading.Lock()

    def load(sid: str) -> np.ndarray:
        with lock:
            started.append(sid)
        return np.zeros(1)

    ids = [f"s{i}" for i in range(20)]
    taken = 0
    with closing(feed(load, ids, workers=2, prefetch=3)) as fed:
        for item in fed:
            taken += 1
            assert len(started) <= taken - 1 + 3 + 1  # in flight: prefetch, refilled once
            if item.sample_id == "s9":
                break
    assert len(started) <= 13  # closing cancelled what had not started
    with pytest.raises(ValueError, match="workers must be >= 1"):
        next(feed(load, ids, workers=0))


def test_a_corrupt_sample_is_reported_while_the_others_go_on(corrupt, tmp_path):
    reader = ShardReader(corrupt)
    fed = list(feed(lambda s: decoded_frames(reader, s), reader.sample_ids(), workers=2))
    errors = {f.sample_id: f.error for f in fed if f.error is not None}
    assert list(errors) == ["v2"] and isinstance(errors["v2"], DecodeError)
    assert "v2/frames: a stored JPEG does not decode" in str(errors["v2"])
    assert len(fed) == len(LENGTHS)
    with pytest.raises(DecodeError):
        fed[2].get()

    flow.run(corrupt, tmp_path / "flow.h5", FLOW, "skip", workers=2)
    rows = read_quarantine([quarantine_path(tmp_path / "flow.h5")])
    assert sorted(rows["sample_id"]) == ["v1", "v2"]  # v1: one frame, no flow
    assert ShardReader(tmp_path / "flow.h5").sample_ids() == ["v0", "v3", "v4", "v5"]

    features.run(corrupt, tmp_path / "features.h5", FEATURES, "cpu", workers=2)
    kept = read_feature_shard(tmp_path / "features.h5")["sample_id"]
    assert kept == ["v0", "v1", "v3", "v4", "v5"]
    rows = read_quarantine([quarantine_path(tmp_path / "features.h5")])
    assert rows["sample_id"].tolist() == ["v2"] and rows["stage"].tolist() == ["features"]
    assert "a stored JPEG does not decode" in rows["reason"][0]
    with pytest.raises(DecodeError):
        features.run(corrupt, tmp_path / "fail.h5", FEATURES, "cpu", on_error="fail")
    assert not (tmp_path / "fail.h5").exists()


def test_stage_outputs_do_not_depend_on_the_decode_workers(shard, tmp_path):
    for n in (1, 2):
        flow.run(shard, tmp_path / f"flow{n}.h5", {**FLOW, "method": "tvl1"}, "skip", workers=n)
        features.run(shard, tmp_path / f"features{n}.h5", FEATURES, "cpu", workers=n)
    for name in ("flow", "features"):
        assert digest(tmp_path / f"{name}1.h5") == digest(tmp_path / f"{name}2.h5")


def test_encode_clips_takes_the_tensors_the_cuda_feed_hands_over(shard):
    reader = ShardReader(shard)
    clips = [clip_from_shard(reader, s, 4, (32, 32)) for s in reader.sample_ids()]
    encoder = frozen_encoder(FEATURES, torch.device("cpu"))
    arrays = encode_clips(encoder, clips, 4, torch.device("cpu"))
    tensors = encode_clips(encoder, map(torch.from_numpy, clips), 4, torch.device("cpu"))
    np.testing.assert_array_equal(tensors, arrays)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.cuda
def test_cuda_feed_is_pinned_and_outputs_do_not_depend_on_the_workers(shard, tmp_path):
    reader = ShardReader(shard)
    fed = list(features.frame_feed(reader, FEATURES, torch.device("cuda"), 2))
    size = tuple(FEATURES["input_size"])
    for item in fed:
        assert item.pinned is not None and item.pinned.is_pinned()
        want = clip_from_shard(reader, item.sample_id, FEATURES["num_frames"], size)
        np.testing.assert_array_equal(item.get(), want)
    torch_flow = {**FLOW, "backend": "torch"}
    for n in (1, 2):
        flow.run(shard, tmp_path / f"flow{n}.h5", torch_flow, "skip", device="cuda", workers=n)
        features.run(shard, tmp_path / f"features{n}.h5", FEATURES, "cuda", workers=n)
    for name in ("flow", "features"):
        assert digest(tmp_path / f"{name}1.h5") == digest(tmp_path / f"{name}2.h5")


@pytest.fixture
def benchmarks(monkeypatch):
    """The benchmark scripts as modules (they import each other from their folder)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    for name in ("flow", "features"):
        sys.modules.pop(name, None)
    yield lambda name: importlib.import_module(name)
    for name in ("flow", "features"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("script", ["flow", "features"])
def test_benchmark_null_compute_runs_at_a_tiny_size(benchmarks, capsys, script):
    tiny = ["--sizes", "32x24", "--samples", "3", "--frames", "4", "--rounds", "1"]
    extra = ["--num-frames", "2", "--batch-size", "2"] if script == "features" else []
    extra += ["--processes", "0"] if script == "flow" else []  # worker processes start slowly
    benchmarks(script).main(["--compute", "null", "--workers", "1,2", *tiny, *extra])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(f"| {script} ")]
    assert [row.split(" | ")[3] for row in rows] == ["1", "2"]
    assert "frames/s per core" in out and "feed / compute x" in out
