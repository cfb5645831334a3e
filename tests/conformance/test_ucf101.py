"""UCF101's split lists as the authors ship them, typed from copies of the official files.

The literals below are lines of ``classInd.txt``, ``trainlist0{1,2,3}.txt`` and
``testlist0{1,2,3}.txt`` from the official archive
https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip (folder
``ucfTrainTestlist/``), each a real line of that file, kept in the file's order; the
comment above each literal names the copy it was read from. The archive's files end
their lines with CR LF (the Windows line end; readers of these lists strip it, e.g.
``x.strip('\\r\\n')`` in the widely copied two-stream-pytorch ``UCF_label`` reader); the stored
copies cited here show LF (git checkouts commonly normalise line ends), so the CR LF is
restored by hand, and an LF copy is checked to read the same.

Split k tests the groups ``7(k-1)+1 .. 7k`` (g01-g07, g08-g14, g15-g21); g22-g25 always
train. Train lines end with the 1-based class index (`` 1``), test lines do not.

The official lists spell the folder ``HandstandPushups`` (as ``classInd.txt`` and the
video folder of ``UCF101.rar``) but the file ``v_HandStandPushups_gGG_cCC.avi`` with a
capital S (testlist02 at the commit cited below; readers such as mmaction2's
``parse_ucf101_splits`` look the folder part up in ``classInd.txt``, which only works with
``HandstandPushups``). Some copies in the wild rewrote the folder to ``HandStandPushups``
(abosun/pytorch-action-master's trainlists), which is not the official spelling.

The videos are empty files: the scan only lists them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harfuse.datasets import LayoutError, scan_dataset

# Lines 1, 2 and 37 of ucfTrainTestlist/classInd.txt, as listed in
# FingerRec/real_time_video_action_recognition list/classInd.txt (quoted in full in a
# stored review of that repository) and, lines 1-2, in
# 0xMarsRover/UCF101_video_classification data/ucfTrainTestlist/classInd.txt
# @ ec55bca62b9b5016553ff88b07fff809d6e12f11.
CLASS_IND = b"1 ApplyEyeMakeup\r\n2 ApplyLipstick\r\n37 HandstandPushups\r\n"

# trainlist01.txt: the ApplyEyeMakeup g08_c01 and g15_c01, ApplyLipstick g08_c01 and
# HandstandPushups g08_c01 lines, as in abosun/pytorch-action-master
# ucfTrainTestlist/trainlist01.txt @ 39c2072e51a5b19a706ace23b5e7ade88c5cf62b (lines 1 and
# 40 are the ApplyEyeMakeup ones; that copy spells the HandstandPushups folder
# ``HandStandPushups``, see the module docstring).
TRAINLIST01 = (
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g15_c01.avi 1\r\n"
    b"ApplyLipstick/v_ApplyLipstick_g08_c01.avi 2\r\n"
    b"HandstandPushups/v_HandStandPushups_g08_c01.avi 37\r\n"
)
# testlist01.txt: the g01_c01 lines, as in abosun/pytorch-action-master
# ucfTrainTestlist/testlist01.txt @ 39c2072e51a5b19a706ace23b5e7ade88c5cf62b (that copy
# has a class index appended to each line by the repository's AddId.py; the official file
# has none, as testlist02/03 of the same repository show).
TESTLIST01 = (
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\n"
    b"ApplyLipstick/v_ApplyLipstick_g01_c01.avi\r\n"
    b"HandstandPushups/v_HandStandPushups_g01_c01.avi\r\n"
)
# trainlist02.txt, as in abosun/pytorch-action-master ucfTrainTestlist/trainlist02.txt
# @ 4b793eef27843ca1355d18acbeb56c6d43990b26 (lines 1 and 45 are the ApplyEyeMakeup ones).
TRAINLIST02 = (
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\r\n"
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g15_c01.avi 1\r\n"
    b"ApplyLipstick/v_ApplyLipstick_g01_c01.avi 2\r\n"
    b"HandstandPushups/v_HandStandPushups_g01_c01.avi 37\r\n"
)
# testlist02.txt, as in abosun/pytorch-action-master ucfTrainTestlist/testlist02.txt
# @ 39c2072e51a5b19a706ace23b5e7ade88c5cf62b (lines 1 and 40; the HandstandPushups line
# is the first of that class, with the official folder spelling).
TESTLIST02 = (
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi\r\n"
    b"ApplyLipstick/v_ApplyLipstick_g08_c01.avi\r\n"
    b"HandstandPushups/v_HandStandPushups_g08_c01.avi\r\n"
)
# trainlist03.txt, as in abosun/pytorch-action-master ucfTrainTestlist/trainlist03.txt
# @ 4b793eef27843ca1355d18acbeb56c6d43990b26 (groups 1-14 and 22-25 of each class).
TRAINLIST03 = (
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\r\n"
    b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
    b"ApplyLipstick/v_ApplyLipstick_g01_c01.avi 2\r\n"
    b"ApplyLipstick/v_ApplyLipstick_g08_c01.avi 2\r\n"
    b"HandstandPushups/v_HandStandPushups_g01_c01.avi 37\r\n"
    b"HandstandPushups/v_HandStandPushups_g08_c01.avi 37\r\n"
)
# testlist03.txt, as in abosun/pytorch-action-master ucfTrainTestlist/testlist03.txt
# @ 39c2072e51a5b19a706ace23b5e7ade88c5cf62b (line 1).
TESTLIST03 = b"ApplyEyeMakeup/v_ApplyEyeMakeup_g15_c01.avi\r\n"

LISTS = {
    "classInd.txt": CLASS_IND,
    "trainlist01.txt": TRAINLIST01,
    "testlist01.txt": TESTLIST01,
    "trainlist02.txt": TRAINLIST02,
    "testlist02.txt": TESTLIST02,
    "trainlist03.txt": TRAINLIST03,
    "testlist03.txt": TESTLIST03,
}

#: videos on disk, as UCF101.rar extracts them: UCF-101/{folder}/{file}
ON_DISK = (
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
    "ApplyEyeMakeup/v_ApplyEyeMakeup_g15_c01.avi",
    "ApplyLipstick/v_ApplyLipstick_g08_c01.avi",
    "HandstandPushups/v_HandStandPushups_g01_c01.avi",
    "HandstandPushups/v_HandStandPushups_g08_c01.avi",
)

#: sample id -> (label, group, clip, split1, split2, split3)
EXPECTED = {
    "v_ApplyEyeMakeup_g01_c01": ("ApplyEyeMakeup", 1, 1, "test", "train", "train"),
    "v_ApplyEyeMakeup_g08_c01": ("ApplyEyeMakeup", 8, 1, "train", "test", "train"),
    "v_ApplyEyeMakeup_g15_c01": ("ApplyEyeMakeup", 15, 1, "train", "train", "test"),
    "v_ApplyLipstick_g08_c01": ("ApplyLipstick", 8, 1, "train", "test", "train"),
    "v_HandStandPushups_g01_c01": ("HandstandPushups", 1, 1, "test", "train", "train"),
    "v_HandStandPushups_g08_c01": ("HandstandPushups", 8, 1, "train", "test", "train"),
}


def make_root(root: Path, lists: dict[str, bytes]) -> Path:
    """``root/ucfTrainTestlist/*`` from ``lists``, the ON_DISK videos (empty) and a
    Windows ``Thumbs.db`` in one class folder."""
    (root / "ucfTrainTestlist").mkdir(parents=True)
    for name, data in lists.items():
        (root / "ucfTrainTestlist" / name).write_bytes(data)
    for rel in ON_DISK:
        video = root / "UCF-101" / rel
        video.parent.mkdir(parents=True, exist_ok=True)
        video.touch()
    (root / "UCF-101" / "ApplyEyeMakeup" / "Thumbs.db").touch()
    return root


def test_official_lists_give_rows_labels_and_three_splits(tmp_path):
    root = make_root(tmp_path / "ucf", LISTS)
    scan = scan_dataset(root, "ucf101")
    assert scan.classes == ["ApplyEyeMakeup", "ApplyLipstick", "HandstandPushups"]
    assert scan.splits == ["split1", "split2", "split3"]
    rows = scan.samples.set_index("sample_id")
    assert sorted(rows.index) == sorted(EXPECTED)
    for sid, (label, group, clip, *splits) in EXPECTED.items():
        row = rows.loc[sid]
        assert row["label"] == label
        assert row["label_idx"] == scan.classes.index(label)
        assert (row["subject"], row["trial"]) == (group, clip)
        assert [row["split1"], row["split2"], row["split3"]] == splits
        folder, name = row["video_path"].split("/")[-2:]
        assert f"{folder}/{name}" in ON_DISK
    # the folder/file case mismatch: the label is the folder, the id keeps the file name
    hsp = rows.loc["v_HandStandPushups_g08_c01"]
    assert hsp["video_path"].endswith("UCF-101/HandstandPushups/v_HandStandPushups_g08_c01.avi")


def test_quarantine_names_the_listed_video_missing_and_the_unlisted_file(tmp_path):
    root = make_root(tmp_path / "ucf", LISTS)
    scan = scan_dataset(root, "ucf101")
    by_id = {q["sample_id"]: q for q in scan.quarantine}
    assert set(by_id) == {"v_ApplyLipstick_g01_c01", "Thumbs"}
    missing = by_id["v_ApplyLipstick_g01_c01"]
    assert missing["label"] == "ApplyLipstick"
    assert missing["stage"] == "manifest"
    assert missing["reason"] == (
        f"ApplyLipstick/v_ApplyLipstick_g01_c01.avi is in the split lists but not under "
        f"{root / 'UCF-101'}"
    )
    thumbs = by_id["Thumbs"]
    assert thumbs["label"] == "ApplyEyeMakeup"
    assert thumbs["reason"] == (
        f"{root / 'UCF-101' / 'ApplyEyeMakeup' / 'Thumbs.db'} is in no train/test list of "
        "ucfTrainTestlist"
    )


def test_lf_copy_of_the_lists_reads_the_same(tmp_path):
    crlf = scan_dataset(make_root(tmp_path / "crlf", LISTS), "ucf101")
    lf_lists = {name: data.replace(b"\r\n", b"\n") for name, data in LISTS.items()}
    lf = scan_dataset(make_root(tmp_path / "lf", lf_lists), "ucf101")
    assert lf.classes == crlf.classes
    columns = ["sample_id", "label", "label_idx", "subject", "trial", "split1", "split2"]
    columns.append("split3")
    assert lf.samples[columns].equals(crlf.samples[columns])
    assert [q["sample_id"] for q in lf.quarantine] == [q["sample_id"] for q in crlf.quarantine]


def test_a_split_without_its_official_list_is_left_out_and_said(tmp_path):
    lists = {name: data for name, data in LISTS.items() if name != "testlist03.txt"}
    root = make_root(tmp_path / "ucf", lists)
    found = scan_dataset(root, "ucf101")
    assert found.splits == ["split1", "split2"]
    assert found.notes == [
        "split3 left out: trainlist03.txt or testlist03.txt not found under "
        f"{root / 'ucfTrainTestlist'}"
    ]
    no_lists = {name: data for name, data in LISTS.items() if name == "classInd.txt"}
    with pytest.raises(LayoutError, match=r"no split with both trainlist0k\.txt"):
        scan_dataset(make_root(tmp_path / "bare", no_lists), "ucf101")
