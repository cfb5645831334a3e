"""UCF-51: the UCF101 classes whose videos carry an audio track (same files and lists).

Every video's streams are probed. A class is kept when at least ``min_audio_fraction`` of
its videos have audio; the videos of dropped classes, and videos without audio in kept
classes, go to the quarantine table with the reason. Classes are re-indexed in
``classInd.txt`` order. ``dataset.classes`` applies after this filter: N = the first N
classes with audio, and naming a dropped class is an error quoting why it was dropped.
"""

from __future__ import annotations

from pathlib import Path

from harfuse.datasets import Scan, ucf101
from harfuse.datasets.common import finish_rows, probe_audio

#: the same files as UCF101
check_root = ucf101.check_root


def scan(
    root: Path,
    video_dir: str = "UCF-101",
    lists_dir: str = "ucfTrainTestlist",
    min_audio_fraction: float = 0.5,
) -> Scan:
    """UCF101's scan, restricted to the classes with audio."""
    full = ucf101.scan(root, video_dir, lists_dir)
    df = full.samples.copy()
    df["has_audio"] = [probe_audio(Path(p)) for p in df["video_path"]]
    quarantine = list(full.quarantine)
    kept = []
    for cls in full.classes:
        rows = df[df["label"] == cls]
        if rows.empty:
            continue
        fraction = float(rows["has_audio"].eq(True).mean())  # None (unreadable) counts as no
        if fraction >= min_audio_fraction:
            kept.append(cls)
            continue
        reason = (
            f"class {cls} dropped: {int(rows['has_audio'].eq(True).sum())} of "
            f"{len(rows)} videos have an audio track"
        )
        quarantine += [
            {"sample_id": s, "stage": "manifest", "reason": reason, "label": cls}
            for s in rows["sample_id"]
        ]
    in_kept = df["label"].isin(kept)
    with_audio = df["has_audio"].eq(True)
    for row in df[in_kept & ~with_audio].itertuples():
        what = "cannot be opened" if row.has_audio is None else "has no audio track"
        quarantine.append(
            {
                "sample_id": row.sample_id,
                "stage": "manifest",
                "reason": f"{row.video_path} {what}",
                "label": row.label,
            }
        )
    usable = df[in_kept & with_audio].drop(columns="has_audio")
    usable = usable.assign(audio_path=usable["video_path"])
    rows = usable.drop(columns="label_idx").to_dict("records")
    return Scan(finish_rows(rows, kept, full.splits), full.splits, kept, quarantine, full.notes)


def write_fixture(root: Path) -> Path:
    """UCF101's fixture where ApplyEyeMakeup and Basketball have audio and
    HandstandPushups has none (so UCF-51 drops it)."""
    return ucf101.write_fixture(root, audio_classes=("ApplyEyeMakeup", "Basketball"))
