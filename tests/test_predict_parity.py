"""``harfuse predict`` against the train stage, over a matrix of preprocessing settings:
for every test video, predict's probabilities equal those in ``predictions.parquet``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harfuse.predict import TrainedModel, predict_video
from harfuse.stages import train
from harfuse.store.manifest import read_manifest
from harfuse.store.recorded import recorded_preprocessing

from .conftest import FLOW, FRAMES, INPUTS, run_stages
from .helpers import reencode

#: cell -> (frames, flow, modalities) overrides of the conftest settings
CELLS = {
    "jpeg_uint8_all_frames": (
        {"storage": "jpeg", "jpeg_quality": 90},
        {},
        ["rgb", "flow", "audio"],
    ),
    "raw_num_frames": ({"storage": "raw", "num_frames": 5}, {}, ["rgb", "flow", "audio"]),
    "flow_float16": ({}, {"storage": "float16"}, ["flow", "audio"]),
    "no_audio": ({"storage": "jpeg", "jpeg_quality": 95}, {}, ["rgb", "flow"]),
    "segment_window": ({"max_duration_s": 1.0}, {}, ["rgb", "flow", "audio"]),
    "silent_test_video": ({}, {}, ["flow", "audio"]),
    # rgb through a fine-tuned backbone reading the JPEG frames, 3 test clips averaged
    "backbone_jpeg_test_clips": ({"storage": "jpeg", "jpeg_quality": 90}, {}, ["rgb", "audio"]),
}
#: cell -> the model's options (default none)
OPTIONS = {
    "backbone_jpeg_test_clips": {
        "backbone": {
            "arch": "resnet18",
            "blocks": ["layer4"],
            "num_frames": 4,
            "input_size": [32, 32],
            "test_clips": 3,
        }
    }
}


#: the shard each modality's model input is read from
SHARD_OF = {"rgb": "features.h5", "flow": "flow.h5", "audio": "audio.h5"}


def silent_copy(demo_root: Path, out: Path, video: str) -> Path:
    """A copy of the demo with ``video`` re-encoded without its audio track."""
    shutil.copytree(demo_root, out)
    (out / "RGB" / video).unlink()
    reencode(str(demo_root / "RGB" / video), out / "RGB" / video, "libx264", "aac", "mp4", False)
    return out


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_predict_equals_training_predictions(demo_root, tmp_path, cell):
    frames_override, flow_override, modalities = CELLS[cell]
    if cell == "silent_test_video":  # a test video without an audio track: silence in both
        demo_root = silent_copy(demo_root, tmp_path / "demo", "a2_s2_t1_color.mp4")
    frames_cfg = {**FRAMES, **frames_override}
    flow_cfg = {**FLOW, **flow_override}
    run_stages(demo_root, tmp_path, frames_cfg, flow_cfg)
    model_dir = tmp_path / "model"
    options = OPTIONS.get(cell, {})
    shard_of = {**SHARD_OF, "rgb": "frames.h5"} if "backbone" in options else SHARD_OF
    train.run(
        tmp_path / "manifest.parquet",
        tmp_path / "classes.json",
        {m: [str(tmp_path / shard_of[m])] for m in modalities},
        "v",
        {"model": "mid", "modalities": modalities, "options": options},
        "cross_subject",
        {"name": "full"},
        {"epochs": 3, "batch_size": 4, "val_fraction": 0, "seed": 0},
        INPUTS,
        "cpu",
        model_dir,
    )
    trained = TrainedModel.load(model_dir, "cpu")
    assert trained.preprocessing["frames"] == {**frames_cfg}  # what the shards recorded
    expected = pd.read_parquet(model_dir / "predictions.parquet").set_index("sample_id")
    columns = [f"prob_{c}" for c in trained.classes]
    rows = read_manifest(tmp_path / "manifest.parquet")
    test = rows[rows["cross_subject"] == "test"]
    assert len(test) and set(test["sample_id"]) == set(expected.index)
    for sid, video in zip(test["sample_id"], test["video_path"], strict=True):
        want = expected.loc[sid, columns].to_numpy(float)
        whole = predict_video(trained, video, window_s=100.0)  # one segment: the whole clip
        np.testing.assert_allclose(whole.probs, want, atol=2e-4, err_msg=f"{cell}: {sid}")
        ((start, _, segment),) = whole.timeline  # the segment path slices frames and audio
        assert start == 0.0
        np.testing.assert_allclose(segment, want, atol=2e-4, err_msg=f"{cell}: {sid} segment")


def test_disagreeing_shards_stop_training_naming_the_shard(demo_root, tmp_path):
    """Two frame shards made with other settings: the train job names the shard."""
    run_stages(demo_root, tmp_path / "a")
    run_stages(demo_root, tmp_path / "b", {**FRAMES, "fps": 6.0})
    shards = {"flow": [str(tmp_path / "a" / "flow.h5"), str(tmp_path / "b" / "flow.h5")]}
    with pytest.raises(ValueError, match=r"b/flow\.h5: frames parameters .* differ"):
        recorded_preprocessing(shards)
    assert recorded_preprocessing({"flow": shards["flow"][:1]})["frames"] == FRAMES
