"""Kinetics-400 / 600 / 700-2020 as the CVDF distribution lays it out
(github.com/cvdfoundation/kinetics-dataset, ``k400_downloader.sh`` + ``k400_extractor.sh``
and their k600 / k700_2020 twins)::

    {root}/annotations/{train,val,test}.csv
    {root}/{train,val,test}/{youtube_id}_{start:06d}_{end:06d}.mp4           (K400, K600)
    {root}/{train,val,test}/{label}/{youtube_id}_{start:06d}_{end:06d}.mp4   (K700-2020)
    {root}/replacement/replacement_for_corrupted_k400/{same file names}.mp4  (K400)
    {root}/videos/{train,val,test}/{label}/{same file names}.mp4             (arrange_by_classes.py)

CSVs: header ``label,youtube_id,time_start,time_end,split`` (the DeepMind readme adds
``is_cc``; other columns are ignored), read by column name; ``time_start`` / ``time_end``
are whole seconds (``int(float(x))``, as mmaction2's ``parse_kinetics_splits`` reads them),
so a row names the file ``{youtube_id}_{start:06d}_{end:06d}.mp4``. A test CSV without a
``label`` column (K600's ``test.csv``; the DeepMind readme says test labels are held
out) or with empty labels gives unlabelled samples: label ``""``, ``label_idx`` -1,
processed (frames, audio, features) but never trained or scored, as ``image_csv``'s
unlabelled images. ``train.csv`` and ``val.csv`` are required, ``test.csv`` is optional
(a note says when it is absent). For K600 the CVDF downloader fetches ``train.txt`` /
``val.txt`` instead (its README marks the CVDF ``train.csv`` / ``val.csv`` incomplete):
put the DeepMind K600 CSVs there.

Videos (``arrangement``): ``split`` = ``{root}/{split}/``, the files directly in it or one
class folder down (the K700-2020 archives extract one folder per class, e.g.
``train/abseiling/``); ``by_class`` =
``{root}/videos/{split}/{label}/`` (symlinks) as the CVDF ``arrange_by_classes.py`` makes;
``auto`` (default) = per split, ``{root}/videos/{split}/`` when that folder exists, else
``{root}/{split}/``. Each split's CSV is matched to its own folder by file name, with one
``os.scandir`` per folder (nothing is probed or stat'ed per file). The CSV is the
authority on labels: class folder names are not read (mmaction2's
``rename_classnames.sh`` renames them). A file of ``replacement_for_corrupted_k400/``
replaces the split folder's file of the same name (the replacement wins when both exist;
it also serves a listed video missing from the split folder).

Quarantined (stage ``manifest``), never an error: CSV rows whose video is not on disk
(``"not downloaded: ..."``; K400's ``train.csv`` lists 246,534 videos, CVDF holds 240,258,
per ``arrange_by_classes.py``), one note per split counting them; rows whose times are
not numbers; a file name listed twice in a CSV (the second); files no CSV of their split
lists, non-``.mp4`` files, and replacement files that replace no listed video.

One split column, ``val`` (Kinetics is evaluated on its validation set): ``train.csv``
rows train, ``val.csv`` rows test, ``test.csv`` rows are ``unused`` (processed, not
scored; K400's test labels are kept as labels but not used). Classes: the sorted label
names of the CSVs (Python ``str`` order), the usual Kinetics index: mmaction2's
``parse_kinetics_splits`` numbers ``sorted(set(labels of the train CSV))`` (spaces made
``_`` first, which does not change the order of the Kinetics names) and its
``label_map_k700.txt`` lists the 700 classes alphabetically (abseiling ... zumba). The
sample id is the file stem made safe (``safe_id``: the ``_`` and ``-`` of YouTube ids are
kept, a leading ``-``/``_`` is dropped; an id that repeats gets a suffix, ``unique_ids``).
Audio is read from the videos (``audio_path`` = ``video_path``, the ``folder`` layout's
convention; a clip without a track is recorded as such by the audio stage). ``version``
(400, 600, 700 or ``"700-2020"``) is checked against the number of classes (a note when
they differ).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harfuse.config_schema import ConfigError
from harfuse.datasets import Scan
from harfuse.datasets.common import (
    _UNSAFE,
    LayoutError,
    finish_rows,
    require,
    safe_id,
    unique_ids,
)
from harfuse.datasets.fixture_media import tiny_video

#: version name -> number of classes
VERSIONS = {"400": 400, "600": 600, "700-2020": 700}
#: the CSV / video folder of each split, in manifest order
SPLITS = ("train", "val", "test")
#: the one split column, and the role of each CSV's rows in it
SPLIT_COLUMN = "val"
ROLE = {"train": "train", "val": "test", "test": "unused"}
REPLACEMENT_DIR = "replacement/replacement_for_corrupted_k400"
ARRANGED_DIR = "videos"
ARRANGEMENTS = ("auto", "split", "by_class")
KEY_COLUMNS = ("youtube_id", "time_start", "time_end")
#: (path, reason) of a file the scan rejects
Reject = tuple[str, str]


def version_name(version: int | str) -> str:
    """``"400"``, ``"600"`` or ``"700-2020"`` for ``version`` (700 is 700-2020, the edition
    CVDF hosts); :class:`ConfigError` otherwise."""
    name = str(version).strip()
    name = "700-2020" if name == "700" else name
    if name not in VERSIONS:
        raise ConfigError(
            f"dataset.options.version: {version!r}; Kinetics is 400, 600 or 700-2020 (or 700)"
        )
    return name


def video_folders(root: Path, arrangement: str) -> dict[str, Path]:
    """``{split: folder of its videos}``: ``root/videos/{split}`` (``by_class``, or
    ``auto`` when that folder exists) or ``root/{split}`` (module docstring);
    :class:`ConfigError` for an unknown ``arrangement``."""
    if arrangement not in ARRANGEMENTS:
        raise ConfigError(
            f"dataset.options.arrangement: {arrangement!r}; one of {', '.join(ARRANGEMENTS)}"
        )
    folders = {}
    for split in SPLITS:
        arranged = root / ARRANGED_DIR / split
        by_class = arrangement == "by_class" or (arrangement == "auto" and arranged.is_dir())
        folders[split] = arranged if by_class else root / split
    return folders


def check_columns(path: Path, columns: list[str], split: str) -> None:
    """:class:`LayoutError` unless ``columns`` (a CSV's header) has ``youtube_id``,
    ``time_start``, ``time_end`` and, but in the test CSV, ``label``."""
    need = [*KEY_COLUMNS, *([] if split == "test" else ["label"])]
    missing = [c for c in need if c not in columns]
    if missing:
        raise LayoutError(
            f"{path}: missing columns {missing} (has {columns}); a Kinetics CSV's header is "
            "label,youtube_id,time_start,time_end,split (kinetics layout)"
        )


def check_root(
    root: Path, version: int | str, arrangement: str, annotations: str
) -> dict[str, Path]:
    """The video folder of each split (:func:`video_folders`), after checking (headers
    only, no media) that ``root/annotations`` holds ``train.csv`` and ``val.csv`` with the
    Kinetics columns and that a split video folder exists: :class:`LayoutError` naming what is
    missing where, :class:`ConfigError` for a bad ``version`` or ``arrangement``."""
    version_name(version)
    require(root, annotations, "kinetics")
    for split in SPLITS:
        path = root / annotations / f"{split}.csv"
        if split != "test":
            require(root, f"{annotations}/{split}.csv", "kinetics")
        if path.is_file():
            try:
                header = list(pd.read_csv(path, nrows=0).columns)
            except pd.errors.EmptyDataError:
                raise LayoutError(f"{path} is empty (kinetics layout)") from None
            check_columns(path, header, split)
    folders = video_folders(root, arrangement)
    if not any(folder.is_dir() for folder in folders.values()):
        looked = "" if arrangement == "by_class" else " nor under " + str(root / ARRANGED_DIR)
        raise LayoutError(
            f"no train/, val/ or test/ video folder under {folders['val'].parent}{looked} "
            f"(kinetics layout, arrangement {arrangement})"
        )
    return folders


def _scan_folder(path: str, videos: dict[str, str], rejects: list[Reject], deeper: bool) -> None:
    """Add ``path``'s ``.mp4`` files to ``videos`` (file name -> path) and its other files
    to ``rejects``; with ``deeper``, the same for its subfolders (class folders)."""
    with os.scandir(path) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if name.endswith(".mp4"):
                if name in videos:
                    rejects.append((entry.path, f"same file name as {videos[name]}"))
                else:
                    videos[name] = entry.path
            elif deeper and entry.is_dir():
                _scan_folder(entry.path, videos, rejects, False)
            else:
                rejects.append((entry.path, "not an .mp4 video of the kinetics layout"))


def list_videos(folder: Path) -> tuple[dict[str, str], list[Reject]]:
    """``({file name: path}, rejects)`` of the ``.mp4`` files in ``folder`` and in its
    subfolders (class folders), hidden files skipped; empty when ``folder`` is absent."""
    videos: dict[str, str] = {}
    rejects: list[Reject] = []
    if folder.is_dir():
        _scan_folder(str(folder), videos, rejects, True)
    return videos, rejects


def _seconds(column: pd.Series) -> pd.Series:
    """Whole seconds of a time column as 6-digit strings (``int(float(x))`` zero-padded),
    ``""`` where not a number >= 0; plain digit strings (all of them in the Kinetics CSVs)
    take a string-only path."""
    digits = column.str.fullmatch(r"\d+")
    text = column.str.lstrip("0").str.zfill(6)
    if digits.all():
        return text
    value = pd.to_numeric(column.where(~digits), errors="coerce")
    ok = value.notna() & (value >= 0)
    other = value.where(ok, 0).astype("int64").astype(str).str.zfill(6).where(ok, "")
    return text.where(digits, other)


def safe_ids(texts: pd.Series) -> list[str]:
    """:func:`~harfuse.datasets.common.safe_id` of each of ``texts``, vectorised (the same
    pattern and strip, run by pandas' string kernels instead of once per row)."""
    cleaned = texts.str.replace(_UNSAFE.pattern, "_", regex=True).str.strip("._-")
    return cleaned.where(cleaned != "", "sample").tolist()


@dataclass
class Annotations:
    """A split's CSV rows, in the file's order (row ``i`` is on line ``i + 2``): ``label``
    (``""`` without a label column), ``name`` = ``{youtube_id}_{start:06d}_{end:06d}.mp4``
    (``""`` when a time is not a number) and ``sample_id``, the safe stem of ``name`` (of
    the youtube id when a time is not a number)."""

    label: list[str]
    name: list[str]
    sample_id: list[str]


def read_annotations(path: Path, split: str) -> Annotations:
    """A split's CSV, read with pandas (all strings, columns by name) and turned into
    lists once (per-row work on lists is several times faster than on pandas strings)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    check_columns(path, list(df.columns), split)
    start, end = _seconds(df["time_start"]), _seconds(df["time_end"])
    timed = (start != "") & (end != "")
    stem = (df["youtube_id"] + "_" + start + "_" + end).where(timed, df["youtube_id"])
    name = (stem + ".mp4").where(timed, "")
    label = df["label"].tolist() if "label" in df else [""] * len(df)
    return Annotations(label, name.tolist(), safe_ids(stem))


def split_rows(
    split: str,
    table: Annotations,
    videos: dict[str, str],
    replacement: dict[str, str],
    where: tuple[str, Path],
) -> tuple[list[dict], list[dict[str, str]], int, int]:
    """``(rows, quarantine, not downloaded, replaced)`` of one split: each CSV row whose
    file is in ``videos`` or ``replacement`` (which wins) becomes a manifest row; the
    others are quarantined (module docstring). ``where``: the CSV's name (e.g.
    ``annotations/train.csv``) and the split's video folder, for the reasons."""
    csv, folder = where
    role = ROLE[split]
    rows: list[dict] = []
    quarantine: list[dict[str, str]] = []
    seen: set[str] = set()
    missing = replaced = 0
    for line, (label, name, sid) in enumerate(
        zip(table.label, table.name, table.sample_id, strict=True), start=2
    ):
        if not name:
            why = f"{csv} line {line}: time_start / time_end is not a number"
        elif name in seen:
            why = f"{name} is listed twice in {csv} (line {line})"
        else:
            seen.add(name)
            video = replacement.get(name) or videos.get(name)
            if video is not None:
                replaced += name in replacement
                value = role if label else "unused"
                rows.append(
                    {
                        "sample_id": sid,
                        "label": label,
                        "video_path": video,
                        "audio_path": video,
                        SPLIT_COLUMN: value,
                    }
                )
                continue
            missing += 1
            why = f"not downloaded: {name}, listed in {csv}, is not in {folder}"
        quarantine.append({"sample_id": sid, "stage": "manifest", "reason": why, "label": label})
    return rows, quarantine, missing, replaced


def split_notes(split: str, listed: int, missing: int, replaced: int, unlabelled: int) -> list[str]:
    """The notes of one split: videos not downloaded, replaced, unlabelled."""
    notes = []
    if missing:
        notes.append(
            f"{split}: {missing:,} of {listed:,} listed videos not downloaded (quarantined)"
        )
    if replaced:
        notes.append(f"{split}: {replaced:,} listed videos read from {REPLACEMENT_DIR}/")
    if unlabelled:
        notes.append(
            f"{split}: {unlabelled:,} videos without a label (processed, not scored: "
            f"{SPLIT_COLUMN} = unused)"
        )
    return notes


def _rejected(rejects: list[Reject]) -> list[dict[str, str]]:
    """Quarantine rows of rejected files (no label: their class is not known)."""
    return [
        {"sample_id": safe_id(Path(path).stem), "stage": "manifest", "reason": f"{path}: {why}"}
        for path, why in rejects
    ]


def version_note(version: str, classes: list[str]) -> list[str]:
    """A note when the CSVs name another number of classes than Kinetics-``version`` has."""
    expected = VERSIONS[version]
    if len(classes) == expected:
        return []
    return [
        f"the annotations name {len(classes)} classes, Kinetics-{version} has {expected}: "
        "check dataset.options.version and the annotations folder"
    ]


def scan(
    root: Path,
    version: int | str = 400,
    arrangement: str = "auto",
    annotations: str = "annotations",
) -> Scan:
    """Manifest rows of every listed Kinetics video found under ``root`` (module
    docstring: layout, arrangements, splits, quarantine, notes)."""
    folders = check_root(root, version, arrangement, annotations)
    replacement, rejects = list_videos(root / REPLACEMENT_DIR)
    rows: list[dict] = []
    quarantine: list[dict[str, str]] = []
    notes: list[str] = []
    labels: set[str] = set()
    listed: set[str] = set()
    for split in SPLITS:
        path = root / annotations / f"{split}.csv"
        if not path.is_file():
            notes.append(f"{split}: {path} not found, no {split} videos")
            continue
        table = read_annotations(path, split)
        videos, found_rejects = list_videos(folders[split])
        names = set(table.name)
        listed |= names
        found_rejects += [
            (p, f"not listed in {annotations}/{split}.csv")
            for n, p in videos.items()
            if n not in names
        ]
        split_found, split_quarantine, missing, replaced = split_rows(
            split, table, videos, replacement, (f"{annotations}/{split}.csv", folders[split])
        )
        rows += split_found
        quarantine += split_quarantine + _rejected(found_rejects)
        labels |= set(table.label)
        unlabelled = sum(1 for r in split_found if not r["label"])
        notes += split_notes(split, len(table.name), missing, replaced, unlabelled)
    rejects += [(p, "replaces no listed video") for n, p in replacement.items() if n not in listed]
    quarantine += _rejected(rejects)
    for row, sid in zip(rows, unique_ids(r["sample_id"] for r in rows), strict=True):
        row["sample_id"] = sid
    classes = sorted(labels - {""})
    notes += version_note(version_name(version), classes)
    return Scan(
        finish_rows(rows, classes, [SPLIT_COLUMN]), [SPLIT_COLUMN], classes, quarantine, notes
    )


#: fixture classes (real Kinetics-400 names; one with a space, one with parentheses)
FIXTURE_CLASSES = ("abseiling", "air drumming", "passing American football (in game)")
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def fixture_id(i: int) -> str:
    """A reproducible 11-character id in YouTube's alphabet for ``i`` (the first character
    cycles through the alphabet, so ids starting with ``-`` and ``_`` occur)."""
    digest = hashlib.sha256(f"kinetics-fixture-{i}".encode()).digest()
    return _ID_CHARS[i % 64] + "".join(_ID_CHARS[b % 64] for b in digest[:10])


def _fixture_split(split: str, per_class: int, first: int) -> list[dict]:
    """The CSV records of one fixture split (``per_class`` per class, ids from ``first``)."""
    records = []
    for ci, label in enumerate(FIXTURE_CLASSES):
        for j in range(per_class):
            i = first + ci * per_class + j
            start = (i * 7) % 300
            records.append(
                {
                    "label": label,
                    "youtube_id": fixture_id(i),
                    "time_start": start,
                    "time_end": start + 10,
                    "split": split,
                }
            )
    return records


def write_fixture(root: Path, per_class: int = 4, val_per_class: int = 2, test: int = 3) -> Path:
    """A miniature K400 as CVDF extracts it: tiny H.264 + AAC clips (some without audio)
    in flat ``train/``, ``val/``, ``test/``; ``annotations/train.csv`` / ``val.csv``
    (``label,youtube_id,time_start,time_end,split``) and an unlabelled ``test.csv``
    (``youtube_id,time_start,time_end,split``, as K600's); the last train and val row of
    each CSV have no video (not downloaded); the first train video is also in
    ``replacement/replacement_for_corrupted_k400/``."""
    tables = {
        "train": _fixture_split("train", per_class, 62),
        "val": _fixture_split("val", val_per_class, 1000),
        "test": _fixture_split("test", 1, 2000)[:test],
    }
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, records in tables.items():
        table = pd.DataFrame(records)
        if split == "test":
            table = table.drop(columns="label")
        table.to_csv(root / "annotations" / f"{split}.csv", index=False)
        on_disk = records if split == "test" else records[:-1]
        for k, r in enumerate(on_disk):
            name = f"{r['youtube_id']}_{r['time_start']:06d}_{r['time_end']:06d}.mp4"
            tiny_video(root / split / name, seed=len(split) * 100 + k, audio=k % 3 != 2)
            if split == "train" and k == 0:
                tiny_video(root / REPLACEMENT_DIR / name, seed=1, audio=True)
    return root
