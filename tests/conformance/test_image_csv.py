"""The 15-class still-image HAR dataset's CSVs as the authors ship them.

Kaggle "Human Action Recognition (HAR) Dataset" (https://www.kaggle.com/datasets/
meetnagadia/human-action-recognition-har-dataset) unpacks to ``Training_set.csv``
(``filename,label``), ``Testing_set.csv`` (``filename``), ``train/`` and ``test/``; both
folders name their images ``Image_{n}.jpg`` from 1, so every test image shares its name
with a training image. The literals are the first lines of the two CSVs as copied in
sathvik0315/Human-Activity-Detection ``Training_set.csv`` and ``Testing_set.csv`` @
c261251c4c85c782ac7648e0726c61436ffbeb30 (LF line ends, no byte-order mark); the same rows
are in pragathi26/Human-action-recognition-system ``Training_set.csv`` @
726f8c9fdf9c1895c59763708266f0378af92d63, whose header was renamed ``image_path``.

A copy opened and saved again in Excel on Windows ("CSV UTF-8") gains a UTF-8 byte-order
mark and CR LF line ends; that copy is derived here from the literal and must read the same.

The images are empty files: the scan only lists them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harfuse.datasets import LayoutError, scan_dataset

# Training_set.csv, lines 1-11 (header and Image_1 .. Image_10)
TRAINING_SET = (
    b"filename,label\n"
    b"Image_1.jpg,sitting\n"
    b"Image_2.jpg,using_laptop\n"
    b"Image_3.jpg,hugging\n"
    b"Image_4.jpg,sleeping\n"
    b"Image_5.jpg,using_laptop\n"
    b"Image_6.jpg,sleeping\n"
    b"Image_7.jpg,drinking\n"
    b"Image_8.jpg,hugging\n"
    b"Image_9.jpg,clapping\n"
    b"Image_10.jpg,dancing\n"
)
# Testing_set.csv, lines 1-4 (header and Image_1 .. Image_3)
TESTING_SET = b"filename\nImage_1.jpg\nImage_2.jpg\nImage_3.jpg\n"

#: the listed training image left off the disk, for the quarantine
ABSENT = "Image_10.jpg"
LABELS = {
    "Image_1": "sitting",
    "Image_2": "using_laptop",
    "Image_3": "hugging",
    "Image_4": "sleeping",
    "Image_5": "using_laptop",
    "Image_6": "sleeping",
    "Image_7": "drinking",
    "Image_8": "hugging",
    "Image_9": "clapping",
}


def excel_resave(data: bytes) -> bytes:
    """``data`` as Excel on Windows saves it: UTF-8 byte-order mark, CR LF line ends."""
    return b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")


def make_root(root: Path, training: bytes = TRAINING_SET, testing: bytes = TESTING_SET) -> Path:
    """The unpacked archive: both CSVs and an empty file per listed image but ABSENT."""
    root.mkdir(parents=True)
    (root / "Training_set.csv").write_bytes(training)
    (root / "Testing_set.csv").write_bytes(testing)
    for folder, data in (("train", training), ("test", testing)):
        (root / folder).mkdir()
        for line in data.decode("utf-8-sig").splitlines()[1:]:
            name = line.split(",")[0]
            if not (folder == "train" and name == ABSENT):
                (root / folder / name).touch()
    return root


def check(root: Path) -> None:
    """The scan of ``root`` (the literals, as released or re-saved) gives the labels, the
    unlabelled test rows, the holdout split and the quarantine of ABSENT."""
    scan = scan_dataset(root, "image_csv")
    assert scan.splits == ["holdout"]
    # classes are the labels of the images found, sorted (the CSV has no index)
    assert scan.classes == sorted(set(LABELS.values()))
    df = scan.samples
    labelled = df[df["label"] != ""].set_index("sample_id")
    assert labelled["label"].to_dict() == LABELS
    assert (labelled["label_idx"] == labelled["label"].map(scan.classes.index)).all()
    assert all(
        path == str(root / "train" / f"{sid}.jpg") for sid, path in labelled["image_path"].items()
    )
    # one of each pair of a label tests (holdout_fraction 0.2), single images train
    test = labelled[labelled["holdout"] == "test"]
    assert sorted(test["label"]) == ["hugging", "sleeping", "using_laptop"]
    assert (labelled["holdout"] != "unused").all()
    # unlabelled test images: label "", index -1, never trained or tested on; their ids are
    # made unique, since the training images have the same names
    unlabelled = df[df["label"] == ""]
    assert sorted(Path(p).name for p in unlabelled["image_path"]) == [
        "Image_1.jpg",
        "Image_2.jpg",
        "Image_3.jpg",
    ]
    assert all(Path(p).parent == root / "test" for p in unlabelled["image_path"])
    assert (unlabelled["label_idx"] == -1).all() and (unlabelled["holdout"] == "unused").all()
    assert all(re.fullmatch(r"Image_[123]-[0-9a-f]{8}", sid) for sid in unlabelled["sample_id"])
    assert df["sample_id"].is_unique
    assert scan.quarantine == [
        {
            "sample_id": "Image_10",
            "stage": "manifest",
            "reason": f"{root / 'train' / ABSENT} not found",
            "label": "dancing",
        }
    ]


def test_released_csvs_give_labels_holdout_and_unlabelled_rows(tmp_path):
    check(make_root(tmp_path / "har"))


def test_excel_resaved_csvs_with_bom_and_crlf_read_the_same(tmp_path):
    root = make_root(tmp_path / "har", excel_resave(TRAINING_SET), excel_resave(TESTING_SET))
    assert (root / "Training_set.csv").read_bytes().startswith(b"\xef\xbb\xbffilename,label\r\n")
    check(root)


def test_header_renamed_by_a_copy_is_an_error_naming_the_columns(tmp_path):
    # pragathi26/Human-action-recognition-system renamed the first column ``image_path``
    renamed = TRAINING_SET.replace(b"filename,label", b"image_path,label", 1)
    root = make_root(tmp_path / "har", renamed)
    with pytest.raises(LayoutError, match=r"missing columns \['filename'\]"):
        scan_dataset(root, "image_csv")
