"""Training sources stream from the shards: the values an eager read gives, a bounded
number of open files, and DataLoader workers that open their own."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from harfuse.data.dataset import FeatureSource, MultiModalDataset, RowLayout, SampleShardSource
from harfuse.store.shards import ShardReader, ShardWriter, read_feature_shard

from .helpers import open_count

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="counts open files in /proc/self/fd"
)

PER_SHARD = 5
SHARDS = 6


def feature_shards(tmp_path: Path) -> list[str]:
    """Feature shards as the features stage writes them, the last in float16 (another
    stored dtype, converted to float32 when read) and one chunked and gzip-compressed
    (read through HDF5, not as plain bytes)."""
    rng = np.random.default_rng(0)
    paths = []
    for k in range(SHARDS):
        ids = [f"f{k}_{i}" for i in range(PER_SHARD)]
        temporal = rng.standard_normal((PER_SHARD, 3, 8)).astype(np.float32)
        if k == SHARDS - 1:
            temporal = temporal.astype(np.float16)
        path = tmp_path / f"features-{k}.h5"
        with ShardWriter(path, "features", {"encoder": "resnet50"}) as writer:
            writer.write_stacked("sample_id", np.array(ids, dtype=object))
            writer.write_stacked("pooled", temporal.mean(axis=1))
            writer.write_stacked("temporal", temporal)
        paths.append(str(path))
    chunked = tmp_path / "features-chunked.h5"
    with h5py.File(chunked, "w") as f:
        f.create_dataset("sample_id", data=["c0", "c1", "c2"], dtype=h5py.string_dtype())
        # float64 and chunked: no plain-bytes layout
        f.create_dataset("temporal", data=rng.standard_normal((3, 3, 8)), chunks=(1, 3, 8))
        f["pooled"] = f["temporal"][()].mean(axis=1)
    return [*paths, str(chunked)]


def imu_shards(tmp_path: Path) -> list[str]:
    """Per-sample shards of IMU-like windows with attributes."""
    rng = np.random.default_rng(1)
    paths = []
    for k in range(SHARDS):
        path = tmp_path / f"imu-{k}.h5"
        with ShardWriter(path, "imu", {"rate": 50.0}) as writer:
            for i in range(PER_SHARD):
                window = rng.standard_normal((20, 6)).astype(np.float32)
                writer.write(f"f{k}_{i}", "imu", window, {"valid_length": 10 + i})
        paths.append(str(path))
    return paths


def test_feature_source_reads_what_the_eager_read_gives_with_few_files_open(tmp_path):
    paths = feature_shards(tmp_path)
    eager = {}
    for path in paths:
        shard = read_feature_shard(path)
        for sid, feats in zip(shard["sample_id"], shard["temporal"], strict=True):
            eager[sid] = feats.astype(np.float32)  # what the in-memory source held
    source = FeatureSource(paths, max_open=2)
    assert open_count(paths) == 0  # indexing leaves nothing open
    assert source.sample_ids() == list(eager)
    order = np.random.default_rng(2).permutation(list(eager))
    for sid in [*order, *order]:
        feats = source(str(sid))
        assert feats.dtype == np.float32 and feats.flags.writeable
        assert feats.tobytes() == eager[sid].tobytes()
        assert open_count(paths) <= 2
    assert len(source.files) <= 2
    assert source.files.opened > SHARDS  # shards were closed and opened again
    with h5py.File(paths[0], "r") as f, h5py.File(paths[-1], "r") as chunked:
        assert RowLayout.of(f["temporal"]) is not None
        assert RowLayout.of(chunked["temporal"]) is None


def test_feature_source_keeps_the_first_samples_within_its_byte_budget(tmp_path):
    paths = feature_shards(tmp_path)
    ids = FeatureSource(paths).sample_ids()
    size = FeatureSource(paths)(ids[0]).nbytes  # (3, 8) float32: 96 bytes
    source = FeatureSource(paths, cache_bytes=3 * size + size // 2)
    first = source(ids[0])
    assert source(ids[0]) is first and not first.flags.writeable  # kept, read-only
    for sid in ids[1:6]:
        source(sid)
    assert len(source.cache) == 3 and source.cache.nbytes == 3 * size  # the 4th did not fit
    assert source(ids[0]) is first  # the first kept stay: no churn over epochs
    later = source(ids[5])
    assert later is not source(ids[5]) and later.flags.writeable  # read again each time
    assert later.tobytes() == source(ids[5]).tobytes()


def test_sample_shard_source_transforms_a_kept_sample_once(tmp_path):
    paths = imu_shards(tmp_path)
    calls: list[int] = []

    def first_rows(stored):  # a view of the stored window: the kept input is a copy
        calls.append(1)
        return stored["imu"][0][:4]

    source = SampleShardSource(paths, ["imu"], first_rows, cache_bytes=10**6)
    plain = SampleShardSource(paths, ["imu"], first_rows)
    ids = source.sample_ids()
    for _ in range(3):  # three epochs
        for sid in ids:
            kept = source(sid)
            assert kept.base is None and not kept.flags.writeable
            assert kept.tobytes() == plain(sid).tobytes()
    assert len(calls) == len(ids) + 3 * len(ids)  # once for the kept, every time for plain
    assert source.cache.nbytes == len(ids) * 4 * 6 * 4
    other = source.with_transform(lambda s: s["imu"][0] * 2)
    assert len(other.cache) == 0 and other.cache.max_bytes == 10**6  # not the first's inputs
    np.testing.assert_array_equal(other(ids[0]), plain.stored(ids[0])["imu"][0] * 2)
    copy = pickle.loads(pickle.dumps(source.cache))  # a spawned worker's: no input
    assert len(copy) == 0 and copy.max_bytes == 10**6
    # a dataset over kept inputs gives the same tensors, as its own writable copies
    data = MultiModalDataset(ids, list(range(len(ids))), {"imu": source})
    item = data[0]
    assert torch.equal(item["imu"], torch.from_numpy(plain(ids[0])))
    item["imu"] += 1
    assert source(ids[0]).tobytes() == plain(ids[0]).tobytes()


def test_sample_shard_source_keeps_at_most_max_open_files(tmp_path):
    paths = imu_shards(tmp_path)
    source = SampleShardSource(paths, ["imu"], lambda s: s["imu"][0] * 2, max_open=2)
    assert open_count(paths) == 0
    order = np.random.default_rng(3).permutation(source.sample_ids())
    for sid in order:
        reader = ShardReader(tmp_path / f"imu-{sid[1]}.h5")
        array, attrs = source.stored(str(sid))["imu"]
        assert array.tobytes() == reader.read(str(sid), "imu").tobytes()
        assert attrs == reader.attrs(str(sid), "imu") == source.attrs(str(sid), "imu")
        reader.close()
        np.testing.assert_array_equal(source(str(sid)), array * 2)
        assert open_count(paths) <= 2
    doubled = source.with_transform(lambda s: s["imu"][0])
    assert doubled.files is source.files  # the same open files, not indexed again
    assert len(source.files) <= 2


def test_sources_pickle_without_open_files(tmp_path):
    features = FeatureSource(feature_shards(tmp_path), max_open=2)
    sid = features.sample_ids()[0]
    expected = features(sid)  # a file is open now
    copy = pickle.loads(pickle.dumps(features))
    assert len(copy.files) == 0 and copy.files.max_open == 2
    assert copy(sid).tobytes() == expected.tobytes()


def test_streaming_sources_in_a_dataloader_with_two_workers(tmp_path):
    feature_paths, imu_paths = feature_shards(tmp_path), imu_shards(tmp_path)
    sources = {
        "rgb": FeatureSource(feature_paths[:SHARDS], max_open=2),
        "imu": SampleShardSource(imu_paths, ["imu"], lambda s: s["imu"][0], max_open=2),
    }
    ids = sources["imu"].sample_ids()
    data = MultiModalDataset(ids, list(range(len(ids))), sources)
    serial = [data[i] for i in range(len(data))]  # opens files in this process first
    loader = DataLoader(data, batch_size=4, num_workers=2, multiprocessing_context="fork")
    for epoch in range(2):
        batches = list(loader)
        assert sum(len(b["label"]) for b in batches) == len(ids), epoch
        for name in ("rgb", "imu", "label"):
            torch.testing.assert_close(
                torch.cat([b[name] for b in batches]), torch.stack([s[name] for s in serial])
            )
    assert open_count(feature_paths + imu_paths) <= 4
