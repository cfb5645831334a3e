"""Still images with a label CSV: the 15-class still-image HAR layout.

``Training_set.csv`` (``filename,label``) names images in ``train/``; the optional
``Testing_set.csv`` (``filename``) names unlabelled images in ``test/``. The labelled
images get one split column, ``holdout``: a seeded stratified ``holdout_fraction`` tests,
the rest trains. Unlabelled images get label ``""``, ``label_idx`` -1 and ``unused``; they
are processed (frames, features) so that a trained model can predict them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harfuse.datasets import Scan
from harfuse.datasets.common import (
    LayoutError,
    finish_rows,
    require,
    safe_id,
    stratified_test_mask,
    unique_ids,
)
from harfuse.datasets.fixture_media import tiny_image
from harfuse.media.frames import IMAGE_EXTENSIONS

CLASSES_15 = (
    "calling",
    "clapping",
    "cycling",
    "dancing",
    "drinking",
    "eating",
    "fighting",
    "hugging",
    "laughing",
    "listening_to_music",
    "running",
    "sitting",
    "sleeping",
    "texting",
    "using_laptop",
)


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise LayoutError(f"{path}: missing columns {missing} (has {list(df.columns)})")
    return df


def check_root(root: Path, train_csv: str, image_dir: str) -> None:
    """Raise :class:`LayoutError` unless ``root`` holds the training CSV and its images
    folder."""
    require(root, train_csv, "image_csv")
    require(root, image_dir, "image_csv")


def scan(
    root: Path,
    train_csv: str = "Training_set.csv",
    image_dir: str = "train",
    test_csv: str | None = "Testing_set.csv",
    test_image_dir: str = "test",
    holdout_fraction: float = 0.2,
    seed: int = 0,
) -> Scan:
    """Manifest rows of every image named in the CSVs and found on disk."""
    check_root(root, train_csv, image_dir)
    labelled = _read_csv(require(root, train_csv, "image_csv"), ["filename", "label"])
    images = require(root, image_dir, "image_csv")
    tables = [(labelled, images)]
    if test_csv and (root / test_csv).exists():
        test = _read_csv(root / test_csv, ["filename"]).assign(label="")
        tables.append((test, require(root, test_image_dir, "image_csv")))
    quarantine, rows = [], []
    for table, folder in tables:
        listed = set(table["filename"])
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_EXTENSIONS and path.name not in listed:
                quarantine.append(
                    {
                        "sample_id": safe_id(path.stem),
                        "stage": "manifest",
                        "reason": f"{path} is not in the CSV",
                    }
                )
        for record in table.itertuples():
            path = folder / record.filename
            if not path.is_file():
                quarantine.append(
                    {
                        "sample_id": safe_id(Path(record.filename).stem),
                        "stage": "manifest",
                        "reason": f"{path} not found",
                        "label": record.label,
                    }
                )
                continue
            rows.append(
                {
                    "label": record.label,
                    "image_path": str(path),
                    "sample_id": safe_id(Path(record.filename).stem),
                }
            )
    for row, sid in zip(rows, unique_ids(r["sample_id"] for r in rows), strict=True):
        row["sample_id"] = sid
    labels = [r["label"] for r in rows if r["label"]]
    test_mask = iter(stratified_test_mask(labels, holdout_fraction, seed))
    for row in rows:
        row["holdout"] = ("test" if next(test_mask) else "train") if row["label"] else "unused"
    classes = sorted(set(labels))
    return Scan(finish_rows(rows, classes, ["holdout"]), ["holdout"], classes, quarantine)


def write_fixture(root: Path, classes: int = 3, per_class: int = 5, unlabelled: int = 2) -> Path:
    """A miniature of the layout: ``Image_{i}.jpg`` files, both CSVs."""
    records = []
    for ci, label in enumerate(CLASSES_15[:classes]):
        for j in range(per_class):
            name = f"Image_{ci * per_class + j + 1}.jpg"
            tiny_image(root / "train" / name, seed=ci * 100 + j)
            records.append({"filename": name, "label": label})
    pd.DataFrame(records).to_csv(root / "Training_set.csv", index=False)
    test = [f"Image_{i + 1}.jpg" for i in range(unlabelled)]
    for i, name in enumerate(test):
        tiny_image(root / "test" / name, seed=9000 + i)
    pd.DataFrame({"filename": test}).to_csv(root / "Testing_set.csv", index=False)
    return root
