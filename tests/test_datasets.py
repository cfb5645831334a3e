"""Every layout: its fixture, its manifest through the workflow, its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harfuse.datasets import LayoutError, adapter, scan_dataset
from harfuse.datasets.common import safe_id, stratified_folds, stratified_test_mask, unique_ids
from harfuse.modalities.registry import available_modalities
from harfuse.plan import reference_problems
from harfuse.preflight import raise_problems
from harfuse.store.manifest import read_manifest

from .helpers import REPO, snakemake, tiny_config, write_config

SCHEMA = str(REPO / "src/harfuse/config.schema.yaml")
LAYOUTS = ["ucf101", "ucf51", "hmdb51", "utd_mhad", "mmact", "ntu_rgbd", "image_csv", "folder"]

#: layout -> (samples, classes, {split: {part: count}}, a few sample ids, modalities)
EXPECTED = {
    "ucf101": (
        24,
        3,
        {"split1": {"train": 18, "test": 6}, "split3": {"train": 18, "test": 6}},
        ["v_ApplyEyeMakeup_g01_c01", "v_HandStandPushups_g04_c02"],
        {"rgb", "flow"},
    ),
    "ucf51": (
        16,
        2,
        {"split2": {"train": 12, "test": 4}},
        ["v_Basketball_g02_c01"],
        {"rgb", "flow", "audio"},
    ),
    "hmdb51": (
        18,
        3,
        {"split1": {"train": 9, "test": 6, "unused": 3}},
        ["Hit_the_bag_wave_u_nm_np1_ba_goo_0", "Clip_cartwheel_f_cm_np1_fr_med_3"],
        {"rgb", "flow"},
    ),
    "utd_mhad": (
        24,
        3,  # of the 27 actions, the fixture's 3 (a model is K-way over those with samples)
        {"cross_subject": {"train": 12, "test": 12}},
        ["a1_s1_t1", "a3_s4_t2"],
        {"rgb", "flow", "imu", "skeleton"},
    ),
    "ntu_rgbd": (
        36,
        3,  # of the 60 actions, the fixture's 3
        {"cross_subject": {"train": 18, "test": 18}, "cross_view": {"train": 24, "test": 12}},
        ["S001C001P001R001A001", "S002C003P003R001A001"],
        {"rgb", "flow", "skeleton"},
    ),
    "mmact": (
        24,
        3,
        {"cross_subject": {"train": 12, "test": 12}, "cross_session": {"train": 12, "test": 12}},
        ["s1_cam1_sc1_se1_checking_time", "s18_cam1_sc1_se2_waving_hand"],
        {"rgb", "flow", "imu"},
    ),
    "image_csv": (
        17,
        3,
        {"holdout": {"train": 12, "test": 3, "unused": 2}},
        ["Image_1", "Image_15"],
        {"rgb"},
    ),
    "folder": (
        15,
        3,
        {"split1": {"train": 9, "test": 6}},
        ["jump_clip_0", "wave_clip_4"],
        {"rgb", "flow", "audio"},
    ),
}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("layouts")
    return {layout: adapter(layout).write_fixture(base / layout) for layout in LAYOUTS}


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_manifest_through_the_workflow(layout, fixtures, tmp_path):
    cfg = tiny_config(layout, fixtures[layout])
    write_config(tmp_path, cfg)
    name = cfg["dataset"]["name"]
    snakemake(tmp_path, f"results/{name}/manifest.parquet")
    df = read_manifest(tmp_path / f"results/{name}/manifest.parquet")
    n, n_classes, splits, some_ids, modalities = EXPECTED[layout]
    assert len(df) == n
    assert len(json.loads((tmp_path / f"results/{name}/classes.json").read_text())) == n_classes
    for split, counts in splits.items():
        assert df[split].value_counts().to_dict() == counts, split
    assert set(some_ids) <= set(df["sample_id"])
    assert available_modalities(df) == modalities
    assert df.attrs["splits"] == list(
        df.columns[
            df.columns.isin(
                [
                    *("split1", "split2", "split3", "cross_subject", "cross_session"),
                    *("cross_view", "cross_setup", "holdout", "fold1"),
                ]
            )
        ]
    )


def test_ucf101_groups_never_cross_train_and_test(fixtures):
    df = scan_dataset(fixtures["ucf101"], "ucf101").samples
    for split in ("split1", "split2", "split3"):
        train = set(df.loc[df[split] == "train", "subject"])
        test = set(df.loc[df[split] == "test", "subject"])
        assert train and test and not train & test, split


def test_ucf101_quarantines_missing_and_unlisted_files(fixtures, tmp_path):
    import shutil

    root = shutil.copytree(fixtures["ucf101"], tmp_path / "ucf")
    (root / "UCF-101/Basketball/v_Basketball_g02_c01.avi").unlink()
    stray = root / "UCF-101/Basketball/v_Basketball_g09_c01.avi"
    stray.write_bytes(b"x")
    found = scan_dataset(root, "ucf101")
    reasons = {q["sample_id"]: q["reason"] for q in found.quarantine}
    assert "not under" in reasons["v_Basketball_g02_c01"]
    assert "is in no train/test list" in reasons["v_Basketball_g09_c01"]
    assert len(found.samples) == 23


def test_ucf101_splits_without_lists_are_left_out_with_a_note(fixtures, tmp_path):
    import shutil

    root = shutil.copytree(fixtures["ucf101"], tmp_path / "ucf")
    for name in ("testlist02.txt", "trainlist03.txt"):  # a copy with split 1's lists only
        (root / "ucfTrainTestlist" / name).unlink()
    found = scan_dataset(root, "ucf101")
    assert found.splits == ["split1"] and "split2" not in found.samples
    assert found.notes == [
        f"split{k} left out: trainlist0{k}.txt or testlist0{k}.txt not found under "
        f"{root / 'ucfTrainTestlist'}"
        for k in (2, 3)
    ]
    for name in ("testlist01.txt",):
        (root / "ucfTrainTestlist" / name).unlink()
    with pytest.raises(LayoutError, match=r"no split with both trainlist0k\.txt and testlist0k"):
        scan_dataset(root, "ucf101")


def test_hmdb51_split_files_absent_for_every_class_leave_the_split_out(fixtures, tmp_path):
    import shutil

    root = shutil.copytree(fixtures["hmdb51"], tmp_path / "hmdb")
    split3 = sorted((root / "testTrainMulti_7030_splits").glob("*_test_split3.txt"))
    split3[0].unlink()
    with pytest.raises(LayoutError, match=r"split3: no \{class\}_test_split3\.txt for"):
        scan_dataset(root, "hmdb51")
    for path in split3[1:]:
        path.unlink()
    found = scan_dataset(root, "hmdb51")
    assert found.splits == ["split1", "split2"] and len(found.notes) == 1


def test_ucf51_drops_silent_classes_with_reasons(fixtures):
    found = scan_dataset(fixtures["ucf51"], "ucf51")
    assert found.classes == ["ApplyEyeMakeup", "Basketball"]
    dropped = [q for q in found.quarantine if "HandstandPushups dropped" in q["reason"]]
    assert len(dropped) == 8 and "0 of 8 videos have an audio track" in dropped[0]["reason"]
    assert (found.samples["audio_path"] == found.samples["video_path"]).all()
    assert found.samples["label_idx"].tolist() == [0] * 8 + [1] * 8


def test_hmdb51_codes_and_unlisted_files(fixtures, tmp_path):
    import shutil

    root = shutil.copytree(fixtures["hmdb51"], tmp_path / "hmdb")
    (root / "wave" / "extra_clip.avi").write_bytes(b"x")
    found = scan_dataset(root, "hmdb51")
    df = found.samples.set_index("sample_id")
    assert df.loc["Clip_wave_f_cm_np1_fr_med_5", "split1"] == "unused"
    assert df.loc["Clip_wave_f_cm_np1_fr_med_1", "split2"] == "test"
    assert any("extra_clip.avi is in no split file" in q["reason"] for q in found.quarantine)
    (root / "testTrainMulti_7030_splits" / "wave_test_split3.txt").unlink()
    with pytest.raises(LayoutError, match=r"split3: no \{class\}_test_split3\.txt for wave under"):
        scan_dataset(root, "hmdb51")


def test_utd_mhad_keeps_video_when_inertial_is_missing(fixtures, tmp_path):
    import shutil

    root = shutil.copytree(fixtures["utd_mhad"], tmp_path / "utd")
    (root / "Inertial" / "a2_s3_t1_inertial.mat").unlink()
    found = scan_dataset(root, "utd_mhad")
    row = found.samples.set_index("sample_id").loc["a2_s3_t1"]
    assert row.imu_path == "" and row.video_path.endswith("a2_s3_t1_color.avi")
    assert row.label == "right_arm_swipe_to_the_right"
    assert any("a2_s3_t1_inertial not found" in q["reason"] for q in found.quarantine)


def test_mmact_streams_and_cameras(fixtures):
    found = scan_dataset(fixtures["mmact"], "mmact", cameras=["cam2"], test_sessions=[1])
    df = found.samples
    assert set(df["camera"]) == {"cam2"}
    assert df["cross_session"].value_counts().to_dict() == {"test": 12, "train": 12}
    streams = json.loads(df["imu_path"][0])
    assert sorted(streams) == ["acc_phone", "acc_watch", "gyro", "orientation"]


def test_classes_by_name_keep_the_official_order_and_splits(fixtures):
    full = scan_dataset(fixtures["ucf101"], "ucf101")
    found = scan_dataset(fixtures["ucf101"], "ucf101", ["HandstandPushups", "ApplyEyeMakeup"])
    assert found.classes == ["ApplyEyeMakeup", "HandstandPushups"]  # classInd.txt order
    df = found.samples
    assert set(df["label"]) == {"ApplyEyeMakeup", "HandstandPushups"} and len(df) == 16
    assert (df["label_idx"] == df["label"].map({"ApplyEyeMakeup": 0, "HandstandPushups": 1})).all()
    kept = full.samples.set_index("sample_id").loc[df["sample_id"], found.splits]
    assert (kept.to_numpy() == df[found.splits].to_numpy()).all()  # splits as the lists say
    assert found.splits == full.splits and found.quarantine == []


def test_classes_first_n_of_the_index_reindexed(fixtures):
    found = scan_dataset(fixtures["ucf101"], "ucf101", 2)
    assert found.classes == ["ApplyEyeMakeup", "Basketball"]
    assert found.notes == [
        "dataset.classes keeps 2 of the dataset's 3 classes: ApplyEyeMakeup, Basketball"
    ]  # the report repeats it
    assert sorted(set(found.samples["label_idx"])) == [0, 1] and len(found.samples) == 16
    # UTD-MHAD's index holds all 27 actions: "first N" counts them, not what is on disk
    found = scan_dataset(fixtures["utd_mhad"], "utd_mhad", 2)
    assert found.classes == ["right_arm_swipe_to_the_left", "right_arm_swipe_to_the_right"]
    assert set(found.samples["label_idx"]) == {0, 1}
    names = scan_dataset(fixtures["mmact"], "mmact", ["waving_hand", "pointing"]).classes
    assert names == ["pointing", "waving_hand"]


def test_unknown_class_is_an_error_naming_it(fixtures):
    from harfuse.config_schema import ConfigError

    with pytest.raises(ConfigError) as err:
        scan_dataset(fixtures["ucf101"], "ucf101", ["Basketbal", "ApplyEyeMakeup", "Archery"])
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("dataset.classes: 'Basketbal' is not a class of the ucf101")
    assert "did you mean Basketball?" in lines[0]
    assert "'Archery'" in lines[1] and "3 classes: ApplyEyeMakeup, Basketball" in lines[1]
    with pytest.raises(ConfigError, match=r"the first 4 classes, but the ucf101 dataset .* has 3"):
        scan_dataset(fixtures["ucf101"], "ucf101", 4)


def test_classes_leave_out_the_quarantine_rows_of_other_classes(fixtures, tmp_path):
    import shutil

    root = shutil.copytree(fixtures["ucf101"], tmp_path / "ucf")
    (root / "UCF-101/Basketball/v_Basketball_g02_c01.avi").unlink()
    (root / "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi").unlink()
    found = scan_dataset(root, "ucf101", ["Basketball"])
    assert [q["sample_id"] for q in found.quarantine] == ["v_Basketball_g02_c01"]
    assert len(found.samples) == 7 and set(found.samples["label_idx"]) == {0}
    from harfuse.store.quarantine import COLUMNS, read_quarantine, write_quarantine

    write_quarantine(tmp_path / "q.parquet", found.quarantine)  # `label` stays in memory
    assert list(read_quarantine([tmp_path / "q.parquet"]).columns) == COLUMNS


def test_ucf51_classes_apply_after_the_audio_filter(fixtures):
    from harfuse.config_schema import ConfigError

    found = scan_dataset(fixtures["ucf51"], "ucf51", 1)
    assert found.classes == ["ApplyEyeMakeup"] and len(found.samples) == 8
    assert found.quarantine == []  # HandstandPushups' rows belong to another class
    with pytest.raises(ConfigError, match=r"quarantined by the scan: class HandstandPushups "):
        scan_dataset(fixtures["ucf51"], "ucf51", ["HandstandPushups"])
    with pytest.raises(ConfigError, match=r"the first 3 classes, but the ucf51 dataset"):
        scan_dataset(fixtures["ucf51"], "ucf51", 3)


def test_classes_through_the_manifest_stage(fixtures, tmp_path, caplog):
    from harfuse.stages import manifest

    caplog.set_level("INFO", logger="harfuse")
    dataset = {
        "root": str(fixtures["hmdb51"]),
        "layout": "hmdb51",
        "classes": ["wave", "cartwheel"],
    }
    out = tmp_path / "m"
    manifest.run(out / "manifest.parquet", out / "classes.json", out / "q.parquet", dataset, 4)
    assert json.loads((out / "classes.json").read_text()) == ["cartwheel", "wave"]
    df = read_manifest(out / "manifest.parquet")
    pairs = set(zip(df["label"], df["label_idx"], strict=True))
    assert pairs == {("cartwheel", 0), ("wave", 1)}
    assert df.attrs["splits"] == ["split1", "split2", "split3"]
    assert "12 of 18 samples kept, 6 of other classes left out" in caplog.text


def test_classes_config_key(fixtures):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from harfuse.config_schema import ConfigError
    from harfuse.datasets import check_dataset

    cfg = yaml.safe_load((REPO / "configs" / "ucf101.yaml").read_text())
    for good in (10, ["Basketball"], None):
        validate({**cfg, "dataset": {**cfg["dataset"], "classes": good}}, SCHEMA)
    for bad in (0, [], ["a", "a"], "ten"):
        with pytest.raises(WorkflowError):
            validate({**cfg, "dataset": {**cfg["dataset"], "classes": bad}}, SCHEMA)
    # MMAct's former scan option is the general key now
    with pytest.raises(
        ConfigError, match=r"options\.classes: .*a class subset is dataset\.classes"
    ):
        check_dataset(fixtures["mmact"], "mmact", {"classes": ["pointing"]})


def test_image_csv_unlabelled_rows_and_bad_csv(fixtures, tmp_path):
    found = scan_dataset(fixtures["image_csv"], "image_csv")
    unlabelled = found.samples[found.samples["label"] == ""]
    assert len(unlabelled) == 2 and set(unlabelled["label_idx"]) == {-1}
    assert set(unlabelled["holdout"]) == {"unused"}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train").mkdir()
    pd.DataFrame({"file": ["a.jpg"]}).to_csv(bad / "Training_set.csv", index=False)
    with pytest.raises(
        LayoutError, match=r"Training_set\.csv: missing columns \['filename', 'label'\]"
    ):
        scan_dataset(bad, "image_csv")


def test_folder_quarantines_non_videos_and_makes_folds(fixtures):
    found = scan_dataset(fixtures["folder"], "folder", folds=5)
    assert found.splits == [f"fold{i}" for i in range(1, 6)]
    df = found.samples
    assert (df[found.splits] == "test").sum(axis=1).eq(1).all()  # each sample tests once
    assert any("notes.txt: not a video file" in q["reason"] for q in found.quarantine)
    extensions = {Path(p).suffix for p in df["video_path"]}
    assert extensions == {".mp4", ".avi", ".mkv", ".mov", ".webm"}


def test_id_and_split_helpers():
    assert safe_id("Hit!_the (bag)") == "Hit_the_bag"
    assert unique_ids(["a", "a", "b"])[:1] == ["a"] and len(set(unique_ids(["a", "a"]))) == 2
    labels = ["x"] * 10 + ["y"] * 5
    mask = stratified_test_mask(labels, 0.2, seed=0)
    assert mask[:10].sum() == 2 and mask[10:].sum() == 1
    assert (mask == stratified_test_mask(labels, 0.2, seed=0)).all()
    folds = stratified_folds(labels, 5, seed=1)
    assert sorted(folds[:10].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_unknown_layout_and_missing_root(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset layout 'no_such_layout'"):
        scan_dataset(tmp_path, "no_such_layout")
    with pytest.raises(LayoutError, match="is not a folder"):
        scan_dataset(tmp_path / "nope", "ucf101")


@pytest.mark.parametrize("layout", [*LAYOUTS, "kinetics"])
def test_a_layout_with_its_lists_but_no_sample_file_is_a_layout_error(layout, fixtures, tmp_path):
    """The folders, split lists and annotation files of a layout without one sample file
    (every video, .mat, .skeleton and image removed): a LayoutError naming the root, not
    a KeyError from the empty table."""
    import shutil

    source = (
        fixtures[layout] if layout in fixtures else adapter(layout).write_fixture(tmp_path / "f")
    )
    lists = {".txt", ".csv", ".json"}
    root = tmp_path / layout
    shutil.copytree(
        source,
        root,
        ignore=lambda folder, names: [
            n for n in names if (Path(folder) / n).is_file() and Path(n).suffix not in lists
        ],
    )
    with pytest.raises(LayoutError, match=re.escape(f"under {root}")):
        scan_dataset(root, layout)


def test_example_configs_are_valid():
    from snakemake.utils import validate

    for layout in [*LAYOUTS]:
        cfg = yaml.safe_load((REPO / "configs" / f"{layout}.yaml").read_text())
        validate(cfg, str(REPO / "src/harfuse/config.schema.yaml"))
        raise_problems(reference_problems(cfg))
        assert cfg["dataset"]["layout"] == layout


@pytest.mark.slow
def test_variants_without_their_modalities_are_skipped_with_a_reason(stills_run):
    summary = pd.read_csv(stills_run / "results/stills/report/summary.csv")
    assert summary["variant"].tolist() == ["still_image"]
    md = (stills_run / "results/stills/report/summary.md").read_text()
    assert "variant flow skipped: dataset stills has no flow" in md
    assert "variant rgb_audio skipped: dataset stills has no audio" in md
    assert not (stills_run / "results/stills/audio").exists()  # unused stages never ran
