"""Kinetics as the authors ship it, typed by hand from stored copies of their files.

The CSV literals are lines of the Kinetics-600 annotation files as the ActivityNet
crawler stores them (``activitynet/ActivityNet`` ``Crawler/Kinetics/data/``, the copies
mmaction2's ``tools/data/kinetics/README.md`` points to as the official crawler's): the
labelled header ``label,youtube_id,time_start,time_end,split`` of K400 / K600 and the
unlabelled test header ``youtube_id,time_start,time_end,split`` (the DeepMind readme: the
label is "held out for the test set"). The rows below are also Kinetics-400 validation
videos: ``zhengsipeng/SlowFast`` ``data/kinetics400/val.csv`` lists the same clips as
files ``val/{youtube_id}_{start:06d}_{end:06d}.mp4`` of a flat K400 folder with the
alphabetical class index (abseiling 0, air drumming 1).

The folder layout is the CVDF one (``cvdfoundation/kinetics-dataset``):
``k400_downloader.sh`` @ 6a95feca764ce776679e8100da51bc93f8e927a0 puts the CSVs in
``k400/annotations/`` and the extractor the clips in ``k400/{train,val,test}/``;
``arrange_by_classes.py`` @ c111a3d74972af3603a7eed438cac1c4bd500331 links each listed clip
as ``videos/{split}/{label}/{file name}`` (the label with its quotes removed, the
replacement of ``replacement/replacement_for_corrupted_k400/`` when there is one), and its
header counts 246,534 train CSV rows for 240,258 train videos.

The videos are empty files: the scan only lists them.
"""

from __future__ import annotations

import os
from pathlib import Path

from harfuse.datasets import scan_dataset

# activitynet/ActivityNet Crawler/Kinetics/data/kinetics-600_val.csv
# @ 530ac3acc4d46cf8b1916599c6185224f17c6f54: line 1 (the header), then rows of the file
# in its order: the first abseiling row (line 2), the abseiling row of a youtube id
# starting "__", the first acting-in-play row with 4-digit times, the first
# adjusting-glasses row (an id starting "-") and the first air-drumming row ("--").
K600_VAL = (
    "label,youtube_id,time_start,time_end,split\n"
    "abseiling,0wR5jVB-WPk,417,427,val\n"
    "abseiling,__NrybzYzUg,415,425,val\n"
    "acting in play,8EvN-TTHykY,1279,1289,val\n"
    "adjusting glasses,-7O581Lzrb4,154,164,val\n"
    "air drumming,--nQbRBEz2s,104,114,val\n"
)
# activitynet/ActivityNet Crawler/Kinetics/data/kinetics-600_test.csv
# @ 530ac3acc4d46cf8b1916599c6185224f17c6f54: the header (line 1, no label column) and
# rows of the file in its order: line 2, the first id starting "-0", the 4-digit-time row
# of "-74c73MiIes", the first id starting "-_", and an end time past 999.
K600_TEST = (
    "youtube_id,time_start,time_end,split\n"
    "--65_UAU7ao,0,10,test\n"
    "-0ES_MVrg1A,106,116,test\n"
    "-74c73MiIes,1409,1419,test\n"
    "-_JDWNjbozA,65,75,test\n"
    "-aasN7cTtlA,993,1003,test\n"
)
# The same header as K600_VAL (the CVDF K600 train list is train.txt, its train.csv is
# marked "incomplete" in the CVDF README): no train rows here.
HEADER_ONLY = "label,youtube_id,time_start,time_end,split\n"

# zhengsipeng/SlowFast data/kinetics400/val.csv @ 05f76ad59391ba36dc8fbfb96d01321035320d6e:
# the file names (after ".../kinetics400//val/") and class indices of three of its lines:
# the first line, the line of __NrybzYzUg, and the first line of class 1.
SLOWFAST_K400_VAL = {
    "0wR5jVB-WPk_000417_000427.mp4": 0,
    "__NrybzYzUg_000415_000425.mp4": 0,
    "--nQbRBEz2s_000104_000114.mp4": 1,
}

#: the K600_VAL rows on disk (the adjusting-glasses clip is not downloaded)
VAL_ON_DISK = (
    "0wR5jVB-WPk_000417_000427.mp4",
    "__NrybzYzUg_000415_000425.mp4",
    "8EvN-TTHykY_001279_001289.mp4",
    "--nQbRBEz2s_000104_000114.mp4",
)
#: every K600_TEST row, as named on disk
TEST_ON_DISK = (
    "--65_UAU7ao_000000_000010.mp4",
    "-0ES_MVrg1A_000106_000116.mp4",
    "-74c73MiIes_001409_001419.mp4",
    "-_JDWNjbozA_000065_000075.mp4",
    "-aasN7cTtlA_000993_001003.mp4",
)

#: sample id -> (label, val split value): the stem made safe (a leading "-" / "_" goes)
EXPECTED = {
    "0wR5jVB-WPk_000417_000427": ("abseiling", "test"),
    "NrybzYzUg_000415_000425": ("abseiling", "test"),
    "8EvN-TTHykY_001279_001289": ("acting in play", "test"),
    "nQbRBEz2s_000104_000114": ("air drumming", "test"),
    "65_UAU7ao_000000_000010": ("", "unused"),
    "0ES_MVrg1A_000106_000116": ("", "unused"),
    "74c73MiIes_001409_001419": ("", "unused"),
    "JDWNjbozA_000065_000075": ("", "unused"),
    "aasN7cTtlA_000993_001003": ("", "unused"),
}


