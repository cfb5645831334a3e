"""Folder per class: ``{root}/{class}/{file}`` for any video extension FFmpeg reads.

Without an official split, ``folds: 0`` gives one seeded stratified split ``split1``
(``test_fraction`` tests); ``folds: k`` gives ``fold1..k``, fold i testing the i-th
stratified k-th of each class. Audio is read from the videos (a video without a track is
recorded as such by the audio stage).
"""

from __future__ import annotations

from pathlib import Path

from harfuse.datasets import Scan
from harfuse.datasets.common import (
    VIDEO_EXTENSIONS,
    LayoutError,
    finish_rows,
    safe_id,
    stratified_folds,
    stratified_test_mask,
    unique_ids,
)
from harfuse.datasets.fixture_media import tiny_video


def scan(root: Path, test_fraction: float = 0.3, folds: int = 0, seed: int = 0) -> Scan:
    """Manifest rows of every video in a class folder."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise LayoutError(f"no class folder under {root} (folder layout: ROOT/CLASS/VIDEO)")
    quarantine, found = [], []
    for folder in class_dirs:
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
                found.append((folder.name, path))
            else:
                quarantine.append(
                    {
                        "sample_id": safe_id(path.stem),
                        "stage": "manifest",
                        "reason": f"{path}: not a video file ({path.suffix or 'no'} extension)",
                    }
                )
    labels = [cls for cls, _ in found]
    ids = unique_ids(safe_id(f"{cls}_{p.stem}") for cls, p in found)
    rows = [
        {"sample_id": sid, "label": cls, "video_path": str(p), "audio_path": str(p)}
        for sid, (cls, p) in zip(ids, found, strict=True)
    ]
    if folds >= 2:
        fold = stratified_folds(labels, folds, seed)
        splits = [f"fold{i + 1}" for i in range(folds)]
        for row, f in zip(rows, fold, strict=True):
            row.update({name: "test" if f == i else "train" for i, name in enumerate(splits)})
    else:
        splits = ["split1"]
        for row, test in zip(rows, stratified_test_mask(labels, test_fraction, seed), strict=True):
            row["split1"] = "test" if test else "train"
    classes = sorted(set(labels))
    return Scan(finish_rows(rows, classes, splits), splits, classes, quarantine)


def write_fixture(root: Path, per_class: int = 5) -> Path:
    """Three class folders with .mp4, .avi, .mkv, .mov and .webm clips (some with audio)."""
    extensions = [".mp4", ".avi", ".mkv", ".mov", ".webm"]
    for ci, cls in enumerate(("jump", "run", "wave")):
        for j in range(per_class):
            ext = extensions[(ci + j) % len(extensions)]
            tiny_video(root / cls / f"clip {j}{ext}", seed=ci * 100 + j, audio=j % 2 == 0)
    (root / "run" / "notes.txt").write_text("not a video")
    return root
