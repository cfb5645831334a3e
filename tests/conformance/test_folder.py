"""A folder-per-class copy of real recordings, named as the devices and systems name them.

The ``folder`` layout has no authors' files: it is whatever a user copied off their
devices. The names below follow the conventions those devices document:

- AVCHD camcorders write ``PRIVATE/AVCHD/BDMV/STREAM/00000.MTS``, ``00001.MTS``, ...
  (upper-case extension; AVCHD format specification, "BDMV" directory structure);
- GoPro HERO cameras ``GH010123.MP4`` (GoPro "Camera File Naming Conventions" support
  article); Android camera apps ``VID_20230415_101530.mp4``; iPhones ``IMG_0001.MOV``, and a
  copy converted to MP4 keeps the stem (``IMG_0001.mp4``);
- macOS (13 and later) "Screen Recording 2023-04-15 at 10.15.30 AM.mov", with a NARROW
  NO-BREAK SPACE (U+202F) before "AM";
- macOS leaves ``.DS_Store`` in folders it opened and ``._{name}`` AppleDouble files beside
  each file it copied onto exFAT/FAT drives (hidden: names starting with ``.``); Windows
  Explorer leaves ``Thumbs.db`` (not hidden by name).

Mixed-case extensions (``.Mp4``) and accented names (``Démonstration.avi``) come from
renames by hand. The videos are empty files: the scan only lists them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harfuse.datasets import LayoutError, scan_dataset

NNBSP = "\u202f"
SCREEN = f"Screen Recording 2023-04-15 at 10.15.30{NNBSP}AM.mov"
FILES = {
    "jump": ["00000.MTS", "00001.MTS", "._00000.MTS", ".DS_Store"],
    "run": ["GH010123.MP4", "VID_20230415_101530.Mp4", "Thumbs.db"],
    "hand wave": ["IMG_0001.MOV", "IMG_0001.mp4", SCREEN, "Démonstration.avi"],
    ".Trashes": ["501.mp4"],
}
#: (class, file) -> sample id; "hand wave/IMG_0001.mp4" gets a suffix (see below)
IDS = {
    ("hand wave", "Démonstration.avi"): "hand_wave_D_monstration",
    ("hand wave", "IMG_0001.MOV"): "hand_wave_IMG_0001",
    ("hand wave", SCREEN): "hand_wave_Screen_Recording_2023-04-15_at_10.15.30_AM",
    ("jump", "00000.MTS"): "jump_00000",
    ("jump", "00001.MTS"): "jump_00001",
    ("run", "GH010123.MP4"): "run_GH010123",
    ("run", "VID_20230415_101530.Mp4"): "run_VID_20230415_101530",
}


def make_root(root: Path) -> Path:
    for cls, names in FILES.items():
        (root / cls).mkdir(parents=True)
        for name in names:
            (root / cls / name).touch()
    return root


def test_classes_ids_and_paths_of_device_named_files(tmp_path):
    root = make_root(tmp_path / "videos")
    scan = scan_dataset(root, "folder")
    # hidden folders (.Trashes) are no class; classes sorted by name
    assert scan.classes == ["hand wave", "jump", "run"]
    df = scan.samples
    assert len(df) == 8
    by_file = {
        (Path(path).parent.name, Path(path).name): sid
        for sid, path in zip(df["sample_id"], df["video_path"], strict=True)
    }
    for key, sid in IDS.items():
        assert by_file[key] == sid
    # the converted copy shares its stem with the original: its id is made unique
    twin = by_file[("hand wave", "IMG_0001.mp4")]
    assert twin.startswith("hand_wave_IMG_0001-") and len(twin) == len("hand_wave_IMG_0001") + 9
    assert df["sample_id"].is_unique
    rows = df.set_index("sample_id")
    for (cls, name), sid in IDS.items():
        assert rows.loc[sid, "label"] == cls
        assert rows.loc[sid, "label_idx"] == scan.classes.index(cls)
        assert rows.loc[sid, "video_path"] == str(root / cls / name)
        assert rows.loc[sid, "audio_path"] == rows.loc[sid, "video_path"]
    # hidden files (.DS_Store, ._00000.MTS) are not samples
    assert not any(Path(p).name.startswith(".") for p in df["video_path"])


def test_thumbs_db_is_quarantined_and_hidden_files_are_skipped(tmp_path):
    root = make_root(tmp_path / "videos")
    scan = scan_dataset(root, "folder")
    assert scan.quarantine == [
        {
            "sample_id": "Thumbs",
            "stage": "manifest",
            "reason": f"{root / 'run' / 'Thumbs.db'}: not a video file (.db extension)",
            "label": "run",
        }
    ]


def test_split_is_stratified_per_class(tmp_path):
    root = make_root(tmp_path / "videos")
    df = scan_dataset(root, "folder").samples
    assert set(df["split1"]) == {"train", "test"}
    # test_fraction 0.3: 1 of the 4 "hand wave" videos, 1 of each pair
    assert df.groupby("label")["split1"].apply(lambda s: (s == "test").sum()).to_dict() == {
        "hand wave": 1,
        "jump": 1,
        "run": 1,
    }
    folds = scan_dataset(root, "folder", folds=2)
    assert folds.splits == ["fold1", "fold2"]
    tests = folds.samples[["fold1", "fold2"]].eq("test")
    assert (tests.sum(axis=1) == 1).all()
    assert tests.sum().to_dict() == {"fold1": 4, "fold2": 4}


def test_root_one_level_too_high_names_the_root_to_use(tmp_path):
    make_root(tmp_path / "export" / "videos")
    with pytest.raises(LayoutError, match=r"set dataset\.root to .*export/videos"):
        scan_dataset(tmp_path / "export", "folder")
