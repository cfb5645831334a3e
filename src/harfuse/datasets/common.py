"""Helpers shared by the dataset adapters: ids, layout checks, rows, probing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

#: extensions the ``folder`` layout takes as video (anything FFmpeg reads)
VIDEO_EXTENSIONS = (
    ".mp4",
    ".avi",
    ".mts",
    ".m2ts",
    ".mkv",
    ".mov",
    ".webm",
    ".mpg",
    ".mpeg",
    ".m4v",
    ".wmv",
    ".flv",
    ".3gp",
)
#: manifest source columns, one per input kind; "" where a sample has none
SOURCE_COLUMNS = ("video_path", "audio_path", "imu_path", "image_path", "skeleton_path")
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")  # "_" too, so runs collapse to one "_"


class LayoutError(FileNotFoundError):
    """The dataset root does not have the expected layout; says what is missing where."""


def require(root: Path, relative: str, layout: str) -> Path:
    """``root / relative``, or :class:`LayoutError` naming what is missing and where."""
    path = root / relative
    if not path.exists():
        raise LayoutError(f"{relative} not found under {root} ({layout} layout)")
    return path


def safe_id(text: str) -> str:
    """A filesystem-safe sample id: runs of other characters become ``_``."""
    cleaned = _UNSAFE.sub("_", text).strip("._-")
    return cleaned or "sample"


def unique_ids(ids: Iterable[str]) -> list[str]:
    """Make sanitised ids unique: a repeated id gets ``-`` and 8 hex digits of its index."""
    out, seen = [], set()
    for i, sid in enumerate(ids):
        if sid in seen:
            sid = f"{sid}-{hashlib.sha256(f'{sid}{i}'.encode()).hexdigest()[:8]}"
        seen.add(sid)
        out.append(sid)
    return out


def finish_rows(rows: list[dict], classes: list[str], splits: list[str]) -> pd.DataFrame:
    """Manifest rows with every source column and ``label_idx`` from ``classes``
    (``-1`` for unlabelled rows, whose ``label`` is ``""``); no rows give an empty frame of
    those columns (:func:`harfuse.datasets.scan_dataset` then says no sample was usable)."""
    df = pd.DataFrame(rows, columns=None if rows else ["sample_id", "label", *splits])
    for column in SOURCE_COLUMNS:
        df[column] = df[column].fillna("").astype(str) if column in df else ""
    for column, default in (("subject", 0), ("session", 0), ("trial", 0)):
        df[column] = df[column].fillna(default).astype(int) if column in df else default
    index = {c: i for i, c in enumerate(classes)}
    df["label_idx"] = [index.get(label, -1) for label in df["label"]]
    first = ["sample_id", "label", "label_idx", "subject", "session", "trial"]
    return df[
        first
        + [*SOURCE_COLUMNS]
        + splits
        + [c for c in df if c not in {*first, *SOURCE_COLUMNS, *splits}]
    ]


def stratified_test_mask(labels: list[str], test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask choosing ``round(n * test_fraction)`` samples of each label (at least
    one when a label has two or more samples), reproducibly for ``seed``."""
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    mask = np.zeros(len(labels_arr), bool)
    for label in sorted(set(labels)):
        idx = np.flatnonzero(labels_arr == label)
        n = round(len(idx) * test_fraction)
        n = min(max(n, 1 if len(idx) > 1 else 0), len(idx) - 1) if len(idx) > 1 else 0
        mask[rng.permutation(idx)[:n]] = True
    return mask


def stratified_folds(labels: list[str], k: int, seed: int) -> np.ndarray:
    """Fold index in ``0..k-1`` per sample, each label dealt round-robin after a seeded
    shuffle, so every fold holds about ``1/k`` of each label."""
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    fold = np.zeros(len(labels_arr), int)
    for label in sorted(set(labels)):
        idx = rng.permutation(np.flatnonzero(labels_arr == label))
        fold[idx] = np.arange(len(idx)) % k
    return fold


def probe_audio(path: Path) -> bool | None:
    """Whether ``path`` has an audio stream; ``None`` when it cannot be opened."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError):
        return None
