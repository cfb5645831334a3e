"""HMDB51: ``{class}/{video}.avi`` plus ``testTrainMulti_7030_splits/``.

Each ``{class}_test_split{k}.txt`` lists the class's videos as ``"video.avi N"``
(1 = train, 2 = test, 0 = unused). Split columns ``split1..3``. Video names with
characters outside ``[A-Za-z0-9._-]`` get sanitised sample ids.
"""

from __future__ import annotations

from pathlib import Path

from harfuse.datasets import Scan
from harfuse.datasets.common import LayoutError, finish_rows, require, safe_id, unique_ids
from harfuse.datasets.fixture_media import tiny_video

SPLITS = (1, 2, 3)
_CODES = {"0": "unused", "1": "train", "2": "test"}


def check_root(root: Path, splits_dir: str) -> list[str]:
    """The class names of the split files, or :class:`LayoutError` when ``root/splits_dir``
    holds no ``{class}_test_split1.txt``."""
    split_root = require(root, splits_dir, "hmdb51")
    classes = sorted(
        p.name.removesuffix("_test_split1.txt") for p in split_root.glob("*_test_split1.txt")
    )
    if not classes:
        raise LayoutError(f"no {{class}}_test_split1.txt under {split_root} (hmdb51 layout)")
    return classes


def present_splits(root: Path, splits_dir: str, classes: list[str]) -> list[int]:
    """The splits ``k`` with a ``{class}_test_split{k}.txt`` for every class;
    :class:`LayoutError` naming the classes that lack the file of a split others have."""
    present = []
    for k in SPLITS:
        lacking = [
            c for c in classes if not (root / splits_dir / f"{c}_test_split{k}.txt").is_file()
        ]
        if lacking and len(lacking) < len(classes):
            raise LayoutError(
                f"split{k}: no {{class}}_test_split{k}.txt for {', '.join(lacking[:5])}"
                f"{' ...' if len(lacking) > 5 else ''} under {root / splits_dir}, though other "
                "classes have one (hmdb51 layout)"
            )
        if not lacking:
            present.append(k)
    return present


def scan(root: Path, video_dir: str = ".", splits_dir: str = "testTrainMulti_7030_splits") -> Scan:
    """Manifest rows of every video listed in the split files and found on disk; a split
    whose files are absent for every class is left out (a note says so), not an error."""
    classes = check_root(root, splits_dir)
    videos_root = root / video_dir
    present = present_splits(root, splits_dir, classes)
    notes = [
        f"split{k} left out: no {{class}}_test_split{k}.txt under {root / splits_dir}"
        for k in SPLITS
        if k not in present
    ]
    assignment: dict[tuple[str, str], dict[str, str]] = {}
    for cls in classes:
        for k in present:
            path = require(root, f"{splits_dir}/{cls}_test_split{k}.txt", "hmdb51")
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                name, code = line.rsplit(maxsplit=1)
                if code not in _CODES:
                    raise LayoutError(f"{path}: split code {code!r} for {name} is not 0, 1 or 2")
                assignment.setdefault((cls, name.strip()), {})[f"split{k}"] = _CODES[code]
    quarantine, rows = [], []
    on_disk = {
        (p.parent.name, p.name): p
        for cls in classes
        for p in sorted((videos_root / cls).glob("*"))
        if p.is_file()
    }
    for cls, name in sorted(set(assignment) - set(on_disk)):
        quarantine.append(
            {
                "sample_id": safe_id(Path(name).stem),
                "stage": "manifest",
                "reason": f"{cls}/{name} is in the split files but not on disk",
                "label": cls,
            }
        )
    keys = sorted(set(on_disk))
    ids = unique_ids(safe_id(Path(name).stem) for _, name in keys)
    for (cls, name), sid in zip(keys, ids, strict=True):
        if (cls, name) not in assignment:
            quarantine.append(
                {
                    "sample_id": sid,
                    "stage": "manifest",
                    "reason": f"{on_disk[cls, name]} is in no split file",
                    "label": cls,
                }
            )
            continue
        splits = {f"split{k}": assignment[cls, name].get(f"split{k}", "unused") for k in present}
        rows.append(
            {"sample_id": sid, "label": cls, "video_path": str(on_disk[cls, name]), **splits}
        )
    names = [f"split{k}" for k in present]
    return Scan(finish_rows(rows, classes, names), names, classes, quarantine, notes)


FIXTURE_CLASSES = ("brush_hair", "cartwheel", "wave")


def write_fixture(root: Path, per_class: int = 6) -> Path:
    """A miniature HMDB51: 3 classes x ``per_class`` .avi files with HMDB-style names
    (one with ``!`` and parentheses), split k: video k-1 and k+2 test, the last unused."""
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True, exist_ok=True)
    for ci, cls in enumerate(FIXTURE_CLASSES):
        names = [f"Clip_{cls}_f_cm_np1_fr_med_{i}.avi" for i in range(per_class)]
        names[0] = f"Hit!_the_(bag)_{cls}_u_nm_np1_ba_goo_0.avi"
        for i, name in enumerate(names):
            tiny_video(root / cls / name, seed=100 * ci + i)
        for k in SPLITS:
            codes = ["1"] * per_class
            codes[k - 1] = codes[(k + 2) % (per_class - 1)] = "2"
            codes[-1] = "0"
            text = "".join(f"{n} {c} \n" for n, c in zip(names, codes, strict=True))
            (splits / f"{cls}_test_split{k}.txt").write_text(text)
    return root
