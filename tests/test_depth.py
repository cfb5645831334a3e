"""The ``depth`` modality: the authors' two formats, what the stage stores (units, rate,
size), bad files quarantined, the model input the same from a file as from its shard, and
the whole DAG on UTD-MHAD and NTU RGB+D fixtures, alone and in mid fusion.

Sources of the formats (typed from them, not from harfuse):

- UTD-MHAD: the dataset page (personal.utdallas.edu/~kehtar/UTD-MHAD.html): "a 16-bit depth
  image with a resolution of 320x240 pixels", "approximately 30 frames per second";
  yehan-chang/UTD-MHAD-Ensemble ``Ensemble.py``: ``f'Depth/a{action}_s{subject}_t{trial}
  _depth.mat'``, ``sio.loadmat(filename)`` ... ``mat['d_depth']``; public depth-to-point-
  cloud readers: ``W = 320``, ``H = 240``, ``nframes = video.shape[2]``,
  ``img = video[:, :, idx]  # (H, W)``.
- NTU RGB+D: shahroudy/NTURGB-D ``README.md``: "Each file/folder name in both datasets is in
  the format of SsssCcccPpppRrrrAaaa (e.g., S001C002P003R002A013)", "depth maps and IR
  videos are all in 512x424"; ``Matlab/show_skeleton_on_depthmaps.m``: "% depth maps are in
  millimeters", ``sprintf('Depth-%08d.png',f)`` for ``f=1:numel(bodyinfo)`` (the masked
  maps: ``MDepth-%08d.png``, "image file names are 1-based" in the readers that load them).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from harfuse.config_schema import filled
from harfuse.datasets import adapter, scan_dataset
from harfuse.modalities.base import Context
from harfuse.modalities.depth import MODALITY as DEPTH
from harfuse.modalities.depth import DepthError, read_depth
from harfuse.stages import sample_files
from harfuse.store.manifest import read_manifest, write_manifest
from harfuse.store.quarantine import quarantine_path, read_quarantine
from harfuse.store.shards import ShardReader

from .conformance.test_utd_mhad import mat_file
from .kinect_dag import VARIANTS, add_utd_depth

NTU_NAME = "S001C002P003R002A013"  # the README's example name


# --- the authors' formats -----------------------------------------------------------------


def test_utd_mhad_d_depth_is_height_width_frames_in_a_level5_mat_file(tmp_path):
    d_depth = np.zeros((240, 320, 3))  # MATLAB double, as an undocumented class may be
    d_depth[120, 160, :] = [2345.0, 2346.0, 2347.0]
    d_depth[0, 319, 1] = 812.0  # top right corner of frame 2
    for compressed in (False, True):
        path = tmp_path / f"a1_s1_t1_depth{int(compressed)}.mat"
        path.write_bytes(mat_file({"d_depth": d_depth}, compressed))
        maps, fps = read_depth(path)
        assert maps.dtype == np.uint16 and maps.shape == (3, 240, 320) and fps == 30.0
        assert list(maps[:, 120, 160]) == [2345, 2346, 2347] and maps[1, 0, 319] == 812


def test_ntu_masked_depth_folder_frames_read_unchanged_in_millimetres(tmp_path):
    folder = tmp_path / "nturgb+d_depth_masked" / NTU_NAME
    folder.mkdir(parents=True)
    for n in (1, 2, 3):
        image = np.zeros((424, 512), np.uint16)  # H x W of a 512 x 424 map
        image[200, 300] = 1873 + n  # > 255: lost if read as an 8-bit image
        cv2.imwrite(str(folder / f"MDepth-{n:08d}.png"), image)
    maps, fps = read_depth(folder)
    assert maps.shape == (3, 424, 512) and list(maps[:, 200, 300]) == [1874, 1875, 1876]
    assert fps == 30.0
    config = filled({"fps": 30.0, "size": [424, 512]}, "depth")
    stored = DEPTH.stored(folder, {"depth": config}, Context())["depth"]
    assert stored[1]["units"] == "mm" and stored[0][2, 200, 300] == 1876
    metres = DEPTH.stored(folder, {"depth": {**config, "storage": "float16"}}, Context())
    assert metres["depth"][1]["units"] == "m"
    assert metres["depth"][0][2, 200, 300] == pytest.approx(1.876, abs=1e-3)


def test_ntu_scan_takes_a_depth_only_copy_and_names_a_missing_folder(tmp_path):
    root = tmp_path / "ntu"
    for name in (NTU_NAME, "S001C001P001R001A001"):
        folder = root / "nturgb+d_depth_masked" / name
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "MDepth-00000001.png"), np.zeros((424, 512), np.uint16))
    found = scan_dataset(root, "ntu_rgbd")
    assert sorted(found.samples["depth_path"]) == sorted(
        str(root / "nturgb+d_depth_masked" / n) for n in (NTU_NAME, "S001C001P001R001A001")
    )
    assert not found.samples["video_path"].astype(bool).any()
    (root / "nturgb+d_rgb").mkdir()
    (root / "nturgb+d_rgb" / "S001C003P001R001A001_rgb.avi").write_bytes(b"")
    found = scan_dataset(root, "ntu_rgbd")
    reasons = [q["reason"] for q in found.quarantine]
    assert any("S001C003P001R001A001/ (depth maps) not found under" in r for r in reasons)


def test_utd_scan_pairs_depth_files_and_quarantines_a_missing_one(tmp_path):
    root = add_utd_depth(adapter("utd_mhad").write_fixture(tmp_path / "utd", 2, 2, 1))
    (root / "Depth" / "a2_s2_t1_depth.mat").unlink()
    found = scan_dataset(root, "utd_mhad")
    paths = dict(zip(found.samples["sample_id"], found.samples["depth_path"], strict=True))
    assert paths["a1_s1_t1"] == str(root / "Depth" / "a1_s1_t1_depth.mat")
    assert paths["a2_s2_t1"] == ""
    assert any(q["reason"].startswith("a2_s2_t1_depth not found") for q in found.quarantine)


# --- the stage and the model input --------------------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    """A UTD-MHAD fixture with depth, one .mat without d_depth and one truncated, through
    the depth stage: (root, shard, manifest rows)."""
    base = tmp_path_factory.mktemp("depth-stage")
    root = add_utd_depth(adapter("utd_mhad").write_fixture(base / "utd", 2, 2, 2))
    (root / "Depth" / "a1_s2_t2_depth.mat").write_bytes(mat_file({"other": np.zeros((2, 2))}))
    truncated = root / "Depth" / "a2_s1_t2_depth.mat"
    truncated.write_bytes(truncated.read_bytes()[:300])
    found = scan_dataset(root, "utd_mhad")
    rows = found.samples.assign(shard=0)
    write_manifest(rows, base / "manifest.parquet", found.splits)
    out = base / "depth.h5"
    params = filled({}, "depth")
    sample_files.run(base / "manifest.parquet", 0, out, "depth", params, "skip")
    return root, out, read_manifest(base / "manifest.parquet")


def test_depth_stage_stores_millimetres_at_the_configured_rate_and_size(stored):
    root, shard, _ = stored
    reader = ShardReader(shard)
    assert reader.params == filled({}, "depth")
    maps, attrs = reader.read("a1_s1_t1", "depth"), reader.attrs("a1_s1_t1", "depth")
    source = read_depth(root / "Depth" / "a1_s1_t1_depth.mat")[0]
    assert maps.dtype == np.uint16 and maps.shape[1:] == (64, 64)
    assert len(maps) == int(len(source) / 30.0 * 10.0)  # 10 Hz over the source's duration
    assert attrs["units"] == "mm" and list(attrs["source_size"]) == [240, 320]
    assert set(np.unique(maps)) - {0} <= set(range(2400, 2600))  # nearest: no blended edge


def test_bad_depth_files_are_quarantined_with_the_reason_and_the_rest_go_on(stored):
    _, shard, rows = stored
    reasons = dict(
        read_quarantine([quarantine_path(shard)])[["sample_id", "reason"]].itertuples(False)
    )
    assert "no variable d_depth" in reasons["a1_s2_t2"]
    assert "a2_s1_t2_depth.mat" in reasons["a2_s1_t2"]
    assert set(ShardReader(shard).sample_ids()) == set(rows["sample_id"]) - set(reasons)


def test_model_input_from_the_file_equals_the_one_training_reads(stored):
    """The parity harfuse predict keeps for the video modalities: a depth file through
    ``stored`` then ``model_input`` gives what the training source reads from the shard."""
    root, shard, _ = stored
    inputs = {"depth_length": 12}
    source = DEPTH.source([shard], inputs)
    for sid in ("a1_s1_t1", "a2_s2_t1"):
        path = root / "Depth" / f"{sid}_depth.mat"
        direct = DEPTH.model_input(
            DEPTH.stored(path, {"depth": filled({}, "depth")}, Context()), inputs
        )
        assert direct.dtype == np.float32 and direct.shape == (12, 64, 64)
        np.testing.assert_array_equal(direct, source(sid))
        assert 2.4 <= direct.max() <= 2.6  # metres


def test_truncated_ntu_frames_are_an_error_naming_the_gap(tmp_path):
    folder = tmp_path / NTU_NAME
    folder.mkdir()
    for n in (1, 2, 4):
        cv2.imwrite(str(folder / f"MDepth-{n:08d}.png"), np.zeros((4, 4), np.uint16))
    with pytest.raises(DepthError, match=r"MDepth-00000003\.png missing"):
        read_depth(folder)


# --- the whole DAG ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["utd_mhad", "ntu_rgbd"])
def test_depth_alone_and_in_mid_fusion_through_the_dag(kinect_runs, layout):
    results = kinect_runs[layout] / "results" / layout
    summary = pd.read_csv(results / "report/summary.csv")
    other = "imu" if layout == "utd_mhad" else "skeleton"
    assert {"depth", f"depth_{other}"} <= set(summary["variant"]) == set(VARIANTS[layout])
    assert summary["top1"].between(0, 1).all()
    model = json.loads(next((results / "runs/depth").glob("*/full/model.json")).read_text())
    assert model["preprocessing"]["depth"]["size"] == 32
    assert model["shapes"]["depth"] == [8, 32, 32]
    report = (results / "report/summary.md").read_text()
    assert "depth = the dataset's depth maps at 6 fps, 32x32 px" in report


@pytest.mark.slow
def test_predict_says_a_video_has_no_depth(kinect_runs):
    from harfuse.predict import PredictError, TrainedModel, load_media

    run = next((kinect_runs["utd_mhad"] / "results/utd_mhad/runs/depth_imu").glob("*/full"))
    trained = TrainedModel.load(run, device="cpu")
    video = next(kinect_runs["utd_mhad"].parent.glob("utd/RGB/*.avi"))
    with pytest.raises(PredictError, match=r"needs (depth|imu), which a video file does not have"):
        load_media(video, trained)
    single = next((kinect_runs["utd_mhad"] / "results/utd_mhad/runs/depth").glob("*/full"))
    with pytest.raises(PredictError, match="needs depth, which a video file does not have"):
        load_media(video, TrainedModel.load(single, device="cpu"))
