"""UCF101: ``UCF-101/{Class}/v_{Class}_g{GG}_c{CC}.avi`` plus ``ucfTrainTestlist/``.

``classInd.txt`` lines are ``"1 ApplyEyeMakeup"``; ``trainlist0{k}.txt`` lines are
``"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"``; ``testlist0{k}.txt`` lines hold the
path only. Split columns ``split1..3``; the group ``gGG`` is the subject (the official
splits never put one group in both train and test), the clip ``cCC`` the trial.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from harfuse.datasets import Scan
from harfuse.datasets.common import LayoutError, finish_rows, require, safe_id
from harfuse.datasets.fixture_media import tiny_video

log = logging.getLogger(__name__)
_NAME = re.compile(r"^v_(?P<cls>.+)_g(?P<group>\d+)_c(?P<clip>\d+)\.\w+$")
SPLITS = (1, 2, 3)


def read_class_index(path: Path) -> list[str]:
    """Class names in ``classInd.txt`` order (index 1 first)."""
    pairs = []
    for line in path.read_text().splitlines():
        if line.strip():
            index, name = line.split()
            pairs.append((int(index), name))
    return [name for _, name in sorted(pairs)]


def read_list(path: Path) -> list[str]:
    """Relative video paths of a train/test list (labels, when present, dropped)."""
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def present_splits(root: Path, lists_dir: str) -> list[int]:
    """The splits ``k`` whose ``trainlist0k.txt`` and ``testlist0k.txt`` are both under
    ``root/lists_dir``."""
    return [
        k
        for k in SPLITS
        if all((root / lists_dir / f"{part}list0{k}.txt").is_file() for part in ("train", "test"))
    ]


def check_root(root: Path, video_dir: str, lists_dir: str) -> None:
    """Raise :class:`LayoutError` unless the class index, the two lists of at least one
    split and some ``video_dir/{class}/{video}`` are under ``root``."""
    require(root, f"{lists_dir}/classInd.txt", "ucf101")
    if not present_splits(root, lists_dir):
        raise LayoutError(
            f"no split with both trainlist0k.txt and testlist0k.txt (k = 1, 2, 3) under "
            f"{root / lists_dir} (ucf101 layout)"
        )
    if next(require(root, video_dir, "ucf101").glob("*/*"), None) is None:
        raise LayoutError(f"no {{class}}/{{video}} under {root / video_dir} (ucf101 layout)")


def left_out_splits(root: Path, lists_dir: str, present: list[int]) -> list[str]:
    """A note (and a warning) per official split whose lists are absent."""
    notes = [
        f"split{k} left out: trainlist0{k}.txt or testlist0{k}.txt not found under "
        f"{root / lists_dir}"
        for k in SPLITS
        if k not in present
    ]
    for note in notes:
        log.warning("ucf101: %s", note)
    return notes


def split_assignment(root: Path, lists_dir: str, splits: list[int]) -> dict[str, dict[str, str]]:
    """``{relative video path: {"split{k}": "train" | "test"}}`` from the lists of
    ``splits``."""
    assignment: dict[str, dict[str, str]] = {}
    for k in splits:
        for part in ("train", "test"):
            list_name = f"{part}list0{k}.txt"
            for rel in read_list(require(root, f"{lists_dir}/{list_name}", "ucf101")):
                assignment.setdefault(rel, {})[f"split{k}"] = part
    return assignment


def scan(root: Path, video_dir: str = "UCF-101", lists_dir: str = "ucfTrainTestlist") -> Scan:
    """Manifest rows of every listed video found under ``root/video_dir``; a split whose
    lists are absent is left out (a note says so), not an error."""
    check_root(root, video_dir, lists_dir)
    videos_root = require(root, video_dir, "ucf101")
    classes = read_class_index(require(root, f"{lists_dir}/classInd.txt", "ucf101"))
    present = present_splits(root, lists_dir)
    notes = left_out_splits(root, lists_dir, present)
    assignment = split_assignment(root, lists_dir, present)
    quarantine: list[dict[str, str]] = []
    on_disk = {
        p.relative_to(videos_root).as_posix(): p
        for p in sorted(videos_root.glob("*/*"))
        if p.is_file()
    }
    for rel in sorted(set(assignment) - set(on_disk)):
        quarantine.append(
            {
                "sample_id": safe_id(Path(rel).stem),
                "stage": "manifest",
                "reason": f"{rel} is in the split lists but not under {videos_root}",
                "label": rel.split("/")[0],
            }
        )
    rows = []
    for rel, path in on_disk.items():
        sid = safe_id(path.stem)
        m = _NAME.match(path.name)
        cls = rel.split("/")[0]
        if rel not in assignment:
            reason = f"{path} is in no train/test list of {lists_dir}"
        elif cls not in classes:
            reason = f"{path}: class folder {cls} not in classInd.txt"
        elif not m:
            reason = f"{path}: name is not v_{{Class}}_g{{GG}}_c{{CC}}"
        else:
            reason = None
        if reason:
            quarantine.append(
                {"sample_id": sid, "stage": "manifest", "reason": reason, "label": cls}
            )
            continue
        splits = {f"split{k}": assignment[rel].get(f"split{k}", "unused") for k in present}
        rows.append(
            {
                "sample_id": sid,
                "label": cls,
                "subject": int(m["group"]),
                "trial": int(m["clip"]),
                "video_path": str(path),
                **splits,
            }
        )
    names = [f"split{k}" for k in present]
    return Scan(finish_rows(rows, classes, names), names, classes, quarantine, notes)


#: fixture classes; the folder/file case mismatch of HandstandPushups is the real one
FIXTURE_CLASSES = {
    "ApplyEyeMakeup": "ApplyEyeMakeup",
    "Basketball": "Basketball",
    "HandstandPushups": "HandStandPushups",
}


def write_fixture(root: Path, groups: int = 4, clips: int = 2, audio_classes: tuple = ()) -> Path:
    """A miniature UCF101: 3 classes x ``groups`` groups x ``clips`` clips, tiny .avi
    files (with a tone in ``audio_classes``), and 3 splits: split k tests group k."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    index = "".join(f"{i} {c}\r\n" for i, c in enumerate(FIXTURE_CLASSES, 1))
    (lists / "classInd.txt").write_text(index)
    entries = []
    for ci, (folder, file_cls) in enumerate(FIXTURE_CLASSES.items(), 1):
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                rel = f"{folder}/v_{file_cls}_g{g:02d}_c{c:02d}.avi"
                tiny_video(
                    root / "UCF-101" / rel,
                    seed=ci * 1000 + g * 10 + c,
                    audio=folder in audio_classes,
                )
                entries.append((rel, ci, g))
    for k in SPLITS:
        train = "".join(f"{rel} {ci}\r\n" for rel, ci, g in entries if g != k)
        test = "".join(f"{rel}\r\n" for rel, ci, g in entries if g == k)
        (lists / f"trainlist0{k}.txt").write_text(train)
        (lists / f"testlist0{k}.txt").write_text(test)
    return root
