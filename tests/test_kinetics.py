"""The ``kinetics`` layout: missing downloads, replacements, arrangements, unlabelled test
rows, errors, sample ids, its fixture, example config and README rows (the authors' own
lines are in ``tests/conformance/test_kinetics.py``)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from harfuse.config_schema import ConfigError
from harfuse.datasets import LayoutError, check_dataset, kinetics, scan_dataset
from harfuse.datasets.common import safe_id
from harfuse.store.manifest import assign_shards, validate

from .helpers import REPO

HEADER = ["label", "youtube_id", "time_start", "time_end", "split"]
LABELS = ["abseiling", "air drumming", "zumba"]


def write_csv(root: Path, split: str, rows: list[list], header: list[str] = HEADER) -> None:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    with open(root / "annotations" / f"{split}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def file_name(youtube_id: str, start: int) -> str:
    return f"{youtube_id}_{start:06d}_{start + 10:06d}.mp4"


def listing(root: Path, rows: dict[str, int], missing: float, seed: int = 0) -> set[tuple]:
    """A K400-like root: ``rows[split]`` CSV rows per split, a ``missing`` fraction of each
    split's rows without a video (chosen at random), the others empty files. Returns the
    ``(split, file name, label)`` of the rows without a video."""
    rng = np.random.default_rng(seed)
    absent = set()
    for s, (split, n) in enumerate(rows.items()):
        gone = set(rng.choice(n, round(n * missing), replace=False).tolist())
        table = []
        for i in range(n):
            youtube_id, start = f"v{s}{i:09d}", i % 300
            table.append([LABELS[i % 3], youtube_id, start, start + 10, split])
            if i in gone:
                absent.add((split, file_name(youtube_id, start), LABELS[i % 3]))
            else:
                (root / split).mkdir(parents=True, exist_ok=True)
                (root / split / file_name(youtube_id, start)).touch()
        write_csv(root, split, table)
    return absent


def test_three_percent_not_downloaded_are_exactly_the_quarantine(tmp_path):
    root = tmp_path / "k400"
    absent = listing(root, {"train": 2000, "val": 400, "test": 200}, missing=0.03)
    found = scan_dataset(root, "kinetics")
    assert len(absent) == 60 + 12 + 6
    reason = re.compile(r"not downloaded: (\S+), listed in annotations/(\w+)\.csv, is not in (.+)")
    got = set()
    for q in found.quarantine:
        m = reason.fullmatch(q["reason"])
        assert m and q["stage"] == "manifest", q
        assert m[3] == str(root / m[2])
        got.add((m[2], m[1], q["label"]))
    assert got == absent
    assert {q["sample_id"] for q in found.quarantine} == {n[:-4] for _, n, _ in absent}
    assert found.notes == [
        "train: 60 of 2,000 listed videos not downloaded (quarantined)",
        "val: 12 of 400 listed videos not downloaded (quarantined)",
        "test: 6 of 200 listed videos not downloaded (quarantined)",
        "the annotations name 3 classes, Kinetics-400 has 400: check "
        "dataset.options.version and the annotations folder",
    ]
    df = found.samples
    assert len(df) == 2600 - 78
    assert df["val"].value_counts().to_dict() == {"train": 1940, "test": 388, "unused": 194}
    assert found.classes == LABELS
    assert (df["audio_path"] == df["video_path"]).all()
    validate(assign_shards(df, 256), found.splits)  # the manifest contract holds


def test_replacement_wins_serves_a_missing_video_and_an_unused_one_is_quarantined(tmp_path):
    root = tmp_path / "k400"
    names = [file_name(f"id{i:09d}", 0) for i in range(4)]
    write_csv(root, "train", [["zumba", n[:11], 0, 10, "train"] for n in names])
    write_csv(root, "val", [])
    (root / "train").mkdir()
    for name in names[:3]:
        (root / "train" / name).touch()
    replacement = root / kinetics.REPLACEMENT_DIR
    replacement.mkdir(parents=True)
    for name in (names[0], names[3], file_name("unlisted000", 5)):
        (replacement / name).touch()
    found = scan_dataset(root, "kinetics")
    paths = dict(zip(found.samples["sample_id"], found.samples["video_path"], strict=True))
    assert (
        paths
        == {
            names[0][:-4]: str(replacement / names[0]),  # both exist: the replacement wins
            names[1][:-4]: str(root / "train" / names[1]),
            names[2][:-4]: str(root / "train" / names[2]),
            names[3][:-4]: str(replacement / names[3]),  # only the replacement exists
        }
    )
    assert found.quarantine == [
        {
            "sample_id": "unlisted000_000005_000015",
            "stage": "manifest",
            "reason": f"{replacement / file_name('unlisted000', 5)}: replaces no listed video",
        }
    ]
    assert f"train: 2 listed videos read from {kinetics.REPLACEMENT_DIR}/" in found.notes


def class_folder_root(root: Path) -> Path:
    """Two train and one val video per class, flat under ``{split}/``; the CSV labels."""
    for split, per_class in (("train", 2), ("val", 1)):
        rows = []
        for ci, label in enumerate(LABELS):
            for j in range(per_class):
                youtube_id = f"{split[:2]}{ci}{j}-_abcdef"
                rows.append([label, youtube_id, j, j + 10, split])
                (root / split).mkdir(parents=True, exist_ok=True)
                (root / split / file_name(youtube_id, j)).touch()
        write_csv(root, split, rows)
    return root


def test_k700_class_folders_inside_the_split_folders_are_found(tmp_path):
    root = class_folder_root(tmp_path / "k700")
    for video in sorted((root / "train").iterdir()):  # as the K700-2020 archives extract
        (root / "train" / "some class").mkdir(exist_ok=True)
        video.rename(root / "train" / "some class" / video.name)
    found = scan_dataset(root, "kinetics", version=700)
    train = found.samples[found.samples["val"] == "train"]
    assert len(train) == 6 and not found.quarantine
    assert all("/train/some class/" in p for p in train["video_path"])
    assert sorted(train["label"]) == sorted(LABELS * 2)  # from the CSV, not the folder
    assert found.notes[-1].startswith("the annotations name 3 classes, Kinetics-700-2020 has 700")


def test_arrange_by_classes_links_are_used_when_present_or_asked_for(tmp_path):
    root = class_folder_root(tmp_path / "k400")
    labels = {}
    for split in ("train", "val"):
        for row in pd.read_csv(root / "annotations" / f"{split}.csv").itertuples():
            labels[file_name(row.youtube_id, row.time_start)] = (split, row.label)
    for name, (split, label) in labels.items():
        link = root / "videos" / split / label.replace(" ", "_") / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink((root / split / name).resolve(), link)
    auto = scan_dataset(root, "kinetics")
    assert all(f"{root / 'videos'}/" in p for p in auto.samples["video_path"])
    assert len(auto.samples) == 9 and not auto.quarantine
    flat = scan_dataset(root, "kinetics", arrangement="split")
    assert not any("/videos/" in p for p in flat.samples["video_path"])
    columns = ["sample_id", "label", "label_idx", "val"]
    assert auto.samples[columns].equals(flat.samples[columns])
    bare = class_folder_root(tmp_path / "bare")
    with pytest.raises(
        LayoutError, match=rf"no train/, val/ or test/ video folder under {bare}/videos"
    ):
        check_dataset(bare, "kinetics", {"arrangement": "by_class"})


def test_unlabelled_test_rows_are_processed_but_never_scored(tmp_path):
    root = class_folder_root(tmp_path / "k600")
    write_csv(
        root, "test", [["", "te0000000aa", 3, 13, "test"], ["", "te0000000bb", 4, 14, "test"]]
    )
    (root / "test").mkdir()
    for youtube_id, start in (("te0000000aa", 3), ("te0000000bb", 4)):
        (root / "test" / file_name(youtube_id, start)).touch()
    found = scan_dataset(root, "kinetics")
    test = found.samples[found.samples["video_path"].str.contains("/test/")]
    assert test["label"].tolist() == ["", ""] and test["label_idx"].tolist() == [-1, -1]
    assert test["val"].tolist() == ["unused", "unused"]
    assert "test: 2 videos without a label (processed, not scored: val = unused)" in found.notes
    # K600 / K700: no label column at all
    write_csv(root, "test", [["te0000000aa", 3, 13, "test"]], header=HEADER[1:])
    found = scan_dataset(root, "kinetics")
    assert found.samples["val"].value_counts()["unused"] == 1
    assert found.quarantine[0]["reason"].endswith("not listed in annotations/test.csv")


def test_unlisted_files_bad_rows_and_duplicates_are_quarantined_with_the_reason(tmp_path):
    root = class_folder_root(tmp_path / "k400")
    (root / "val" / file_name("notlisted00", 0)).touch()
    (root / "val" / "readme.txt").write_text("not a video")
    (root / "val" / ".DS_Store").touch()  # hidden: skipped
    rows = pd.read_csv(root / "annotations" / "train.csv", dtype=str).values.tolist()
    rows += [rows[0], ["zumba", "badtime0000", "ten", "20", "train"]]
    write_csv(root, "train", rows)
    found = scan_dataset(root, "kinetics")
    reasons = sorted(q["reason"] for q in found.quarantine)
    assert reasons == sorted(
        [
            f"{root / 'val' / file_name('notlisted00', 0)}: not listed in annotations/val.csv",
            f"{root / 'val' / 'readme.txt'}: not an .mp4 video of the kinetics layout",
            f"{file_name(rows[0][1], 0)} is listed twice in annotations/train.csv (line 8)",
            "annotations/train.csv line 9: time_start / time_end is not a number",
        ]
    )
    assert len(found.samples) == 9


def test_errors_name_the_missing_file_or_folder(tmp_path):
    root = class_folder_root(tmp_path / "k400")
    (root / "annotations" / "val.csv").unlink()
    with pytest.raises(LayoutError, match=rf"annotations/val.csv not found under {root} "):
        check_dataset(root, "kinetics", {})
    with pytest.raises(LayoutError, match="annotations not found under"):
        scan_dataset(tmp_path, "kinetics")
    root = class_folder_root(tmp_path / "nocols")
    (root / "annotations" / "val.csv").write_text("label,id,start,end\n")
    with pytest.raises(LayoutError, match=r"val.csv: missing columns \['youtube_id', 'time_s"):
        check_dataset(root, "kinetics", {})
    (root / "annotations" / "val.csv").write_text("")
    with pytest.raises(LayoutError, match=r"val\.csv is empty"):
        check_dataset(root, "kinetics", {})
    root = class_folder_root(tmp_path / "novideos")
    for split in ("train", "val"):
        for video in (root / split).iterdir():
            video.unlink()
        (root / split).rmdir()
    with pytest.raises(LayoutError, match=rf"no train/, val/ or test/ video folder under {root} "):
        check_dataset(root, "kinetics", {})
    (root / "val").mkdir()
    with pytest.raises(LayoutError, match="no usable sample"):
        scan_dataset(root, "kinetics")


def test_options_are_checked(tmp_path):
    root = class_folder_root(tmp_path / "k400")
    with pytest.raises(ConfigError, match="version: 500; Kinetics is 400, 600 or 700-2020"):
        check_dataset(root, "kinetics", {"version": 500})
    with pytest.raises(ConfigError, match="arrangement: 'classes'; one of auto, split, by_class"):
        check_dataset(root, "kinetics", {"arrangement": "classes"})
    with pytest.raises(ConfigError, match="not an option of the kinetics layout; did you mean"):
        check_dataset(root, "kinetics", {"versions": 400})
    for version in (400, 600, 700, "700-2020"):
        check_dataset(root, "kinetics", {"version": version})


def test_sample_ids_are_the_safe_stems_and_stay_unique(tmp_path):
    tricky = ["-abc_-def", "__x__y__", "a.b-c", "ü-ñ", "", "---", "a b(c)&d", "_-_-Ab9"]
    assert kinetics.safe_ids(pd.Series(tricky, dtype=str)) == [safe_id(t) for t in tricky]
    root = class_folder_root(tmp_path / "k400")
    rows = [["zumba", "-abcdefghij", 0, 10, "val"], ["zumba", "_abcdefghij", 0, 10, "val"]]
    write_csv(root, "val", rows)
    for youtube_id in ("-abcdefghij", "_abcdefghij"):
        (root / "val" / file_name(youtube_id, 0)).touch()
    found = scan_dataset(root, "kinetics")
    val = found.samples[found.samples["val"] == "test"]["sample_id"].tolist()
    assert val[0] == "abcdefghij_000000_000010"
    assert val[1].startswith("abcdefghij_000000_000010-") and len(val[1]) == len(val[0]) + 9


def test_fixture_has_missing_rows_a_replacement_and_unlabelled_test_videos(tmp_path):
    root = kinetics.write_fixture(tmp_path / "fixture")
    found = scan_dataset(root, "kinetics")
    assert found.classes == list(kinetics.FIXTURE_CLASSES)
    assert found.samples["val"].value_counts().to_dict() == {"train": 11, "test": 5, "unused": 3}
    assert [q["reason"].split(",")[0][:16] for q in found.quarantine] == ["not downloaded: "] * 2
    assert found.samples["video_path"].str.contains("replacement_for_corrupted_k400").sum() == 1
    assert (found.samples.loc[found.samples["val"] == "unused", "label"] == "").all()


def test_example_config_and_readme_rows():
    from snakemake.utils import validate as validate_config

    from harfuse.plan import reference_problems
    from harfuse.preflight import raise_problems

    cfg = yaml.safe_load((REPO / "configs" / "kinetics400.yaml").read_text())
    validate_config(cfg, str(REPO / "src/harfuse/config.schema.yaml"))
    raise_problems(reference_problems(cfg))
    assert cfg["dataset"]["layout"] == "kinetics"
    assert cfg["dataset"]["options"]["version"] == 400
    readme = (REPO / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `kinetics` |")]
    assert len(rows) == 2  # the layouts table and the sample-id table
    assert "configs/kinetics400.yaml" in rows[0]
    assert "`0wR5jVB-WPk_000417_000427`" in rows[1]


@pytest.mark.slow
def test_manifest_of_the_fixture_through_the_workflow(tmp_path):
    """``configs/kinetics400.yaml`` on the fixture: the manifest, its notes and the
    quarantine as the workflow writes them."""
    from harfuse.store.manifest import read_manifest
    from harfuse.store.quarantine import read_quarantine

    from .helpers import snakemake, write_config

    cfg = yaml.safe_load((REPO / "configs" / "kinetics400.yaml").read_text())
    cfg["dataset"].update(root=str(kinetics.write_fixture(tmp_path / "k400")), samples_per_shard=8)
    write_config(tmp_path, cfg)
    snakemake(tmp_path, "results/kinetics400/manifest.parquet")
    df = read_manifest(tmp_path / "results/kinetics400/manifest.parquet")
    assert df["val"].value_counts().to_dict() == {"train": 11, "test": 5, "unused": 3}
    assert df["shard"].nunique() == 3
    assert "train: 1 of 12 listed videos not downloaded (quarantined)" in df.attrs["notes"]
    quarantined = read_quarantine([tmp_path / "results/kinetics400/quarantine.parquet"])
    assert quarantined["reason"].str.startswith("not downloaded: ").sum() == 2
