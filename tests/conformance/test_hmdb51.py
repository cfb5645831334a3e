"""HMDB51's split files as the authors ship them, typed from their sources.

The official splits (http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/
test_train_splits.rar, folder ``testTrainMulti_7030_splits/``) are one file per class and
split, ``{class}_test_split{1,2,3}.txt``; the authors' readme
(http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/split_readme.txt, quoted in
ShoufaChen/AdaptFormer issue #3) says:

    The format of each file is
    [video_name] [id]
    The video is included in the training set if id is 1
    The video is included in the testing set if id is 2
    The video is not included for training/testing if id is 0

Each file lists every video of its class, sorted by name, one per line, as
``name.avi 1 `` -- the code followed by a space before the LF. No verbatim copy of these
files is in the stored repositories searched; the lines below are the real lines with
their codes taken from giocoal/hmdb51-two-stream-action-recognition ``split1.csv``,
``split2.csv``, ``split3.csv`` (one row per line of the official files, in file order:
``index,action,title,train/test``; @ 7cb133bc986cd7e162894c41a460ec304ac17ee9 for splits
1 and 3, @ 2bb5042d17b51c511db155082fecb09f848fd0d9 for split 2), cross-checked against
xinghaochen/SqueezeTime ``data/hmdb51/hmdb51_{train,val}_split_{1,2}_videos.txt``
(mmaction2 lists built from the official files). The byte layout (trailing space, LF) is
the one the authors' files are known by, not read from a stored copy; a copy without the
trailing space is checked to read the same.

The videos are empty files: the scan only lists them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harfuse.datasets import LayoutError, scan_dataset

# brush_hair_test_split{k}.txt, lines 1, 4, 5, 9, 10 and 28 (split{k}.csv rows 0, 3, 4, 8,
# 9 and 27).
BRUSH_HAIR = {
    1: (
        b"April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n"
        b"Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ba_goo_4.avi 0 \n"
        b"Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ri_med_3.avi 1 \n"
        b"Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_ba_med_3.avi 2 \n"
        b"Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_fr_goo_1.avi 2 \n"
        b"Brushing_Her_Hair__[_NEW_AUDIO_]_UPDATED!!!!_brush_hair_h_cm_np1_le_goo_3.avi 0 \n"
    ),
    2: (
        b"April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n"
        b"Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ba_goo_4.avi 0 \n"
        b"Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ri_med_3.avi 2 \n"
        b"Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_ba_med_3.avi 1 \n"
        b"Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_fr_goo_1.avi 0 \n"
        b"Brushing_Her_Hair__[_NEW_AUDIO_]_UPDATED!!!!_brush_hair_h_cm_np1_le_goo_3.avi 1 \n"
    ),
    3: (
        b"April_09_brush_hair_u_nm_np1_ba_goo_0.avi 2 \n"
        b"Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ba_goo_4.avi 1 \n"
        b"Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ri_med_3.avi 1 \n"
        b"Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_ba_med_3.avi 1 \n"
        b"Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_fr_goo_1.avi 1 \n"
        b"Brushing_Her_Hair__[_NEW_AUDIO_]_UPDATED!!!!_brush_hair_h_cm_np1_le_goo_3.avi 0 \n"
    ),
}
# cartwheel_test_split{k}.txt, lines 1, 2 and 6 (split{k}.csv rows 107, 108 and 112).
CARTWHEEL = {
    1: (
        b"(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 1 \n"
        b"Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi 1 \n"
        b"Aerial_Cartwheel_Tutorial_By_Jujimufu_cartwheel_f_nm_np1_ri_med_0.avi 2 \n"
    ),
    2: (
        b"(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 1 \n"
        b"Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi 1 \n"
        b"Aerial_Cartwheel_Tutorial_By_Jujimufu_cartwheel_f_nm_np1_ri_med_0.avi 1 \n"
    ),
    3: (
        b"(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi 1 \n"
        b"Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi 1 \n"
        b"Aerial_Cartwheel_Tutorial_By_Jujimufu_cartwheel_f_nm_np1_ri_med_0.avi 1 \n"
    ),
}
SPLIT_FILES = {
    f"{cls}_test_split{k}.txt": files[k]
    for cls, files in (("brush_hair", BRUSH_HAIR), ("cartwheel", CARTWHEEL))
    for k in (1, 2, 3)
}
#: the one listed video left off the disk, for the quarantine
ABSENT = "brush_hair/Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_fr_goo_1.avi"

#: sample id -> (label, split1, split2, split3); ids are the file stems with runs of
#: characters outside [A-Za-z0-9.-] made one "_"
EXPECTED = {
    "April_09_brush_hair_u_nm_np1_ba_goo_0": ("brush_hair", "train", "train", "test"),
    "Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ba_goo_4": (
        "brush_hair",
        "unused",
        "unused",
        "train",
    ),
    "Aussie_Brunette_Brushing_Hair_II_brush_hair_u_nm_np1_ri_med_3": (
        "brush_hair",
        "train",
        "test",
        "train",
    ),
    "Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_ba_med_3": (
        "brush_hair",
        "test",
        "train",
        "train",
    ),
    "Brushing_Her_Hair_NEW_AUDIO_UPDATED_brush_hair_h_cm_np1_le_goo_3": (
        "brush_hair",
        "unused",
        "train",
        "unused",
    ),
    "Rad_Schlag_die_Bank_cartwheel_f_cm_np1_le_med_0": ("cartwheel", "train", "train", "train"),
    "Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8": (
        "cartwheel",
        "train",
        "train",
        "train",
    ),
    "Aerial_Cartwheel_Tutorial_By_Jujimufu_cartwheel_f_nm_np1_ri_med_0": (
        "cartwheel",
        "test",
        "train",
        "train",
    ),
}


def listed_videos(split_files: dict[str, bytes]) -> list[str]:
    """``{class}/{video}`` of every line of the split-1 files."""
    return [
        f"{name.removesuffix('_test_split1.txt')}/{line.split()[0]}"
        for name, data in split_files.items()
        if name.endswith("_test_split1.txt")
        for line in data.decode().splitlines()
    ]


def make_root(root: Path, split_files: dict[str, bytes] = SPLIT_FILES) -> Path:
    """``root/testTrainMulti_7030_splits/*`` plus, as the per-class archives of
    ``hmdb51_org.rar`` extract, ``root/{class}/{video}.avi`` for every listed video but
    ABSENT, and a macOS ``.DS_Store`` in one class folder."""
    (root / "testTrainMulti_7030_splits").mkdir(parents=True)
    for name, data in split_files.items():
        (root / "testTrainMulti_7030_splits" / name).write_bytes(data)
    for rel in listed_videos(split_files):
        if rel != ABSENT:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).touch()
    (root / "cartwheel" / ".DS_Store").touch()
    return root


def test_codes_give_train_test_and_unused_per_split(tmp_path):
    root = make_root(tmp_path / "hmdb")
    scan = scan_dataset(root, "hmdb51")
    assert scan.classes == ["brush_hair", "cartwheel"]
    assert scan.splits == ["split1", "split2", "split3"]
    rows = scan.samples.set_index("sample_id")
    assert sorted(rows.index) == sorted(EXPECTED)
    for sid, (label, *splits) in EXPECTED.items():
        row = rows.loc[sid]
        assert row["label"] == label
        assert row["label_idx"] == scan.classes.index(label)
        assert [row["split1"], row["split2"], row["split3"]] == splits
    assert rows.loc["Rad_Schlag_die_Bank_cartwheel_f_cm_np1_le_med_0", "video_path"] == str(
        root / "cartwheel" / "(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi"
    )


def test_quarantine_names_the_absent_video_and_the_stray_file(tmp_path):
    root = make_root(tmp_path / "hmdb")
    scan = scan_dataset(root, "hmdb51")
    assert scan.quarantine == [
        {
            "sample_id": "Aussie_Brunette_Brushing_Long_Hair_brush_hair_u_nm_np1_fr_goo_1",
            "stage": "manifest",
            "reason": f"{ABSENT} is in the split files but not on disk",
            "label": "brush_hair",
        },
        {
            "sample_id": "DS_Store",
            "stage": "manifest",
            "reason": f"{root / 'cartwheel' / '.DS_Store'} is in no split file",
            "label": "cartwheel",
        },
    ]


def test_lines_without_the_trailing_space_or_with_crlf_read_the_same(tmp_path):
    reference = scan_dataset(make_root(tmp_path / "ref"), "hmdb51").samples
    for name, edit in (
        ("bare", lambda data: data.replace(b" \n", b"\n")),
        ("crlf", lambda data: data.replace(b"\n", b"\r\n")),
    ):
        edited = {file: edit(data) for file, data in SPLIT_FILES.items()}
        samples = scan_dataset(make_root(tmp_path / name, edited), "hmdb51").samples
        columns = ["sample_id", "label", "split1", "split2", "split3"]
        assert samples[columns].equals(reference[columns]), name


def test_a_code_other_than_0_1_2_is_an_error_naming_file_and_video(tmp_path):
    files = dict(SPLIT_FILES)
    files["cartwheel_test_split2.txt"] = files["cartwheel_test_split2.txt"].replace(
        b"_ba_bad_8.avi 1 ", b"_ba_bad_8.avi 3 "
    )
    root = make_root(tmp_path / "hmdb", files)
    path = root / "testTrainMulti_7030_splits" / "cartwheel_test_split2.txt"
    with pytest.raises(LayoutError) as error:
        scan_dataset(root, "hmdb51")
    assert str(error.value) == (
        f"{path}: split code '3' for Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi"
        " is not 0, 1 or 2"
    )
