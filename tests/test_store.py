import h5py
import numpy as np
import pandas as pd
import pytest

from harfuse.stages.shard_job import write_sample_shard
from harfuse.store.manifest import (
    ManifestError,
    assign_shards,
    read_manifest,
    shard_ids,
    write_manifest,
)
from harfuse.store.quarantine import quarantine_path, read_quarantine
from harfuse.store.shards import ShardReader, ShardWriter, read_feature_shard


def test_shard_round_trip_with_provenance(tmp_path):
    path = tmp_path / "shard-0.h5"
    frames = np.random.default_rng(0).integers(0, 255, (9, 8, 8, 3), dtype=np.uint8)
    with ShardWriter(path, "frames", {"fps": 8.0, "size": 8}) as w:
        w.write("a1_s1_t1", "frames", frames, {"fps": 8.0})
        w.write("a1_s1_t2", "frames", frames[:2], {"fps": 8.0})
    r = ShardReader(path)
    assert r.sample_ids() == ["a1_s1_t1", "a1_s1_t2"]
    np.testing.assert_array_equal(r.read("a1_s1_t1", "frames"), frames)
    assert r.attrs("a1_s1_t1", "frames")["fps"] == 8.0
    assert r.params == {"fps": 8.0, "size": 8}
    with h5py.File(path) as f:
        ds = f["a1_s1_t1/frames"]
        assert ds.compression == "gzip" and ds.chunks[1:] == (8, 8, 3)
        assert f.attrs["stage"] == "frames"
    with pytest.raises(KeyError, match=r"shard-0\.h5: no a9_s1_t1/frames"):
        r.read("a9_s1_t1", "frames")


def test_shard_writer_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "shard-0.h5"
    with pytest.raises(RuntimeError), ShardWriter(path, "frames", {}) as w:
        w.write("x", "frames", np.zeros((2, 2, 2, 3), np.uint8))
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_chunks_compressed_by_threads_read_back_through_plain_h5py(tmp_path):
    """compress_threads: chunks deflated off the caller's thread and written directly are
    the gzip (and shuffle) chunks h5py's own filters read: whole and edge chunks, uint8
    and float16, the same values as the serial writer's file."""
    rng = np.random.default_rng(1)
    arrays = {
        "codes": rng.integers(0, 255, (37, 64, 85, 2), dtype=np.uint8),  # 6 steps a chunk
        "px": rng.standard_normal((5, 30, 40, 2)).astype(np.float16),
        "tiny": np.arange(3, dtype=np.float32),
    }
    for threads in (0, 3):
        path = tmp_path / f"shard-{threads}.h5"
        with ShardWriter(path, "flow", {}, compress_threads=threads) as w:
            for name, array in arrays.items():
                w.write("s", name, array, {"bound": 20.0})
        with h5py.File(path) as f:
            for name, array in arrays.items():
                ds = f["s"][name]
                assert ds.compression == "gzip" and ds.shuffle == (array.dtype.itemsize > 1)
                np.testing.assert_array_equal(ds[()], array)
                assert ds.attrs["bound"] == 20.0
    with pytest.raises(RuntimeError), ShardWriter(tmp_path / "x.h5", "flow", {}, 2) as w:
        w.write("s", "codes", arrays["codes"])
        raise RuntimeError("killed mid-write")
    assert not (tmp_path / "x.h5").exists()


def test_feature_shard_round_trip(tmp_path):
    path = tmp_path / "f.h5"
    temporal = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    with ShardWriter(path, "features", {"encoder": "resnet18"}) as w:
        w.write_stacked("sample_id", np.array(["a", "b"], dtype=object))
        w.write_stacked("pooled", temporal.mean(1))
        w.write_stacked("temporal", temporal)
        w.set_attr("weights", "none (random init)")
    shard = read_feature_shard(path)
    assert shard["sample_id"] == ["a", "b"]
    np.testing.assert_array_equal(shard["temporal"], temporal)
    assert shard["pooled"].shape == (2, 4)
    assert shard["attrs"]["weights"] == "none (random init)"


def manifest_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": [f"a1_s{s}_t1" for s in range(1, 6)],
            "label": ["wave"] * 5,
            "label_idx": [0] * 5,
            "subject": [1, 2, 3, 4, 5],
            "cross_subject": ["train", "test", "train", "test", "train"],
        }
    )


def test_manifest_round_trip_and_shards(tmp_path):
    df = assign_shards(manifest_frame(), 2)
    assert df["shard"].tolist() == [0, 0, 1, 1, 2] and shard_ids(df) == [0, 1, 2]
    write_manifest(df, tmp_path / "m.parquet", ["cross_subject"])
    back = read_manifest(tmp_path / "m.parquet")
    assert back.attrs["splits"] == ["cross_subject"]
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.assign(sample_id=["x"] * 5), "duplicate sample_id values: \\['x'"),
        (lambda d: d.assign(cross_subject="val"), "split column 'cross_subject' has values"),
        (lambda d: d.assign(sample_id=[f"a b{i}" for i in range(5)]), "not filesystem-safe"),
        (lambda d: d.drop(columns="label"), "manifest lacks columns \\['label'\\]"),
    ],
)
def test_manifest_contract_errors(tmp_path, edit, message):
    df = edit(assign_shards(manifest_frame(), 2))
    with pytest.raises(ManifestError, match=message):
        write_manifest(df, tmp_path / "m.parquet", ["cross_subject"])
    assert not (tmp_path / "m.parquet").exists()