def make_root(root: Path, csvs: dict[str, str], files: dict[str, tuple[str, ...]]) -> Path:
    """``root/annotations/{split}.csv`` from ``csvs`` and empty ``root/{split}/{name}``."""
    (root / "annotations").mkdir(parents=True)
    for split, text in csvs.items():
        (root / "annotations" / f"{split}.csv").write_text(text)
    for split, names in files.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / split / name).touch()
    return root


def k600_root(root: Path) -> Path:
    csvs = {"train": HEADER_ONLY, "val": K600_VAL, "test": K600_TEST}
    return make_root(root, csvs, {"train": (), "val": VAL_ON_DISK, "test": TEST_ON_DISK})


def test_k600_val_and_unlabelled_test_give_rows_labels_and_the_val_split(tmp_path):
    root = k600_root(tmp_path / "k600")
    found = scan_dataset(root, "kinetics", version=600)
    assert found.splits == ["val"]
    # alphabetical, the classes with a video (adjusting glasses has none on disk)
    assert found.classes == ["abseiling", "acting in play", "air drumming"]
    rows = found.samples.set_index("sample_id")
    assert sorted(rows.index) == sorted(EXPECTED)
    for sid, (label, split) in EXPECTED.items():
        assert (rows.loc[sid, "label"], rows.loc[sid, "val"]) == (label, split), sid
        expected_idx = found.classes.index(label) if label else -1
        assert rows.loc[sid, "label_idx"] == expected_idx
        assert rows.loc[sid, "audio_path"] == rows.loc[sid, "video_path"]
    assert rows.loc["NrybzYzUg_000415_000425", "video_path"] == str(
        root / "val" / "__NrybzYzUg_000415_000425.mp4"
    )
    assert "test: 5 videos without a label (processed, not scored: val = unused)" in found.notes


def test_the_clip_not_downloaded_is_quarantined_with_its_label(tmp_path):
    root = k600_root(tmp_path / "k600")
    found = scan_dataset(root, "kinetics", version=600)
    assert found.quarantine == [
        {
            "sample_id": "7O581Lzrb4_000154_000164",
            "stage": "manifest",
            "reason": (
                "not downloaded: -7O581Lzrb4_000154_000164.mp4, listed in "
                f"annotations/val.csv, is not in {root / 'val'}"
            ),
            "label": "adjusting glasses",
        }
    ]
    assert "val: 1 of 5 listed videos not downloaded (quarantined)" in found.notes


def test_file_names_and_class_index_match_a_kinetics400_val_listing(tmp_path):
    rows = [line for line in K600_VAL.splitlines()[1:] if line.startswith(("abs", "air"))]
    csv = HEADER_ONLY + "\n".join(rows) + "\n"
    root = make_root(
        tmp_path / "k400",
        {"train": HEADER_ONLY, "val": csv},
        {"val": tuple(SLOWFAST_K400_VAL)},
    )
    found = scan_dataset(root, "kinetics")
    assert found.quarantine == []
    paths, indices = found.samples["video_path"], found.samples["label_idx"]
    by_file = {Path(p).name: i for p, i in zip(paths, indices, strict=True)}
    assert by_file == SLOWFAST_K400_VAL


def test_arrange_by_classes_links_are_found_and_the_csv_labels_kept(tmp_path):
    root = k600_root(tmp_path / "k600")
    labels = {line.split(",")[1]: line.split(",")[0] for line in K600_VAL.splitlines()[1:]}
    for name in VAL_ON_DISK:
        link = root / "videos" / "val" / labels[name[:11]] / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink((root / "val" / name).resolve(), link)
    found = scan_dataset(root, "kinetics", version=600)
    val = found.samples[found.samples["val"] == "test"].set_index("sample_id")
    assert val.loc["nQbRBEz2s_000104_000114", "video_path"] == str(
        root / "videos" / "val" / "air drumming" / "--nQbRBEz2s_000104_000114.mp4"
    )
    assert val.loc["nQbRBEz2s_000104_000114", "label"] == "air drumming"
    # videos/ has no test/ folder: the test videos are read from test/ (auto, per split)
    unused = found.samples[found.samples["val"] == "unused"]
    assert sorted(unused["video_path"]) == sorted(str(root / "test" / n) for n in TEST_ON_DISK)
    assert len(found.quarantine) == 1


def test_columns_are_read_by_name_with_the_documented_is_cc_column(tmp_path):
    """The DeepMind Kinetics readme (quoted at
    https://git-disl.github.io/GTDLBench/datasets/kinetics_datasets) documents a sixth
    column, ``is_cc``, held out for the test set. No stored copy of a CSV with it was
    found: the rows are K600_VAL's with ``is_cc`` added (0, an assumed value) and the
    columns moved, which must read the same."""
    rows = K600_VAL.splitlines()[1:]
    moved = ["split,is_cc,youtube_id,label,time_start,time_end"]
    for row in rows:
        label, youtube_id, start, end, split = row.split(",")
        moved.append(f"{split},0,{youtube_id},{label},{start},{end}")
    plain = scan_dataset(k600_root(tmp_path / "plain"), "kinetics", version=600)
    root = k600_root(tmp_path / "moved")
    (root / "annotations" / "val.csv").write_text("\n".join(moved) + "\n")
    found = scan_dataset(root, "kinetics", version=600)
    columns = ["sample_id", "label", "label_idx", "val"]
    assert found.samples[columns].equals(plain.samples[columns])
