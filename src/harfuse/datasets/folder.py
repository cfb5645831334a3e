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


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def check_root(root: Path) -> None:
    """Raise :class:`LayoutError` unless some ``root/{class}/{video}`` exists; when the
    videos sit one level deeper (``root`` one folder too high), say which root to use."""
    class_dirs = [p for p in _visible(root) if p.is_dir()]
    if any(_is_video(p) for folder in class_dirs for p in _visible(folder)):
        return
    deeper = [
        folder
        for folder in class_dirs
        if any(_is_video(p) for sub in _visible(folder) if sub.is_dir() for p in _visible(sub))
    ]
    hint = (
        f"; the videos are one level deeper: set dataset.root to {deeper[0]}"
        if deeper
        else f"; extensions read as video: {' '.join(VIDEO_EXTENSIONS)}"
    )
    raise LayoutError(f"no {{class}}/{{video}} under {root} (folder layout){hint}")


def scan(root: Path, test_fraction: float = 0.3, folds: int = 0, seed: int = 0) -> Scan:
    """Manifest rows of every video in a class folder."""
    check_root(root)
    class_dirs = [p for p in _visible(root) if p.is_dir()]
    quarantine, found = [], []
    for folder in class_dirs:
        for path in _visible(folder):
            if _is_video(path):
                found.append((folder.name, path))
            else:
                quarantine.append(
                    {
                        "sample_id": safe_id(path.stem),
                        "stage": "manifest",
                        "reason": f"{path}: not a video file ({path.suffix or 'no'} extension)",
                        "label": folder.name,
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