def test_sample_shard_quarantines_bad_inputs_and_goes_on(tmp_path):
    out = tmp_path / "shard-0.h5"

    def compute(sid):
        if sid == "bad":
            raise ValueError(f"{sid}.avi: no decodable video frame")
        return {"x": (np.ones(3, np.float32), {"k": 1})}

    stored = write_sample_shard(out, "frames", {}, ["a", "bad", "b"], compute)
    assert stored == 2 and ShardReader(out).sample_ids() == ["a", "b"]
    q = read_quarantine([quarantine_path(out)])
    assert q.to_dict("records") == [
        {"sample_id": "bad", "stage": "frames", "reason": "bad.avi: no decodable video frame"}
    ]


def test_sample_shard_fail_mode_stops_without_output(tmp_path):
    out = tmp_path / "shard-0.h5"

    def compute(sid):
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        write_sample_shard(out, "frames", {}, ["a"], compute, on_error="fail")
    assert list(tmp_path.iterdir()) == []


def test_bug_in_stage_code_is_not_quarantined(tmp_path):
    def compute(sid):
        raise TypeError("a harfuse bug")

    with pytest.raises(TypeError):
        write_sample_shard(tmp_path / "s.h5", "frames", {}, ["a"], compute)


def test_quarantine_sidecar_name_and_empty_read(tmp_path):
    assert quarantine_path(tmp_path / "shard-3.h5").name == "shard-3.quarantine.parquet"
    assert list(read_quarantine([]).columns) == ["sample_id", "stage", "reason"]


def test_jpeg_frames_round_trip(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 255, (5, 32, 48, 3)).astype(np.float32)
    frames = np.stack([cv2.GaussianBlur(f, (0, 0), 2) for f in noise]).astype(np.uint8)
    path = tmp_path / "s.h5"
    with ShardWriter(path, "frames", {}) as w:
        w.write("a", "frames", frames, {"fps": 8.0}, jpeg_quality=95)
    r = ShardReader(path)
    back = r.read("a", "frames")
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frames).mean() < 2.0
    assert r.attrs("a", "frames")["encoding"] == "jpeg" and r.attrs("a", "frames")["fps"] == 8.0
    with (
        pytest.raises(ValueError, match="JPEG storage takes"),
        ShardWriter(tmp_path / "x.h5", "x", {}) as w,
    ):
        w.write("a", "x", np.zeros((3, 4), np.float32), jpeg_quality=90)


def test_fit_flow_covers_then_centre_crops_with_vectors_in_new_pixels():
    from harfuse.modalities.flow import fit_flow

    flow = np.zeros((2, 10, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -1.0  # a uniform translation
    fitted = fit_flow(flow, (20, 20))
    # scaled by 2 to cover 20 x 20 (20 x 80), then the centre 20 columns kept
    assert fitted.shape == (2, 20, 20, 2)
    np.testing.assert_allclose(fitted[..., 0], 6.0)
    np.testing.assert_allclose(fitted[..., 1], -2.0)
    # a wide field is cropped, not squeezed: the centre columns survive
    ramp = np.broadcast_to(np.arange(40, dtype=np.float32)[None, None, :, None], (1, 10, 40, 2))
    cropped = fit_flow(np.ascontiguousarray(ramp), (10, 10))
    np.testing.assert_array_equal(cropped[0, 0, :, 0], np.arange(15, 25))
    assert fit_flow(flow, (10, 40)) is flow  # already that shape: untouched


def test_run_dir_checks_what_its_readers_need(tmp_path):
    from harfuse.store.run_dir import RunDir, RunError

    run = RunDir(tmp_path / "runs" / "imu" / "s1" / "full")
    with pytest.raises(RunError, match=r"model\.json: missing"):
        run.description()
    with pytest.raises(RunError, match=r"model\.json: no shapes, classes"):
        run.write_description(
            {"variant": "imu", "model": "single", "modalities": ["imu"], "options": {}}
        )
    description = {
        "variant": "imu",
        "model": "single",
        "modalities": ["imu"],
        "options": {},
        "shapes": {"imu": [100, 6]},
        "classes": ["a", "b"],
    }
    run.write_description(description)
    assert run.description() == description
    run.metrics_path.write_text("[1, 2]")
    with pytest.raises(RunError, match=r"metrics\.json: not a JSON object"):
        run.metrics()
