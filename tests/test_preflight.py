"""Errors that can be known before the work stop the run before it, one line per problem
naming the key or file and what to do."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harfuse.config_schema import ConfigError, validate
from harfuse.datasets import LayoutError, check_dataset, folder, ucf101, utd_mhad
from harfuse.preflight import (
    check_before_work,
    check_data,
    data_problems,
    device_problems,
    model_problems,
)
from harfuse.workflow_env import reached_stages, requested_targets

from .helpers import REPO, snakemake


def example(name: str) -> dict:
    return yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())


def validated(config: dict) -> dict:
    config = copy.deepcopy(config)
    validate(config)
    return config


def test_schema_errors_are_one_line_each_with_a_suggestion():
    cfg = example("folder")
    cfg["frames"]["fsp"] = cfg["frames"].pop("fps")
    cfg["flow"]["method"] = "tvl"
    cfg["train"]["variants"]["rgb"]["modalities"] = ["rbg"]
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    lines = str(err.value).splitlines()
    assert sorted(lines) == [
        "flow.method: 'tvl' is not one of farneback, tvl1, raft; did you mean tvl1?",
        "frames.fsp: unknown key; did you mean fps? (allowed: fps, size, max_duration_s, "
        "num_frames, storage, jpeg_quality)",
        "frames: 'fps' is required",
        "train.variants.rgb.modalities.0: 'rbg' is not one of rgb, flow, audio, imu, skeleton, "
        "depth; did you mean rgb?",
    ]  # one line per problem, no schema dump


def test_validate_fills_the_schema_defaults_without_sharing_them():
    a, b = validated(example("folder")), validated(example("folder"))
    assert a["experiments"]["ratios"] == [] and a["audio"]["sample_rate"] == 16000
    a["experiments"]["ratios"].append(0.5)
    assert b["experiments"]["ratios"] == []


def test_folder_root_one_level_too_high_names_the_root_to_use(tmp_path):
    folder.write_fixture(tmp_path / "mine" / "videos", per_class=1)
    with pytest.raises(LayoutError, match=r"set dataset\.root to .*mine/videos$"):
        check_dataset(tmp_path / "mine", "folder", {})
    (tmp_path / "empty" / "jump").mkdir(parents=True)
    with pytest.raises(LayoutError, match=r"no \{class\}/\{video\} under .*empty"):
        check_dataset(tmp_path / "empty", "folder", {})
    with pytest.raises(LayoutError, match=r"dataset\.root: .*nowhere is not a folder"):
        check_dataset(tmp_path / "nowhere", "folder", {})


def test_official_layouts_are_checked_with_the_options_scan_gets(tmp_path):
    root = ucf101.write_fixture(tmp_path / "ucf")
    check_dataset(root, "ucf101", {})
    with pytest.raises(LayoutError, match=r"Lists/classInd\.txt not found"):
        check_dataset(root, "ucf101", {"lists_dir": "Lists"})
    (root / "ucfTrainTestlist" / "testlist03.txt").unlink()
    check_dataset(root, "ucf101", {})  # split 3 is left out, a choice
    for k in (1, 2):
        (root / "ucfTrainTestlist" / f"testlist0{k}.txt").unlink()
    with pytest.raises(LayoutError, match=r"no split with both trainlist0k\.txt and testlist0k"):
        check_dataset(root, "ucf101", {})


def test_a_skeleton_only_copy_needs_no_video_weights(tmp_path, monkeypatch, caplog):
    """configs/ntu_rgbd.yaml on a copy without nturgb+d_rgb/: the rgb variants will be
    skipped, so their Kinetics weights are not asked for; with the folder, they are."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    root = tmp_path / "NTU"
    (root / "nturgb+d_skeletons").mkdir(parents=True)
    cfg = validated(example("ntu_rgbd"))
    cfg["dataset"]["root"] = str(root)
    check_before_work(cfg)
    assert "train.variants.rgb will be skipped: no rgb (nturgb+d_rgb/ not found under" in (
        caplog.text
    )
    (root / "nturgb+d_rgb").mkdir()
    with pytest.raises(ConfigError, match=r"features\.sets\.video_cnn\.weights: .*r3d_18"):
        check_before_work(cfg)


def test_unknown_dataset_options_list_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as err:
        check_dataset(tmp_path, "folder", {"test_fration": 0.2, "folds": 0})
    assert str(err.value) == (
        "dataset.options.test_fration: not an option of the folder layout; did you mean "
        "test_fraction? (options: test_fraction, folds, seed)"
    )


def folder_config(root: Path) -> dict:
    cfg = example("folder")
    cfg["dataset"]["root"] = str(root)
    cfg["features"]["sets"]["frame_cnn"]["weights"] = "none"
    return cfg


def test_variant_options_weights_and_device_are_checked_at_once(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = folder_config(folder.write_fixture(tmp_path / "videos", per_class=1))
    cfg["features"]["sets"]["frame_cnn"]["weights"] = "imagenet"
    cfg["train"]["variants"]["rgb"]["options"] = {"encoder": {"flow": "flow_3dcnn"}}
    cfg["device"] = "cuda"
    with pytest.raises(ConfigError) as err:
        check_before_work(validated(cfg))
    rgb, weights, device = str(err.value).splitlines()
    assert rgb.startswith("train.variants.rgb.options: model 'single' has no option encoder;")
    assert "did you mean encoders?" in rgb
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-0676ba61.pth"
    assert weights.startswith("features.sets.frame_cnn.weights: resnet50 imagenet weights not")
    assert str(expected) in weights
    assert "features.allow_download: true" in weights and "weights: none" in weights
    assert "use device: auto" in device
    assert device_problems(validated(cfg), local=False) == []  # cluster jobs run elsewhere
    # a run that stops before the features (e.g. the manifest alone) needs no weights and
    # builds no model; one up to the features needs their weights, not the models
    cfg.update(device="auto")
    check_before_work(validated(cfg), stages=reached_stages({"results/x/manifest.parquet"}))
    with pytest.raises(ConfigError) as err:
        check_before_work(validated(cfg), stages=reached_stages({"extract_features"}))
    assert str(err.value).startswith("features.sets.frame_cnn.weights:")
    cfg["features"].update(allow_download=True)
    cfg["train"]["variants"]["rgb"]["options"] = {}
    check_before_work(validated(cfg))  # downloading is allowed: nothing to report


def test_the_stages_a_snakemake_command_reaches():
    argv = ["snakemake", "--cores", "2", "-n", "--configfile", "c.yaml"]
    assert requested_targets(argv) == set() and reached_stages(set()) is None
    # after --configfile it would be a config file, for Snakemake as here
    assert requested_targets(["snakemake", "results/ds/manifest.parquet", *argv[1:]]) == {
        "results/ds/manifest.parquet"
    }
    assert reached_stages({"results/ds/manifest.parquet", "extract_frames"}) == set()
    assert reached_stages({"results/ds/flow-tvl1/shard-0.h5"}) == {"flow"}
    assert reached_stages({"build_report"}) == {"train", "features", "flow"}


def test_bad_options_of_a_nested_encoder_are_caught_by_building_the_model(tmp_path):
    cfg = folder_config(folder.write_fixture(tmp_path / "videos", per_class=1))
    cfg["train"]["variants"]["flow"]["options"] = {"encoders": {"flow": "flow_3dccn"}}
    with pytest.raises(ConfigError, match=r"train\.variants\.flow\.options: .*flow_3dccn"):
        check_before_work(validated(cfg))


def test_an_unknown_joint_format_names_the_variant_and_the_closest_format():
    cfg = validated(example("utd_mhad"))
    gcn = {"name": "skeleton_gcn", "joint_format": "kinect_v3_25"}
    cfg["train"]["variants"]["skeleton"]["options"] = {"encoders": {"skeleton": gcn}}
    assert model_problems(cfg) == [
        "train.variants.skeleton.options: unknown joint format 'kinect_v3_25'; did you mean "
        "kinect_v2_25? (known: blazepose_33, coco_17, kinect_v1_20, kinect_v2_25)"
    ]
    gcn["joint_format"] = "kinect_v2_25"  # UTD-MHAD's skeletons have 20 Kinect v1 joints
    assert model_problems(cfg) == [
        "train.variants.skeleton.options: joint format kinect_v2_25 has 25 joints, input 20"
    ]


def utd_manifest(classes: int) -> tuple[dict, pd.DataFrame]:
    """The UTD-MHAD example config and a manifest of ``classes`` classes, 4 subjects."""
    rows = [
        {
            "sample_id": f"a{a}_s{s}_t{t}",
            "label_idx": a,
            "cross_subject": "train" if s % 2 else "test",
            "video_path": "v.avi",
            "imu_path": "i.mat",
        }
        for a in range(classes)
        for s in range(1, 5)
        for t in range(1, 3)
    ]
    manifest = pd.DataFrame(rows)
    manifest.attrs["splits"] = ["cross_subject"]
    return validated(example("utd_mhad")), manifest


def test_hidden_classes_against_the_classes_with_train_and_test_samples():
    cfg, manifest = utd_manifest(classes=4)
    with pytest.raises(ConfigError) as err:
        check_data(cfg, manifest)
    assert str(err.value) == (
        "experiments.hidden_classes: 5 hidden, but split cross_subject has 4 classes with "
        "training and test samples: set it below 4, or to 0 for no hidden-class experiment"
    )
    cfg["experiments"]["hidden_classes"] = [1, 3]
    check_data(cfg, manifest)
    cfg["experiments"]["hidden_classes"] = [1, 4]
    with pytest.raises(ConfigError, match="4 hidden, but split cross_subject has 4"):
        check_data(cfg, manifest)


def test_ratio_sweep_against_the_training_split_size():
    cfg, manifest = utd_manifest(classes=8)
    cfg["experiments"]["ratios"] = [0.25, 0.9]
    cfg["train"]["variants"]["late_fusion"]["options"] = {"combine": "meta"}
    cfg["experiments"]["ratio_variants"].append("late_fusion")
    problems = data_problems(cfg, manifest)
    # 4 training samples per class: 0.9 keeps all 4, 0.25 keeps 1 (none to hold out)
    assert problems == [
        "experiments.ratios: 0.9 of split cross_subject's 32 training samples is all of them "
        "(at least one per class is kept): drop the ratio",
        "train.variants.late_fusion (ratio25, split cross_subject): tunes on held-out "
        "predictions, but ratio 0.25 leaves one training sample per class and none to hold "
        "out: use a larger ratio, more data, or options.combine other than meta",
    ]


def test_splits_named_by_variants_must_exist():
    cfg, manifest = utd_manifest(classes=8)
    cfg["train"]["variants"]["imu"]["splits"] = ["cross_subjcet"]
    assert data_problems(cfg, manifest) == [
        "train.variants.imu.splits: 'cross_subjcet' is not a split of the dataset; did you "
        "mean cross_subject? (splits: cross_subject)"
    ]


def test_dataset_splits_choose_the_splits_run_and_must_exist():
    from harfuse.plan import variant_splits

    cfg, manifest = utd_manifest(classes=8)
    manifest.attrs["notes"] = ["split2 left out: its lists not found"]
    cfg["dataset"]["splits"] = ["split2"]
    assert data_problems(cfg, manifest) == [
        "dataset.splits: 'split2' is not a split of the dataset (splits: cross_subject); "
        "split2 left out: its lists not found"
    ]
    cfg["dataset"]["splits"] = ["cross_subject"]
    assert variant_splits(cfg, "imu", ["cross_subject", "other"]) == ["cross_subject"]
    cfg["dataset"]["splits"] = None
    assert variant_splits(cfg, "imu", ["cross_subject", "other"]) == ["cross_subject", "other"]


@pytest.mark.slow
def test_the_run_stops_at_parse_time_before_any_job(tmp_path):
    videos = folder.write_fixture(tmp_path / "data" / "videos", per_class=1)
    cfg = folder_config(videos.parent)  # one level too high
    cfg["dataset"]["options"]["test_fration"] = 0.2
    cfg["train"]["variants"]["rgb"]["options"] = {"encoder": {}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, succeed=False)
    assert "did you mean test_fraction?" in out
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()
    cfg["dataset"]["options"].pop("test_fration")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, succeed=False)
    assert f"set dataset.root to {videos}" in out
    assert "train.variants.rgb.options: model 'single' has no option encoder" in out
    assert not (tmp_path / "results").exists()
    cfg["frames"]["fsp"] = 8.0
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, "--dry-run", succeed=False)
    assert "frames.fsp: unknown key; did you mean fps?" in out and "Failed validating" not in out


@pytest.mark.slow
def test_the_run_stops_after_the_manifest_before_any_shard_job(tmp_path):
    cfg = example("utd_mhad")
    cfg["dataset"]["root"] = str(utd_mhad.write_fixture(tmp_path / "UTD", actions=4))
    cfg["features"]["sets"]["video_cnn"]["weights"] = "none"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, succeed=False)
    assert "experiments.hidden_classes: 5 hidden, but split cross_subject has 4" in out
    results = tmp_path / "results" / "utd_mhad"
    assert (results / "manifest.parquet").exists()
    assert sorted(p.name for p in results.iterdir()) == [
        "classes.json",
        "manifest.parquet",
        "quarantine.parquet",
    ]
